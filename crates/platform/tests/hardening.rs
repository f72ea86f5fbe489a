//! What an adversarial probe found (hardening issue), one test per finding,
//! through the router with the platform's real defaults for times.

mod common;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use onepark_platform::app::{AppState, router};
use onepark_platform::config::{Config, Limits};
use onepark_platform::store::Store;
use onepark_testkit::dirs::TempDir;
use onepark_testkit::pg::PgSchema;
use onepark_testkit::router::send;
use onepark_testkit::uplink::{self, Lot};
use serde_json::{Value, json};

struct Platform {
    app: axum::Router,
    dir: TempDir,
    lot: Lot,
}

impl Platform {
    async fn new(tag: &str, tune: impl FnOnce(&mut Config)) -> Platform {
        let dir = TempDir::new(&format!("hardening-{tag}"));
        let mut config = common::config(format!("sqlite://{}", dir.join("p.db").display()), dir.to_path_buf(), "234");
        config.limits = Limits::default();
        tune(&mut config);
        let store = Store::connect(&config.database).await.expect("store");
        let app = router(&config, AppState::new(&config, store));
        Platform { app, dir, lot: Lot::new() }
    }

    fn seal(&self, access_id: &str, data: &Value, file: Option<&[u8]>) -> String {
        self.lot.seal(access_id, data, file)
    }

    /// (HTTP status, Retry-After, reply)
    async fn post(&self, interface: &str, body: String) -> (u16, Option<String>, Value) {
        let reply = uplink::post(&self.app, interface, body).await;
        (reply.status, reply.header("retry-after"), reply.json())
    }

    async fn send(&self, interface: &str, data: &Value) -> (u16, Option<String>, Value) {
        self.post(interface, self.seal("234", data, None)).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let reply = send(&self.app, request.body(Body::empty()).expect("request")).await;
        (reply.status, reply.text())
    }

    fn photo_files(&self) -> usize {
        fn count(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir)
                .map(|entries| entries.flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum())
                .unwrap_or(0)
        }
        count(&self.dir.join("photos"))
    }
}

fn now() -> chrono::NaiveDateTime {
    onepark_domain::time::Zone::default().local(chrono::Utc::now())
}

fn at(offset_secs: i64) -> String {
    onepark_domain::time::format_time(now() + chrono::Duration::seconds(offset_secs))
}

fn entry(uid: &str, arrive: &str) -> Value {
    json!({ "uid": uid, "arrivalID": "1", "plateNo": "鲁B01C01", "carType": 1, "parkingCode": "1001",
        "entryNum": "1", "totalBerthNum": 150, "openBerthNum": 130, "freeBerthNum": 70, "arriveTime": arrive,
        "parkingType": 1, "plateColor": 1, "uploadTime": at(0) })
}

fn state(free: i64, upload: &str) -> Value {
    json!({ "parkingCode": "1001", "totalBerthNum": 150, "openBerthNum": 130, "freeBerthNum": free,
        "uploadTime": upload })
}

fn code(reply: &Value) -> &str {
    reply["resultCode"].as_str().unwrap_or_default()
}

fn msg(reply: &Value) -> &str {
    reply["msg"].as_str().unwrap_or_default()
}

/// Bug 4: throttling was answered resultCode 400 (lots set such records
/// aside) for every node of the accessID.
#[tokio::test]
async fn throttling_is_retryable_and_holds_off_only_the_offending_node() {
    let p = Platform::new("throttle", |_| {}).await;
    for _ in 0..11 {
        let body = p.lot.seal_text("234_2", "not json at all", None);
        let (_, _, reply) = p.post("uploadHeartbeat", body).await;
        assert_eq!(code(&reply), "400", "{reply}");
    }
    let heartbeat = json!({ "parkingCode": "1001", "uploadTime": at(0) });
    let (status, retry, reply) = p.post("uploadHeartbeat", p.seal("234_2", &heartbeat, None)).await;
    assert_eq!((status, code(&reply)), (429, "500"), "{reply}");
    assert!(retry.and_then(|r| r.parse::<u64>().ok()).is_some_and(|s| (1..=60).contains(&s)), "Retry-After");
    let (status, _, reply) = p.send("uploadHeartbeat", &heartbeat).await;
    assert_eq!((status, code(&reply)), (200, "200"), "the other nodes go on: {reply}");
}

