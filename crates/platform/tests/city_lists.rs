//! A city-wide list change: one admin call, every lot of every accessID and
//! protocol, stored as one batch; a protocol without such a message is
//! skipped and said so; a deletion reaches the lots that have the entry.

mod common;

use axum::body::Body;
use axum::http::Request;
use onepark_platform::app::{AppState, router};
use onepark_platform::config::LotAccess;
use onepark_platform::store::Store;
use serde_json::{Value, json};

async fn get(app: &axum::Router, path: &str) -> Value {
    let request = Request::get(path).header("authorization", "Bearer test-token").body(Body::empty()).expect("request");
    common::call(app, request).await.1
}

#[tokio::test]
async fn one_call_changes_every_lot_of_the_city() {
    let temp = onepark_testkit::dirs::TempDir::new("city-lists");
    let dir = temp.path().to_path_buf();
    // Qingdao accessID 234 with two parking codes, and a Bolink lot.
    let mut config = common::config(format!("sqlite://{}", dir.join("p.db").display()), dir, "234");
    config.lots.push(LotAccess::bolink("21835", "TEST-ONLY-bolink-key", "BL001", 50));
    let store = Store::connect(&config.database).await.expect("store");
    let app = router(&config, AppState::new(&config, store));

    let add = json!({ "plateNo": "鲁b-99999", "list": "black", "operate": "add",
        "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00", "remark": "全市" });
    let (status, reply) = common::admin_post(&app, "/api/admin/lists/city", add).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["lots"], 3, "1001, 1002 and BL001: {reply}");
    assert_eq!(reply["skipped"], json!([]));
    let (first, last) =
        (reply["firstRequestId"].as_i64().expect("first"), reply["lastRequestId"].as_i64().expect("last"));
    assert!(first < last);
    let listed = get(&app, "/api/admin/lists?plateNo=%E9%B2%81B99999").await;
    let mut codes: Vec<&str> =
        listed["items"].as_array().expect("items").iter().filter_map(|i| i["parkingCode"].as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["1001", "1002", "BL001"], "{listed}");

    // Bolink carries no white-list entry: skipped, and said so.
    let white = json!({ "plateNo": "鲁B88888", "list": "white", "operate": "add",
        "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00" });
    let (status, reply) = common::admin_post(&app, "/api/admin/lists/city", white).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["lots"], 2, "{reply}");
    assert_eq!(reply["skipped"][0]["parkingCode"], "BL001", "{reply}");

    // A deletion goes where the entry is; a bad time is the request's fault, for every lot at once.
    let (status, reply) = common::admin_post(
        &app,
        "/api/admin/lists/city",
        json!({ "plateNo": "鲁B88888", "list": "white", "operate": "delete" }),
    )
    .await;
    assert_eq!((status, reply["lots"].as_i64()), (200, Some(2)), "{reply}");
    let bad = json!({ "plateNo": "鲁B77777", "list": "black", "operate": "add",
        "startTime": "2026-02-01 00:00:00", "endTime": "2026-01-01 00:00:00" });
    let (status, reply) = common::admin_post(&app, "/api/admin/lists/city", bad).await;
    assert_eq!(status, 400, "{reply}");
    assert!(get(&app, "/api/admin/lists?plateNo=%E9%B2%81B77777").await["items"].as_array().is_some_and(Vec::is_empty));
}
