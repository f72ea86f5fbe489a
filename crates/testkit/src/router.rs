//! Requests through an axum `Router` in process (tower's `oneshot`): no
//! socket, no port; the whole answer kept for the test to look at.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request};
use serde_json::Value;
use tower::ServiceExt;

/// A response's status, headers and body.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (it must be JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json reply")
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Header `name`, when set (and text).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap_or_default().to_owned())
    }
}

/// Sends `request` through `app`.
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.expect("response");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = axum::body::to_bytes(response.into_body(), 1 << 22).await.expect("body");
    Reply { status, headers, body }
}