/// Bug 2: times were unbounded, and one far-future state froze the lot's
/// berth status for ever.
#[tokio::test]
async fn times_are_bounded_and_a_clock_ahead_cannot_freeze_the_latest_state() {
    let p = Platform::new("times", |_| {}).await;
    for far in ["9999-12-31 23:59:59", "0000-01-01 00:00:00", &at(3600)] {
        let (_, _, reply) = p.send("uploadCarInData", &entry(&format!("t-{}", &far[..4]), far)).await;
        assert_eq!(code(&reply), "400", "{far}: {reply}");
        assert!(msg(&reply).contains("arriveTime"), "{reply}");
    }
    let (_, _, reply) = p.send("uploadCarInData", &entry("t-old", "2021-07-01 08:00:00")).await;
    assert_eq!(code(&reply), "200", "far past is stored (a finding): {reply}");

    // A lot whose clock runs 9 minutes ahead (inside the window), then true states.
    let (_, _, reply) = p.send("uploadParkingState", &state(1, &at(540))).await;
    assert_eq!(code(&reply), "200", "{reply}");
    let (_, _, reply) = p.send("uploadParkingState", &state(2, &at(0))).await;
    assert_eq!(code(&reply), "200", "{reply}");
    let (_, lots) = p.get("/api/admin/lots", Some("test-token")).await;
    let lots: Value = serde_json::from_str(&lots).expect("json");
    let lot = lots["lots"].as_array().and_then(|l| l.iter().find(|l| l["parkingCode"] == "1001")).expect("lot");
    assert_eq!(lot["freeBerths"], json!(2), "the true state wins: {lot}");

    let (_, metrics) = p.get("/metrics", None).await;
    assert!(metrics.contains("onepark_uplink_findings_total{kind=\"far_past\"} 1"), "{metrics}");
}

/// Replays cost an RSA decryption each and were accepted for ever.
#[tokio::test]
async fn stale_upload_times_are_retryable_and_exact_replays_are_refused_cheaply() {
    let p = Platform::new("replay", |_| {}).await;
    let (status, retry, reply) =
        p.send("uploadHeartbeat", &json!({ "parkingCode": "1001", "uploadTime": at(-1800) })).await;
    assert_eq!((status, code(&reply), retry.as_deref()), (503, "500", Some("60")), "{reply}");
    assert!(msg(&reply).contains("相差 -18") && reply["serverTime"].is_string(), "{reply}");

    let body = p.seal("234", &json!({ "parkingCode": "1001", "uploadTime": at(0) }), None);
    let (_, _, first) = p.post("uploadHeartbeat", body.clone()).await;
    assert_eq!(code(&first), "200", "{first}");
    let (status, _, again) = p.post("uploadHeartbeat", body).await;
    assert_eq!((status, code(&again)), (200, "400"), "{again}");
    assert!(msg(&again).contains("重复提交"), "{again}");
    let (_, metrics) = p.get("/metrics", None).await;
    assert!(metrics.contains("onepark_uplink_replays_total 1"), "{metrics}");
}

fn jpeg(fill: u8) -> Vec<u8> {
    [0xFF, 0xD8, 0xFF, 0xE0].into_iter().chain(std::iter::repeat_n(fill, 2000)).chain([0xFF, 0xD9]).collect()
}

/// The photo's own time, fixed once: a re-upload of "the same photo" a
/// second later must carry the same content (it failed when the test
/// straddled a second under load).
static SHOT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| at(-5));

fn photo(id: &str) -> Value {
    json!({ "uid": "ph-1", "parkingCode": "1001", "photoID": id, "time": *SHOT, "type": 1,
        "name": format!("{id}.jpg"), "uploadTime": at(0) })
}

/// Bug 3: uploadPhoto wrote the file before checking for a conflict, so
/// replays with other files filled the disk with orphans. The file is still
/// written before the row's insert finds the conflict (a read first cost
/// every new photo a round trip), and removed before the answer.
#[tokio::test]
async fn photo_replays_with_other_files_leave_no_file_behind() {
    let p = Platform::new("photo", |c| c.limits.photos_per_minute = 5).await;
    let original = p.seal("234", &photo("P1"), Some(&jpeg(1)));
    let (_, _, reply) = p.post("uploadPhoto", original.clone()).await;
    assert_eq!(code(&reply), "200", "{reply}");
    assert_eq!(p.photo_files(), 1);

    // The captured request, its file swapped (the file is outside the signature).
    let swapped = format!(
        "{}&file={}",
        original.split("&file=").next().expect("form"),
        form_urlencoded::byte_serialize(base64::engine::general_purpose::STANDARD.encode(jpeg(2)).as_bytes())
            .collect::<String>()
    );
    let (_, _, reply) = p.post("uploadPhoto", swapped).await;
    assert_eq!(code(&reply), "400", "{reply}");
    // The same photoID with another file, freshly sealed: a conflict, its file removed.
    let (_, _, reply) = p.post("uploadPhoto", p.seal("234", &photo("P1"), Some(&jpeg(3)))).await;
    assert_eq!(code(&reply), "400", "{reply}");
    assert!(msg(&reply).contains("已存在且内容不同"), "{reply}");
    assert_eq!(p.photo_files(), 1, "no orphan files");
    // An identical re-upload (new seal) is a duplicate and writes nothing.
    let (_, _, reply) = p.post("uploadPhoto", p.seal("234", &photo("P1"), Some(&jpeg(1)))).await;
    assert_eq!(code(&reply), "200", "{reply}");

    // The per-accessID budget (5 a minute here) is retryable when spent.
    let mut statuses = Vec::new();
    for i in 0..3 {
        let (status, _, reply) = p.post("uploadPhoto", p.seal("234", &photo(&format!("Q{i}")), Some(&jpeg(9)))).await;
        statuses.push((status, code(&reply).to_owned()));
    }
    assert_eq!(statuses.last(), Some(&(429, "500".to_owned())), "{statuses:?}");
}

