//! `/metrics` for Prometheus (behind `metrics_token` when one is set).

use crate::state::AppState;

pub async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(token) = &state.metrics_token() {
        let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !crate::secret::same_secret(given, &format!("Bearer {token}")) {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Bearer")],
                "metrics_token required\n",
            )
                .into_response();
        }
    }
    // Lots' days of the last 30 whose last daily check did not balance (-1: unreadable).
    let since = state.now().date() - chrono::Duration::days(30);
    let unbalanced = state.store().unbalanced_checks(since).await.map_or(-1, |d| d.len() as i64);
    let text = state.metrics().render(state.store().commit_stats(), unbalanced);
    ([("content-type", onepark_serve::metrics::CONTENT_TYPE)], text).into_response()
}
