//! The gateway on a manual clock: a lane event without a time happens at
//! the clock's time, and fees follow the clock when a test moves it.

use axum::body::Body;
use axum::http::Request;
use onepark_lot::app::{LotState, router, start_with_clock};
use onepark_lot::config::Config;
use onepark_serve::clock::Clock;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn post(state: &LotState, path: &str, body: Value) -> Value {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = router(state.clone()).oneshot(request).await.expect("answer");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn lane_events_and_fees_follow_the_gateways_clock() {
    let temp = onepark_testkit::dirs::TempDir::new("lot-clock");
    let dir = temp.path().to_path_buf();
    // No platform listens there: records wait in the outbox.
    let toml = format!(
        "parking_code = \"1001\"\ndatabase = \"sqlite://{db}\"\n[berths]\ntotal = 10\nopen = 10\n\
         [[lanes]]\nid = \"1\"\ndirection = \"entry\"\n[[lanes]]\nid = \"2\"\ndirection = \"exit\"\n\
         [tariff]\nfree_minutes = 15\nperiod_minutes = 60\nprice = 300\ncycle_cap = 1200\n\
         [platform]\nurl = \"http://127.0.0.1:9/api/v1/cp\"\naccess_id = \"234\"\n\
         private_key = \"{private}\"\nplatform_public_key = \"{public}\"\n",
        db = dir.join("lot.db").display(),
        private = onepark_testkit::keys::key_path("lot_private.b64").display(),
        public = onepark_testkit::keys::key_path("platform_public.b64").display(),
    );
    std::fs::write(dir.join("lot.toml"), toml).expect("config");
    let config = Config::load(&dir.join("lot.toml")).expect("config");
    let tariff = config.tariff.clone();
    // 2026-11-23 10:00:00 in Qingdao (UTC+8).
    let clock = Clock::manual(chrono::DateTime::from_timestamp(1_795_399_200, 0).expect("time"));
    let state = start_with_clock(config, clock.clone()).await.expect("start");

    let entered = post(&state, "/api/lanes/1/entry", json!({ "plateNo": "鲁B12345" })).await;
    let uid = entered["uid"].as_str().expect("uid");
    assert!(uid.starts_with("1001120261123100000"), "the uid carries the clock's time: {entered}");

    clock.advance(chrono::Duration::minutes(10));
    let free = post(&state, "/api/lanes/2/exit", json!({ "plateNo": "鲁B12345" })).await;
    assert_eq!((free["open"].as_bool(), free["fee"].as_i64()), (Some(true), Some(0)), "within free minutes: {free}");

    post(&state, "/api/lanes/1/entry", json!({ "plateNo": "鲁B67890" })).await;
    clock.advance(chrono::Duration::hours(2));
    let held = post(&state, "/api/lanes/2/exit", json!({ "plateNo": "鲁B67890" })).await;
    let at = |t: &str| onepark_domain::time::parse_time(t).expect("time");
    let expected = tariff.fee(1, at("2026-11-23 10:10:00"), at("2026-11-23 12:10:00")).get();
    assert!(expected > 0);
    assert_eq!((held["open"].as_bool(), held["fee"].as_i64()), (Some(false), Some(expected)), "{held}");
}