/// Control characters were stored in uid and plateNo and returned by downloadUID.
#[tokio::test]
async fn control_characters_are_refused_with_the_field_named() {
    let p = Platform::new("control", |_| {}).await;
    let mut e = entry("c-1", &at(-5));
    e["plateNo"] = json!("鲁B0\u{0}1C01");
    let (_, _, reply) = p.send("uploadCarInData", &e).await;
    assert_eq!(code(&reply), "400", "{reply}");
    assert!(msg(&reply).contains("plateNo") && msg(&reply).contains("控制字符"), "{reply}");
    let mut e = entry("c-\u{1b}[2J", &at(-5));
    e["plateNo"] = json!("鲁B01C01");
    let (_, _, reply) = p.send("uploadCarInData", &e).await;
    assert!(code(&reply) == "400" && msg(&reply).contains("uid"), "{reply}");
}

/// Attacker-chosen text was echoed whole and logged at INFO for each request.
#[tokio::test]
async fn unauthenticated_refusals_are_bounded_and_counted() {
    let p = Platform::new("echo", |_| {}).await;
    let huge = "X".repeat(900_000);
    let body = format!("accessID={huge}&cipher=AAAA&sign=AAAA");
    let (_, _, reply) = p.post("uploadHeartbeat", body).await;
    assert_eq!(code(&reply), "400");
    assert!(msg(&reply).len() < 300, "the accessID is echoed cut short: {} bytes", msg(&reply).len());
    let (_, metrics) = p.get("/metrics", None).await;
    assert!(metrics.contains("onepark_uplink_unauthenticated_total{step=\"access_id\"} 1"), "{metrics}");
}

/// `/metrics` named every accessID to anyone; `page` overflowed silently.
#[tokio::test]
async fn metrics_can_require_a_token_and_page_overflow_is_refused() {
    let p = Platform::new("metrics", |c| c.metrics_token = Some("scrape-secret".into())).await;
    assert_eq!(p.get("/metrics", None).await.0, 401);
    assert_eq!(p.get("/metrics", Some("wrong")).await.0, 401);
    let (status, text) = p.get("/metrics", Some("scrape-secret")).await;
    assert!(status == 200 && text.contains("onepark_uplink_requests_total"), "{status}");
    let (status, body) =
        p.get(&format!("/api/admin/records?page={}&pageSize=500", i64::MAX / 2), Some("test-token")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("page"), "{body}");
}

/// Bug 5: on PostgreSQL, concurrent group-commit batches locked the same
/// lots' rows in different orders; PostgreSQL broke each cycle after a
/// second and the lots heard 500. Hundreds of concurrent entries over many
/// lots, and over one lot, must all be answered 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingest_on_postgres_never_deadlocks() {
    let Some(pg) = PgSchema::new("concurrent_ingest_on_postgres_never_deadlocks").await else { return };
    let url = pg.url.clone();
    let codes: Vec<String> = (0..40).map(|i| format!("D{i}")).collect();
    let p = Platform::new("deadlock", |c| {
        c.database = url.clone();
        c.lots[0].parking_codes = codes.clone();
    })
    .await;
    for (round, spread) in [(0, 40), (1, 1)] {
        let bodies: Vec<String> = (0..400)
            .map(|i| {
                let mut e = entry(&format!("dl{round}-{i}"), &at(-5));
                e["parkingCode"] = json!(codes[i % spread]);
                e["freeBerthNum"] = json!(i % 100);
                p.seal("234", &e, None)
            })
            .collect();
        let replies = futures_util::future::join_all(bodies.into_iter().map(|b| p.post("uploadCarInData", b))).await;
        let failed: Vec<_> = replies.iter().filter(|(_, _, r)| code(r) != "200").collect();
        assert!(failed.is_empty(), "{} of 400 not stored over {spread} lots, e.g. {:?}", failed.len(), failed.first());
    }
    drop(p);
    pg.drop().await;
}

/// Noticed while chasing a flaky MQTT test: a lot lookup that failed in the
/// store read as "unknown accessID", a permanent refusal (resultCode 400)
/// that makes a lot set its record aside. A storage failure is retryable.
#[tokio::test]
async fn a_lot_lookup_the_store_cannot_answer_is_retryable_not_unknown() {
    let dir = TempDir::new("hardening-lookup");
    let config = common::config(format!("sqlite://{}", dir.join("p.db").display()), dir.to_path_buf(), "234");
    let store = Store::connect(&config.database).await.expect("store");
    let app = router(&config, AppState::new(&config, store.clone()));
    let p = Platform { app, dir, lot: Lot::new() };
    // 235 is not in the config: it is looked up in the store, which is gone.
    store.pool().close().await;
    let (_, _, reply) = p.post("uploadCarInData", p.seal("235", &entry("lookup-1", &at(-5)), None)).await;
    assert_eq!(code(&reply), "500", "{reply}");
    assert!(!msg(&reply).contains("未知的接入方"), "{reply}");
}
