//! The payment channel's notifications (`POST /api/pay/notify`): verified,
//! then applied once by the city's payment logic.

use crate::state::AppState;

/// The payment channel's notifications: 200 once recorded (the channel stops
/// delivering), 401 for a bad signature, 500 to have it delivered again.
pub async fn notify(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let signature = headers.get(onepark_pay::sign::HEADER).and_then(|v| v.to_str().ok());
    match crate::city::payments::notified(&state, &body, signature).await {
        Ok(()) => axum::Json(serde_json::json!({ "code": "SUCCESS" })).into_response(),
        Err(e) if e.contains("signature") || e.contains("notification body") => {
            (axum::http::StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({ "error": e }))).into_response()
        }
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({ "error": e })))
            .into_response(),
    }
}
