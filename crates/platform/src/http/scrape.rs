//! `/metrics` for Prometheus (behind `metrics_token` when one is set) and
//! `/healthz` for load balancers.

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

/// `GET /healthz`, what a load balancer checks: 200 while this node can
/// reach its database (within 2 s), else 503, so the balancer sends the
/// lots elsewhere (or, the database down for all, answers 503 itself).
/// Open to anyone: it says only the node's name.
pub async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), state.store().ping()).await;
    match ping {
        Ok(Ok(())) => (axum::http::StatusCode::OK, format!("ok {}\n", state.node())).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
        Err(_) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "database did not answer within 2 s\n").into_response(),
    }
}
