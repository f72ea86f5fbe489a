//! The lot gateway against a real platform over loopback: barrier decisions,
//! fees, records delivered in order after the platform comes up late, and a
//! black list from the platform applied at the barrier.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use onepark_lot::app::{LotState, router, start};
use onepark_lot::config::Config;
use onepark_testkit::config::lot_toml;
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::net::free_port;
use serde_json::{Value, json};

mod common;

struct Lot {
    state: LotState,
    url: String,
    http: reqwest::Client,
}

impl Lot {
    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("lane call");
        serde_json::from_str(&response.text().await.expect("body")).expect("JSON")
    }

    async fn get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.expect("get");
        serde_json::from_str(&response.text().await.expect("body")).expect("JSON")
    }

    async fn wait(&self, what: &str, done: impl Fn(&LotState) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(&self.state) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn lot(dir: &std::path::Path, platform_http: u16, mqtt: u16) -> Lot {
    lot_with(dir, platform_http, mqtt, "").await
}

/// A lot with `extra` TOML appended (more lanes, `[info]`).
async fn lot_with(dir: &std::path::Path, platform_http: u16, mqtt: u16, extra: &str) -> Lot {
    let url = format!("http://127.0.0.1:{platform_http}/api/v1/cp");
    let toml = lot_toml("1001", "", &dir.join("lot.db"), (3, 2), &url)
        + &format!(
            "mqtt_url = \"mqtt://127.0.0.1:{mqtt}\"\n\
             [tariff]\nfree_minutes = 15\nperiod_minutes = 60\nprice = 300\ncycle_cap = 1200\n{extra}"
        );
    let file = dir.join("lot.toml");
    std::fs::write(&file, toml).expect("config");
    let state = start(Config::load(&file).expect("lot config")).await.expect("lot starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Lot { state, url, http: reqwest::Client::new() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lot_reports_everything_even_when_the_platform_comes_late() {
    let dir = fresh_dir("gateway");
    let (http, mqtt) = (free_port(), free_port());
    // The lot starts while the platform is down.
    let lot = lot(&dir, http, mqtt).await;

    let entry = lot.post("/api/lanes/1/entry", json!({ "plateNo": "鲁B12345", "time": "2026-11-23 08:00:00" })).await;
    assert_eq!(entry["open"], true, "{entry}");
    let second = lot.post("/api/lanes/1/entry", json!({ "plateNo": "鲁B12345" })).await;
    assert_eq!(second["reason"], "already_inside", "{second}");
    let other = lot.post("/api/lanes/1/entry", json!({ "plateNo": "鲁B22222", "time": "2026-11-23 08:05:00" })).await;
    assert_eq!(other["open"], true);
    let full = lot.post("/api/lanes/1/entry", json!({ "plateNo": "鲁B33333" })).await;
    assert_eq!((full["open"].as_bool(), full["reason"].as_str()), (Some(false), Some("full")), "two open berths");
    // A month card has its own spaces; its second plate, while the first is
    // inside, parks as a temporary car (and the lot is full for those).
    let card = json!({ "id": "c1", "owner": "张三", "plates": ["鲁B55555", "鲁B55556"],
        "startTime": "2026-11-01 00:00:00", "endTime": "2026-11-30 23:59:59", "lanes": ["1"] });
    let saved = lot.post("/api/month-cards", card).await;
    assert_eq!(saved["saved"], "c1", "{saved}");
    let bad = lot
        .post("/api/month-cards", json!({ "id": "c2", "owner": "x", "plates": [], "startTime": "x", "endTime": "y" }))
        .await;
    assert!(bad["error"].as_str().is_some_and(|e| e.starts_with("plates")), "{bad}");
    let monthly = lot.post("/api/lanes/1/entry", json!({ "plateNo": "鲁B55555", "time": "2026-11-23 08:10:00" })).await;
    assert_eq!(monthly["open"], true, "{monthly}");
    let sibling = lot.post("/api/lanes/1/entry", json!({ "plateNo": "鲁B55556", "time": "2026-11-23 08:11:00" })).await;
    assert_eq!(sibling["reason"], "full", "{sibling}");
    let free = lot.post("/api/lanes/2/exit", json!({ "plateNo": "鲁B55555", "time": "2026-11-23 18:10:00" })).await;
    assert_eq!((free["open"].as_bool(), free["fee"].as_i64()), (Some(true), Some(0)), "{free}");
    // After the card's end and not ahead of the lot's clock (future event times are refused).
    let late = lot.post("/api/lanes/1/entry", json!({ "plateNo": "鲁B55555", "time": "2026-12-01 08:00:00" })).await;
    assert_eq!(late["reason"], "card_expired", "{late}");
    let wrong = lot.post("/api/lanes/2/entry", json!({ "plateNo": "鲁B33333" })).await;
    assert_eq!(wrong["reason"], "wrong_direction");

    // 1 h 30 min at 3 yuan per started hour; the exit camera misreads B as 8.
    let unpaid = lot.post("/api/lanes/2/exit", json!({ "plateNo": "鲁812345", "time": "2026-11-23 09:30:00" })).await;
    assert_eq!((unpaid["reason"].as_str(), unpaid["due"].as_i64()), (Some("unpaid"), Some(600)), "{unpaid}");
    let paid = lot
        .post("/api/lanes/2/exit", json!({ "plateNo": "鲁812345", "time": "2026-11-23 09:30:00", "paid": 600 }))
        .await;
    assert_eq!(
        (paid["open"].as_bool(), paid["fuzzy"].as_bool(), paid["fee"].as_i64()),
        (Some(true), Some(true), Some(600))
    );
    let nobody = lot.post("/api/lanes/2/exit", json!({ "plateNo": "鲁B99999" })).await;
    assert_eq!(nobody["reason"], "no_session");

    // Nothing reached the platform yet; the records wait in the outbox.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Three entries, two exits, one bill, plus the heartbeat queued at start (the first berth state
    // waits a minute).
    assert_eq!(lot.state.store().backlog("qdpark").await.expect("backlog"), (7, 0));

    // The platform is down: the day's check fails, and the day stays in line (durably, tried
    // again with backoff until it balances), shown in the status and the metrics.
    let down = lot.post("/api/reconcile", json!({ "date": "2026-11-23" })).await;
    assert!(down["error"].is_string(), "{down}");
    let status = lot.get("/api/status").await;
    let days = status["unbalancedDays"].as_array().expect("unbalancedDays");
    assert_eq!(days.len(), 1, "{status}");
    assert_eq!((days[0]["checkDate"].as_str(), days[0]["attempts"].as_i64()), (Some("2026-11-23"), Some(1)));
    assert!(!days[0]["lastOutcome"].as_str().unwrap_or_default().is_empty(), "{status}");
    let metrics =
        lot.http.get(format!("{}/metrics", lot.url)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("onepark_lot_unbalanced_days 1"), "{metrics}");

    let platform =
        common::platform(&dir, "234", &format!("listen = \"127.0.0.1:{http}\"\nmqtt_listen = \"127.0.0.1:{mqtt}\""))
            .await;
    lot.wait("the backlog to drain", |s| s.outbox_stats().delivered.load(Ordering::Relaxed) >= 7).await;
    // The counter counts acknowledgements; the sender records them in the store a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    while lot.state.store().backlog("qdpark").await.expect("backlog") != (0, 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lot.state.store().backlog("qdpark").await.expect("backlog"), (0, 0));
    let records: Value = serde_json::from_str(
        &lot.http
            .get(format!("http://{}/api/admin/records?parkingCode=1001", platform.http))
            .bearer_auth("t")
            .send()
            .await
            .expect("records")
            .text()
            .await
            .expect("body"),
    )
    .expect("JSON");
    let items = records["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{records}");
    let closed = items.iter().find(|r| r["plateNo"] == "鲁B12345").expect("the fuzzy-matched session");
    assert_eq!((closed["endTime"].as_str(), closed["shouldPay"].as_i64()), (Some("2026-11-23 09:30:00"), Some(600)));

    // Reconciliation: balanced; then the platform loses an entry and the
    // lot's check finds it, re-sends exactly that record and balances again.
    let reconciled = lot.post("/api/reconcile", json!({ "date": "2026-11-23" })).await;
    assert_eq!(reconciled["balanced"], true, "{reconciled}");
    // Balanced: no longer in line.
    let status = lot.get("/api/status").await;
    assert_eq!(status["unbalancedDays"], json!([]), "{status}");
    let first = &reconciled["passes"][0];
    assert_eq!(
        (first["arriveNum"].as_i64(), first["leaveNum"].as_i64(), first["payNum"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    let platform_db = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("p.db").display())).await.expect("db");
    let bill: (String, i64, i64) = sqlx::query_as("SELECT uid, actual_pay, paid_type FROM bills")
        .fetch_one(&platform_db)
        .await
        .expect("the exit's bill");
    assert_eq!(bill, (paid["uid"].as_str().expect("uid").to_owned(), 600, 1));
    // The platform loses the bill: the check flags bills (bit 4) and the lot re-sends it alone.
    sqlx::query("DELETE FROM bills").execute(&platform_db).await.expect("delete");
    let reconciled = lot.post("/api/reconcile", json!({ "date": "2026-11-23" })).await;
    let passes = reconciled["passes"].as_array().expect("passes");
    assert_eq!((passes[0]["accountMark"].as_i64(), passes[0]["requeued"].as_i64()), (Some(4), Some(1)), "{reconciled}");
    assert_eq!(reconciled["balanced"], true, "{reconciled}");
    let lost =
        sqlx::query("DELETE FROM entries WHERE plate_no = '鲁B22222'").execute(&platform_db).await.expect("delete");
    assert_eq!(lost.rows_affected(), 1);
    let reconciled = lot.post("/api/reconcile", json!({ "date": "2026-11-23" })).await;
    let passes = reconciled["passes"].as_array().expect("passes");
    assert_eq!((passes[0]["accountMark"].as_i64(), passes[0]["requeued"].as_i64()), (Some(1), Some(1)), "{reconciled}");
    assert_eq!(reconciled["balanced"], true, "{reconciled}");
    let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM entries").fetch_one(&platform_db).await.expect("count");
    assert_eq!(entries, 3, "backfilled once, no duplicate");

    // A black list entry from the platform closes the barrier.
    lot.wait("the downlink subscription", |s| {
        s.downlink_stats().is_some_and(|d| d.subscribed.load(Ordering::Relaxed) > 0)
    })
    .await;
    let change = json!({ "accessId": "234", "parkingCodes": ["1001"], "plateNo": "鲁B66666", "list": "black",
        "operate": "add", "startTime": "2026-01-01 00:00:00", "endTime": "2099-01-01 00:00:00" });
    let sent = lot
        .http
        .post(format!("http://{}/api/admin/lists", platform.http))
        .bearer_auth("t")
        .header("content-type", "application/json")
        .body(change.to_string())
        .send()
        .await
        .expect("admin");
    assert_eq!(sent.status(), 200);
    lot.wait("the list entry", |s| s.downlink_stats().is_some_and(|d| d.confirmed.load(Ordering::Relaxed) == 1)).await;
    let denied = lot.post("/api/lanes/1/entry", json!({ "plateNo": "鲁B66666" })).await;
    assert_eq!(denied["reason"], "blacklisted", "{denied}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A minimal JPEG (signature and end marker), Base64.
const JPEG: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2Q==";

async fn admin_get(lot: &Lot, platform: &onepark_platform::app::Spawned, path: &str) -> Value {
    let url = format!("http://{}{path}", platform.http);
    let text = lot.http.get(url).bearer_auth("t").send().await.expect("admin").text().await.expect("body");
    serde_json::from_str(&text).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_staff_actions_and_cars_without_plates_reach_the_platform() {
    let dir = fresh_dir("gateway-staff");
    let (http, mqtt) = (free_port(), free_port());
    let platform =
        common::platform(&dir, "234", &format!("listen = \"127.0.0.1:{http}\"\nmqtt_listen = \"127.0.0.1:{mqtt}\""))
            .await;
    let extra = "[[lanes]]\nid = \"3\"\ndirection = \"entry\"\nallow = [\"monthly\"]\n\
        [info]\naddress = \"市南区香港中路1号\"\nregion_code = \"370202\"\narea_code = \"01\"\n\
        fee_scale = \"每小时3元\"\nbmap_x = \"120.38\"\nbmap_y = \"36.07\"\ngmap_x = \"120.37\"\ngmap_y = \"36.06\"\n";
    let lot = lot_with(&dir, http, mqtt, extra).await;

    // A photo travels after its entry; a bad one is reported, the barrier still opens.
    let with_photo = lot
        .post("/api/lanes/1/entry", json!({ "plateNo": "鲁B10001", "time": "2026-11-23 08:00:00", "photo": JPEG }))
        .await;
    assert_eq!((with_photo["open"].as_bool(), with_photo.get("photo")), (Some(true), None), "{with_photo}");
    let bad_photo = lot
        .post(
            "/api/lanes/1/entry",
            json!({ "plateNo": "鲁B10002", "time": "2026-11-23 08:01:00", "photo": "aGVsbG8=" }),
        )
        .await;
    assert_eq!(bad_photo["open"], true, "{bad_photo}");
    assert!(bad_photo["photo"].as_str().is_some_and(|p| p.contains("JPG")), "{bad_photo}");
    // A monthly-only lane turns temporary cars away; malformed JSON is named.
    let monthly_only = lot.post("/api/lanes/3/entry", json!({ "plateNo": "鲁B10003" })).await;
    assert_eq!(monthly_only["reason"], "monthly_only", "{monthly_only}");
    let malformed = lot.post("/api/lanes/1/entry", json!("not an object")).await;
    assert_eq!(malformed["reason"], "bad_request", "{malformed}");
    let negative = lot.post("/api/lanes/2/exit", json!({ "plateNo": "鲁B10001", "paid": -5 })).await;
    assert!(negative["error"].as_str().is_some_and(|e| e.starts_with("paid")), "{negative}");

    // Two cars without a readable plate: both get sessions (the lot holds 2
    // temporary cars, so exit the photo car first).
    let out = lot
        .post("/api/lanes/2/exit", json!({ "plateNo": "鲁B10001", "time": "2026-11-23 08:10:00", "photo": JPEG }))
        .await;
    assert_eq!(out["open"], true, "{out}");
    let closed = lot.post("/api/sessions/nope/close", json!({ "reason": "x" })).await;
    assert!(closed["error"].as_str().is_some_and(|e| e.starts_with("uid")), "{closed}");
    let open = lot.get("/api/sessions?state=open").await;
    let stale_uid = open["items"][0]["uid"].as_str().expect("the open session").to_owned();
    let no_reason = lot.post(&format!("/api/sessions/{stale_uid}/close"), json!({ "reason": " " })).await;
    assert!(no_reason["error"].as_str().is_some_and(|e| e.starts_with("reason")), "{no_reason}");
    let closed = lot
        .post(
            &format!("/api/sessions/{stale_uid}/close"),
            json!({ "reason": "跟车离场", "time": "2026-11-23 09:00:00" }),
        )
        .await;
    assert_eq!(closed["shouldPay"], 0, "{closed}");
    let first = lot.post("/api/lanes/1/entry", json!({ "plateNo": "", "time": "2026-11-23 10:00:00" })).await;
    // Cameras send what they have: null, empty, their own extra fields.
    let second = lot
        .post("/api/lanes/1/entry", json!({ "plateNo": "无牌", "time": "2026-11-23 10:01:00", "confidence": 0.4 }))
        .await;
    let unread = lot.post("/api/lanes/1/entry", json!({ "plateNo": null, "time": "" })).await;
    assert_eq!((unread["open"].as_bool(), unread["plateNo"].as_str()), (Some(false), None), "lot full: {unread}");
    assert_eq!(unread["reason"], "full", "{unread}");
    assert_eq!((first["plateNo"].as_str(), first["unresolved"].as_bool()), (Some("未识别"), Some(true)), "{first}");
    assert_eq!((second["plateNo"].as_str(), second["open"].as_bool()), (Some("无车牌"), Some(true)), "{second}");
    let unresolved = lot.get("/api/sessions?unresolved=true&state=open").await;
    assert_eq!(unresolved["items"].as_array().map(Vec::len), Some(2), "{unresolved}");
    // Staff resolve the first (plate correction), the second leaves by its uid.
    let (first_uid, second_uid) = (first["uid"].as_str().expect("uid"), second["uid"].as_str().expect("uid"));
    let typo = lot.post(&format!("/api/sessions/{first_uid}/plate"), json!({ "plateNo": "鲁" })).await;
    assert!(typo["error"].as_str().is_some_and(|e| e.starts_with("plateNo")), "{typo}");
    let fixed = lot.post(&format!("/api/sessions/{first_uid}/plate"), json!({ "plateNo": "鲁B-77777" })).await;
    assert_eq!(fixed["plateNo"], "鲁B77777", "{fixed}");
    let no_plate_out =
        lot.post("/api/lanes/2/exit", json!({ "plateNo": "无车牌", "time": "2026-11-23 10:05:00" })).await;
    assert_eq!(no_plate_out["reason"], "no_session", "{no_plate_out}");
    let by_uid = lot
        .post("/api/lanes/2/exit", json!({ "plateNo": "无车牌", "uid": second_uid, "time": "2026-11-23 10:05:00" }))
        .await;
    assert_eq!((by_uid["open"].as_bool(), by_uid["matchedBy"].as_str()), (Some(true), Some("uid")), "{by_uid}");
    let manual = lot.post("/api/lanes/2/open", json!({ "reason": "救护车", "operator": "01C001" })).await;
    assert_eq!(manual["open"], true, "{manual}");
    let unexplained = lot.post("/api/lanes/2/open", json!({ "reason": "" })).await;
    assert_eq!(unexplained["reason"], "bad_request", "{unexplained}");

    // Everything reaches the platform: corrected plate, photos, parking info.
    let deadline = Instant::now() + Duration::from_secs(60);
    while lot.state.store().backlog("qdpark").await.expect("backlog").0 > 0 {
        assert!(Instant::now() < deadline, "outbox did not drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lot.state.store().backlog("qdpark").await.expect("backlog").1, 0, "nothing refused");
    let records = admin_get(&lot, &platform, "/api/admin/records?parkingCode=1001&plateNo=鲁B77777").await;
    assert_eq!(records["items"].as_array().map(Vec::len), Some(1), "{records}");
    let platform_db = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("p.db").display())).await.expect("db");
    let photos: Vec<(String, i64)> = sqlx::query_as("SELECT photo_id, photo_type FROM photos ORDER BY photo_id")
        .fetch_all(&platform_db)
        .await
        .expect("photos");
    let entry_uid = with_photo["uid"].as_str().expect("uid");
    assert_eq!(photos, [(format!("{entry_uid}-1"), 1), (format!("{entry_uid}-2"), 2)]);
    let info: String =
        sqlx::query_scalar("SELECT content FROM parking_info").fetch_one(&platform_db).await.expect("info");
    assert!(info.contains("市南区香港中路1号") && info.contains("\"tempTotalNum\":2"), "{info}");

    // The platform loses a photo: the check flags it and the lot re-sends it alone.
    sqlx::query("DELETE FROM photos WHERE photo_type = 2").execute(&platform_db).await.expect("delete");
    let reconciled = lot.post("/api/reconcile", json!({ "date": "2026-11-23" })).await;
    let passes = reconciled["passes"].as_array().expect("passes");
    assert_eq!((passes[0]["photoMark"].as_i64(), passes[0]["requeued"].as_i64()), (Some(1), Some(1)), "{reconciled}");
    assert_eq!(reconciled["balanced"], true, "{reconciled}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM photos").fetch_one(&platform_db).await.expect("count");
    assert_eq!(count, 2);
    let metrics = lot.http.get(format!("{}/metrics", lot.url)).send().await.expect("metrics").text().await.expect("b");
    assert!(metrics.contains("onepark_lot_outbox_latency_seconds_bucket{le=\"+Inf\"}"), "{metrics}");
    let _ = std::fs::remove_dir_all(&dir);
}
