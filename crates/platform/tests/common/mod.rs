//! Helpers shared by the platform's integration tests (the rest is in
//! onepark-testkit).

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

use axum::body::Body;
use axum::http::Request;
use onepark_platform::config::{Config, LotAccess};
use onepark_proto::Profile;
use serde_json::Value;

/// One lot `access_id` with parking codes 1001 and 1002, the test keys, no
/// broker, admin token `test-token`.
pub fn config(database: String, dir: PathBuf, access_id: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database,
        zone: Default::default(),
        path_prefix: onepark_testkit::uplink::PREFIX.into(),
        photo_dir: dir.join("photos"),
        body_limit_bytes: onepark_platform::config::DEFAULT_BODY_LIMIT,
        private_key: Some(onepark_testkit::keys::platform_private()),
        lots: vec![LotAccess::qdpark(
            access_id,
            onepark_testkit::keys::lot_public(),
            Profile::Qingdao,
            vec!["1001".into(), "1002".into()],
        )],
        admin_token: Some("test-token".into()),
        mqtt_url: None,
        mqtt_listen: None,
        downlink_retry: chrono::Duration::hours(24),
        metrics_listen: None,
        metrics_token: None,
        public_url: "http://127.0.0.1:8080".into(),
        // Fixtures are dated 2021: no freshness window on uploadTime here.
        limits: onepark_platform::config::Limits { upload_time_window: None, ..Default::default() },
        // The tests' payments go through the in-process sandbox (play money).
        payments: onepark_platform::config::Payments {
            channel: onepark_platform::config::ChannelKind::Sandbox,
            ..Default::default()
        },
        dashboard: Default::default(),
        cloud_topics: Default::default(),
        bolink: Default::default(),
        node_name: "test".into(),
    }
}

/// Sends a request through the router; the reply must be JSON.
pub async fn call(app: &axum::Router, request: Request<Body>) -> (u16, Value) {
    let reply = onepark_testkit::router::send(app, request).await;
    (reply.status, reply.json())
}

/// An admin API POST with the test token.
pub async fn admin_post(app: &axum::Router, path: &str, body: Value) -> (u16, Value) {
    let request = Request::post(path)
        .header("authorization", "Bearer test-token")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    call(app, request).await
}
