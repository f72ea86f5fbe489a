//! Helpers shared by the platform's integration tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::Request;
use onepark_platform::config::{Config, LotAccess};
use onepark_proto::{PrivateKey, Profile, PublicKey};
use serde_json::Value;
use tower::ServiceExt;

/// A published test key of the interop fixtures.
pub fn key(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys").join(name);
    std::fs::read_to_string(path).expect("test key")
}

/// One lot `access_id` with parking codes 1001 and 1002, the test keys, no
/// broker, admin token `test-token`.
pub fn config(database: String, dir: PathBuf, access_id: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database,
        zone: Default::default(),
        path_prefix: "/api/v1/cp".into(),
        photo_dir: dir.join("photos"),
        body_limit_bytes: onepark_platform::config::DEFAULT_BODY_LIMIT,
        private_key: Some(PrivateKey::parse(&key("platform_private.b64")).expect("platform key")),
        lots: vec![LotAccess::qdpark(
            access_id,
            PublicKey::parse(&key("lot_public.b64")).expect("lot key"),
            Profile::Qingdao,
            vec!["1001".into(), "1002".into()],
        )],
        admin_token: Some("test-token".into()),
        mqtt_url: None,
        mqtt_listen: None,
        downlink_retry: chrono::Duration::hours(24),
        metrics_listen: None,
        metrics_token: None,
        // Fixtures are dated 2021: no freshness window on uploadTime here.
        limits: onepark_platform::config::Limits { upload_time_window: None, ..Default::default() },
        // The tests' payments go through the in-process sandbox (play money).
        payments: onepark_platform::config::Payments {
            channel: onepark_platform::config::ChannelKind::Sandbox,
            ..Default::default()
        },
        dashboard: Default::default(),
    }
}

/// Sends a request through the router; the reply must be JSON.
pub async fn call(app: &axum::Router, request: Request<Body>) -> (u16, Value) {
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("json reply"))
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

/// A PostgreSQL schema of the test's own (so runs never see each other's
/// rows), when `DATABASE_URL` is set; `None` prints the skip notice.
pub struct PgSchema {
    pub url: String,
    name: String,
    admin: sqlx::AnyPool,
}

impl PgSchema {
    pub async fn new(test: &str) -> Option<PgSchema> {
        let Ok(base) = std::env::var("DATABASE_URL") else {
            eprintln!("SKIPPED {test}: DATABASE_URL is not set");
            return None;
        };
        let name = format!("onepark_test_{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base).await.expect("postgres");
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&admin).await.expect("schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Some(PgSchema { url, name, admin })
    }

    pub async fn drop(self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name)).execute(&self.admin).await.expect("drop");
    }
}
