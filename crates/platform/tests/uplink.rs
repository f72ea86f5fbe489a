//! The uplink pipeline through the router, on SQLite always and on
//! PostgreSQL when DATABASE_URL is set.

mod common;

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use onepark_domain::record::Kind;
use onepark_platform::app::{AppState, router};
use onepark_platform::store::{Store, Table};
use onepark_testkit::dirs::TempDir;
use onepark_testkit::pg::PgSchema;
use onepark_testkit::router::send;
use onepark_testkit::uplink::{self, Lot};
use serde_json::Value;

struct Harness {
    app: axum::Router,
    store: Store,
    lot: Lot,
    _dir: TempDir,
}

impl Harness {
    async fn new(database: String) -> Harness {
        let dir = TempDir::new("platform");
        let config = common::config(database, dir.to_path_buf(), "234");
        let store = Store::connect(&config.database).await.expect("store");
        let app = router(&config, AppState::new(&config, store.clone()));
        Harness { app, store, lot: Lot::new(), _dir: dir }
    }

    fn seal_with_file(&self, plaintext: &str, file: &str) -> String {
        self.lot.seal_text("234", plaintext, Some(file.into()))
    }

    fn seal(&self, access_id: &str, plaintext: &str) -> String {
        self.lot.seal_text(access_id, plaintext, None)
    }

    async fn post(&self, interface: &str, body: String) -> (u16, Value) {
        let reply = uplink::post(&self.app, interface, body).await;
        (reply.status, reply.json())
    }

    async fn admin(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        common::call(&self.app, request.body(Body::empty()).expect("request")).await
    }

    async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        common::admin_post(&self.app, path, body).await
    }

    async fn send(&self, interface: &str, data: &str) -> Value {
        let (status, reply) = self.post(interface, self.seal("234", &format!("{{\"data\":{data}}}"))).await;
        assert_eq!(status, 200, "{interface}: {reply}");
        reply
    }
}

fn entry(code: &str, uid: &str, plate: &str) -> String {
    format!(
        r#"{{"uid":"{uid}","arrivalID":"1","plateNo":"{plate}","carType":1,"parkingCode":"{code}","entryNum":"1",
        "totalBerthNum":150,"openBerthNum":130,"freeBerthNum":70,"arriveTime":"2021-07-01 08:00:00","parkingType":1,
        "plateColor":1,"uploadTime":"2021-07-01 08:00:01"}}"#
    )
}

fn exit(code: &str, uid: &str) -> String {
    format!(
        r#"{{"uid":"{uid}","exitID":"9","plateNo":"鲁B01C01","carType":1,"parkingCode":"{code}","totalBerthNum":150,
        "openBerthNum":130,"freeBerthNum":71,"arriveTime":"2021-07-01 08:00:00","parkingType":1,
        "endTime":"2021-07-01 10:00:00","entryNum":"1","outNum":"2","plateColor":1,"uploadTime":"2021-07-01 10:00:01",
        "chargeFee":800,"shouldPay":800}}"#
    )
}

fn code(reply: &Value) -> &str {
    reply["resultCode"].as_str().unwrap_or_default()
}

fn msg(reply: &Value) -> &str {
    reply["msg"].as_str().unwrap_or_default()
}

/// The overview's counts of today, kept as records are written, follow a
/// modification out of the day and a deletion, and agree with
/// reconciliation's counts of the raw records.
async fn today_counts(h: &Harness, tag: &str) {
    let c = "1001";
    let now = onepark_domain::time::Zone::default().local(chrono::Utc::now());
    let today = now.date();
    let (early, late) = (format!("{today} 00:00:01"), onepark_domain::time::format_time(now));
    if late <= early {
        return; // the first second of a day: nothing of today can be in the past yet
    }
    let dated = |text: String| {
        text.replace("2021-07-01 08:00:00", &early)
            .replace("2021-07-01 10:00:00", &late)
            .replace("2021-07-01 08:00:01", &late)
            .replace("2021-07-01 10:00:01", &late)
    };
    let (a, b) = (format!("{tag}-t1"), format!("{tag}-t2"));
    for uid in [&a, &b] {
        assert_eq!(code(&h.send("uploadCarInData", &dated(entry(c, uid, "鲁B02C02"))).await), "200");
    }
    assert_eq!(code(&h.send("uploadCarOutData", &dated(exit(c, &a))).await), "200");
    assert_eq!(code(&h.send("uploadCarOutData", &dated(exit(c, &format!("{tag}-t3")))).await), "200");
    let counted = |rows: Vec<onepark_platform::store::LotDay>| {
        rows.into_iter().find(|r| r.parking_code == c).map(|r| (r.entries, r.exits, r.orphan_exits))
    };
    assert_eq!(counted(h.store.day_by_lot(today).await.expect("day")), Some((2, 2, 1)));
    // b moves to yesterday, a is deleted: today keeps neither entry.
    let yesterday = format!("{} 08:00:00", today.pred_opt().expect("yesterday"));
    let modify = |uid: &str, operate: u8| {
        dated(entry(c, uid, "鲁B02C02")).replace("\"carType\"", &format!("\"operateType\":{operate},\"carType\""))
    };
    let moved =
        modify(&b, 0).replace(&format!("\"arriveTime\":\"{early}\""), &format!("\"arriveTime\":\"{yesterday}\""));
    assert_eq!(code(&h.send("uploadModifyCarInData", &moved).await), "200");
    assert_eq!(code(&h.send("uploadModifyCarInData", &modify(&a, 1)).await), "200");
    assert_eq!(counted(h.store.day_by_lot(today).await.expect("day")), Some((0, 2, 1)));
    let raw = h.store.day_counts(c, today).await.expect("counts");
    assert_eq!((raw.arrive, raw.leave), (0, 2), "reconciliation counts the same");
}

async fn suite(h: Harness, tag: &str) {
    let c = "1001";
    let uid = format!("{tag}-u1");

    let r = h.send("uploadCarInData", &entry(c, &uid, "鲁B01C01")).await;
    assert_eq!((code(&r), msg(&r)), ("200", "操作成功"));
    // Identical re-upload, even with a fresh uploadTime: 200, nothing changes.
    let again = entry(c, &uid, "鲁B01C01").replace("08:00:01", "08:05:00");
    let r = h.send("uploadCarInData", &again).await;
    assert_eq!(code(&r), "200", "{r}");
    assert!(msg(&r).contains("重复上传"), "{r}");
    // Different content for the same uid: refused with a clear message.
    let r = h.send("uploadCarInData", &entry(c, &uid, "鲁B99999")).await;
    assert_eq!(code(&r), "400");
    assert!(msg(&r).contains("uploadModifyCarInData"), "{r}");
    // Changes go through uploadModifyCarInData.
    let modify = entry(c, &uid, "鲁B99999").replace("\"carType\"", "\"operateType\":0,\"carType\"");
    let r = h.send("uploadModifyCarInData", &modify).await;
    assert_eq!(code(&r), "200", "{r}");

    let r = h.send("uploadCarOutData", &exit(c, &uid)).await;
    assert_eq!(code(&r), "200", "{r}");
    let r = h.send("uploadCarOutData", &exit(c, &format!("{tag}-no-entry"))).await;
    assert_eq!(code(&r), "200", "an exit without entry is stored: {r}");
    assert_eq!(h.store.count(Table::ExitsWithoutEntry, c).await.expect("count"), 1);
    assert_eq!(h.store.count(Table::Entries, c).await.expect("count"), 1);
    assert_eq!(h.store.count(Table::Exits, c).await.expect("count"), 2);

    let state = r#"{"parkingCode":"1001","totalBerthNum":150,"openBerthNum":130,"freeBerthNum":10,"uploadTime":"2021-07-01 10:01:00"}"#;
    assert_eq!(code(&h.send("uploadParkingState", state).await), "200");
    assert!(h.store.count(Table::BerthStates, c).await.expect("count") >= 2);
    let r = h.send("uploadHeartbeat", r#"{"parkingCode":"1001","uploadTime":"2021-07-01 10:01:00"}"#).await;
    assert_eq!(code(&r), "200");
    assert_eq!(r["serverTime"].as_str().map(str::len), Some(19), "{r}");

    // A photo: metadata in the cipher, the JPEG outside it.
    let jpeg = base64::engine::general_purpose::STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F']);
    let photo = format!(
        r#"{{"data":{{"uid":"{uid}","parkingCode":"1001","photoID":"{tag}-p1","time":"2021-07-01 08:00:00","type":1,"name":"1.jpg","uploadTime":"2021-07-01 08:00:02"}}}}"#
    );
    let (_, r) = h.post("uploadPhoto", h.seal_with_file(&photo, &jpeg)).await;
    assert_eq!(code(&r), "200", "{r}");
    let (_, r) = h.post("uploadPhoto", h.seal_with_file(&photo, "iVBORw0KGgo=")).await;
    assert!(code(&r) == "400" && msg(&r).contains("JPG"), "{r}");
    let (_, r) = h.post("uploadPhoto", h.seal("234", &photo)).await;
    assert!(code(&r) == "400" && msg(&r).contains("file"), "{r}");

    let bill = format!(
        r#"{{"billID":"{tag}-b1","uid":"{uid}","plateNo":"鲁B01C01","parkingCode":"1001","chargeFee":800,"shouldPay":800,
        "actualPay":800,"billTime":"2021-07-01 09:59:00","dealTime":"2021-07-01 09:59:30","paidType":3,"payType":103,
        "uploadTime":"2021-07-01 10:00:00","billWay":0}}"#
    );
    assert_eq!(code(&h.send("uploadPayRecord", &bill).await), "200");

    // The day balances: 1 entry, 2 exits, 1 photo, 1 bill of 800 fen.
    let check = |arrive: i64| {
        format!(
            r#"{{"parkingCode":"1001","checkDate":"2021-07-01","arriveNum":{arrive},"leaveNum":2,"photoNum":1,"payNum":1,
            "payTotal":800,"uploadTime":"2021-07-02 00:10:00"}}"#
        )
    };
    let r = h.send("uploadCheckRecord", &check(1)).await;
    assert_eq!((code(&r), &r["accountMark"], &r["photoMark"]), ("200", &Value::from(0), &Value::from(0)), "{r}");
    // The lot has an entry the platform lacks: entries differ (bit 1).
    let r = h.send("uploadCheckRecord", &check(2)).await;
    assert_eq!(r["accountMark"], Value::from(1), "{r}");
    // downloadUID shows which entries the platform holds.
    let r = h
        .send(
            "downloadUID",
            r#"{"parkingCode":"1001","accountDate":"2021-07-01","type":0,"uploadTime":"2021-07-02 00:11:00"}"#,
        )
        .await;
    assert_eq!(r["data"]["result"], serde_json::json!([{ "UID": uid, "arrivalID": "1" }]), "{r}");
    let r = h
        .send(
            "downloadUID",
            r#"{"parkingCode":"1001","accountDate":"2021-07-01","type":2,"uploadTime":"2021-07-02 00:11:00"}"#,
        )
        .await;
    assert_eq!(r["data"]["result"][0]["billID"], Value::from(format!("{tag}-b1")), "{r}");

    // Keyset paging behind the streamed downloadUID: pages of one, in uid order.
    for extra in ["a", "b"] {
        let r = h.send("uploadCarInData", &entry(c, &format!("{tag}-u1{extra}"), "鲁B01C02")).await;
        assert_eq!(code(&r), "200", "{r}");
    }
    let date = chrono::NaiveDate::from_ymd_opt(2021, 7, 1).expect("date");
    let (mut after, mut seen) = (None, Vec::new());
    loop {
        let page = h.store.uids_page(c, date, Kind::Entry, after.as_ref(), 1).await.expect("page");
        let Some(last) = page.last().cloned() else { break };
        seen.push(last.0.clone());
        after = Some(last);
    }
    assert_eq!(seen, [uid.clone(), format!("{uid}a"), format!("{uid}b")]);

    admin(&h, &uid).await;
    concurrent_writes_share_commits_but_not_failures(&h, tag).await;
    today_counts(&h, tag).await;
}

async fn admin(h: &Harness, uid: &str) {
    let t = Some("test-token");
    assert_eq!(h.admin("/api/admin/lots", None).await.0, 401);
    assert_eq!(h.admin("/api/admin/lots", Some("wrong")).await.0, 401);
    let (status, lots) = h.admin("/api/admin/lots", t).await;
    assert_eq!(status, 200, "{lots}");
    let lot = lots["lots"].as_array().and_then(|l| l.iter().find(|l| l["parkingCode"] == "1001")).expect("lot 1001");
    assert_eq!((lot["freeBerths"].as_i64(), lot["online"].as_bool()), (Some(10), Some(true)), "{lot}");

    let (_, records) = h.admin("/api/admin/records?parkingCode=1001&plateNo=%E9%B2%81B99999&from=2021-07-01", t).await;
    let items = records["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{records}");
    assert_eq!((items[0]["uid"].as_str(), items[0]["shouldPay"].as_i64()), (Some(uid), Some(800)));
    assert_eq!(h.admin("/api/admin/records?from=yesterday", t).await.0, 400);

    let (_, series) = h.admin("/api/admin/lots/1001/berths?from=2021-07-01&to=2021-07-02", t).await;
    assert!(series["points"].as_array().is_some_and(|p| p.len() >= 2), "{series}");

    let (_, rec) = h.admin("/api/admin/reports/reconciliation?parkingCode=1001&date=2021-07-01", t).await;
    assert_eq!(rec["platform"]["payTotal"], Value::from(800), "{rec}");
    assert_eq!(rec["lastCheck"]["accountMark"], Value::from(1), "{rec}");

    let (_, quality) = h.admin("/api/admin/reports/quality?parkingCode=1001&date=2021-07-01", t).await;
    assert_eq!(quality["quality"]["exitsWithoutEntry"], Value::from(1), "{quality}");
    assert_eq!(quality["quality"]["late"], Value::from(5), "records of 2021 arrive years late: {quality}");

    // Everything above was received just now: today has at least one slot heard.
    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("utc+8")).date_naive();
    let (_, online) = h.admin(&format!("/api/admin/reports/online?parkingCode=1001&date={today}"), t).await;
    assert!(online["slotsHeard"].as_i64().is_some_and(|n| n >= 1), "{online}");
    let (_, past) = h.admin("/api/admin/reports/online?parkingCode=1001&date=2021-07-01", t).await;
    assert_eq!((past["slotsExpected"].as_i64(), past["meetsSpec"].as_bool()), (Some(144), Some(false)), "{past}");

    let (status, doc) = h.admin("/api/admin/openapi.json", None).await;
    assert_eq!((status, doc["openapi"].as_str()), (200, Some("3.1.0")));
    lists(h).await;
}

/// List changes are validated field by field; without a broker they are
/// stored and wait queued.
async fn lists(h: &Harness) {
    let change = |patch: Value| {
        let mut body = serde_json::json!({ "accessId": "234", "parkingCodes": ["1001"], "plateNo": "鲁B12345",
            "list": "white", "operate": "add", "startTime": "2026-01-01 00:00:00", "endTime": "2026-12-31 23:59:59" });
        for (k, v) in patch.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        body
    };
    // Schema-valid changes that name what does not exist are 404 (the
    // document says so); invalid ones 422 (shape) or 400 (a field's rule).
    let bad = [
        (serde_json::json!({ "list": "grey" }), "list", 422),
        (serde_json::json!({ "operate": "upsert" }), "operate", 422),
        (serde_json::json!({ "plateNo": "XYZ" }), "plateNo", 400),
        (serde_json::json!({ "parkingCodes": ["9999"] }), "parkingCodes", 404),
        (serde_json::json!({ "accessId": "999" }), "accessId", 404),
        (serde_json::json!({ "endTime": "2025-01-01 00:00:00" }), "endTime", 400),
        (serde_json::json!({ "operate": "delete", "plateNo": "鲁B54321" }), "no whitelist entry", 404),
    ];
    for (patch, field, expected) in bad {
        let (status, reply) = h.admin_post("/api/admin/lists", change(patch)).await;
        assert_eq!(status, expected, "{reply}");
        assert!(reply["error"].as_str().unwrap_or_default().contains(field), "`{field}` in {reply}");
    }
    let (status, reply) = h.admin_post("/api/admin/lists", change(Value::Null)).await;
    assert_eq!(status, 200, "{reply}");
    let (_, listed) = h.admin("/api/admin/lists?parkingCode=1001", Some("test-token")).await;
    assert_eq!(listed["items"][0]["delivery"], "queued", "{listed}");
    assert_eq!(listed["items"][0]["requestId"], reply["sent"][0]["requestId"], "{listed}");
}

async fn bad_input(h: Harness) {
    let body = h.seal("234", &format!("{{\"data\":{}}}", entry("1001", "x", "鲁B01C01")));
    let cases: Vec<(String, String, &str)> = vec![
        ("uploadCarInData".into(), "accessID=234&sign=abc".into(), "缺少参数 cipher"),
        ("uploadCarInData".into(), body.replace("accessID=234", "accessID=999"), "未知的接入方"),
        ("uploadCarInData".into(), body.replace("sign=", "sign=AAAA"), "签名验证失败"),
        ("uploadCarInData".into(), h.seal("234", "{not json"), "不是有效的 JSON"),
        ("uploadCarInData".into(), h.seal("234", r#"{"data":{"uid":"a"}}"#), "缺少必填字段 plateNo"),
        (
            "uploadCarInData".into(),
            h.seal("234", &format!("{{\"data\":{}}}", entry("7777", "y", "鲁B01C01"))),
            "无权上传停车场 7777",
        ),
        ("applyPayment".into(), body.clone(), "billID"),
        ("noSuchInterface".into(), body.clone(), "未知接口"),
    ];
    for (interface, body, expected) in cases {
        let (status, reply) = h.post(&interface, body).await;
        assert_eq!((status, code(&reply)), (200, "400"), "{interface}: {reply}");
        assert!(msg(&reply).contains(expected), "{interface}: expected `{expected}` in {reply}");
    }
    // Node suffixes resolve to the base accessID.
    let (_, reply) =
        h.post("uploadCarInData", h.seal("234_2", &format!("{{\"data\":{}}}", entry("1002", "n", "鲁B01C01")))).await;
    assert_eq!(code(&reply), "200", "{reply}");
}

/// Concurrent uploads are committed together (group commit); a conflicting
/// one in the same batch is refused alone and takes nothing with it.
async fn concurrent_writes_share_commits_but_not_failures(h: &Harness, tag: &str) {
    let c = "1002";
    let taken = format!("{tag}-taken");
    assert_eq!(code(&h.send("uploadCarInData", &entry(c, &taken, "鲁B01C01")).await), "200");
    let stats = h.store.commit_stats();
    let (batches, jobs) = (stats.batches.load(Ordering::Relaxed), stats.jobs.load(Ordering::Relaxed));
    let mut bodies: Vec<String> = (0..40).map(|i| entry(c, &format!("{tag}-c{i}"), "鲁B01C01")).collect();
    bodies.insert(20, entry(c, &taken, "鲁B77777"));
    let replies = futures_util::future::join_all(bodies.iter().map(|data| h.send("uploadCarInData", data))).await;
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(code(reply), if i == 20 { "400" } else { "200" }, "{i}: {reply}");
    }
    assert_eq!(h.store.count(Table::Entries, c).await.expect("count"), 41);
    let batches = stats.batches.load(Ordering::Relaxed) - batches;
    let jobs = stats.jobs.load(Ordering::Relaxed) - jobs;
    assert!(jobs > batches, "41 concurrent writes should share commits: {jobs} writes in {batches} commits");
}

#[tokio::test]
async fn sqlite_backend() {
    let dir = TempDir::new("uplink-db");
    let url = format!("sqlite://{}", dir.join("test.db").display());
    suite(Harness::new(url.clone()).await, "s").await;
    bad_input(Harness::new(url).await).await;
}

#[tokio::test]
async fn postgres_backend() {
    let Some(pg) = PgSchema::new("postgres_backend").await else { return };
    let url = pg.url.clone();
    suite(Harness::new(url.clone()).await, "p").await;
    bad_input(Harness::new(url).await).await;
    pg.drop().await;
}

#[tokio::test]
async fn key_probes_are_counted_limited_and_exported() {
    let dir = TempDir::new("uplink-probe");
    let h = Harness::new(format!("sqlite://{}", dir.join("probe.db").display())).await;
    for _ in 0..11 {
        let (_, r) = h.post("uploadCarInData", h.seal("234", "garbage that is not JSON")).await;
        assert_eq!(code(&r), "400", "{r}");
    }
    let good = h.seal("234", &format!("{{\"data\":{}}}", entry("1001", "probe-ok", "鲁B01C01")));
    let (status, r) = h.post("uploadCarInData", good).await;
    // Held off, retryable: a 400 would make lots set real records aside.
    assert_eq!((status, code(&r)), (429, "500"), "{r}");
    assert!(msg(&r).contains("暂停受理"), "{r}");

    let request = Request::get("/metrics").body(Body::empty()).expect("request");
    let text = send(&h.app, request).await.text();
    assert!(text.contains("onepark_uplink_undecryptable_total{access_id=\"234\"} 11"), "{text}");
    assert!(
        text.contains("onepark_uplink_requests_total{interface=\"uploadCarInData\",outcome=\"rejected\"} 11"),
        "{text}"
    );
}

/// Many uploads of one stay at once (a lot retrying, a second sender): the
/// group commit writes them in one batch as a multi-row insert, and still
/// exactly one is stored, the identical ones are duplicates and one with
/// other content is a conflict; the same for a photo.
async fn one_batch_of_duplicates(h: Harness) {
    let same = entry("1001", "BATCH-1", "鲁B77777");
    let other = entry("1001", "BATCH-1", "鲁B88888");
    let mut bodies: Vec<String> = (0..8).map(|_| h.seal("234", &format!("{{\"data\":{same}}}"))).collect();
    bodies.push(h.seal("234", &format!("{{\"data\":{other}}}")));
    let replies = futures_util::future::join_all(bodies.into_iter().map(|b| h.post("uploadCarInData", b))).await;
    let msgs: Vec<String> = replies.iter().map(|(_, r)| r["msg"].as_str().unwrap_or_default().to_owned()).collect();
    let conflicts = msgs.iter().filter(|m| m.contains("已存在且内容不同")).count();
    let inserted = msgs.iter().filter(|m| *m == "操作成功").count();
    let duplicates = msgs.iter().filter(|m| m.starts_with("操作成功（重复上传")).count();
    // The first of the nine to be written wins: one of the eight (then the ninth conflicts) or the ninth itself.
    assert_eq!(inserted, 1, "{msgs:?}");
    assert_eq!(inserted + duplicates + conflicts, 9, "{msgs:?}");
    assert!(conflicts == 1 || conflicts == 8, "{msgs:?}");
    assert_eq!(h.store.count(Table::Entries, "1001").await.expect("count"), 1);

    let jpeg = base64::engine::general_purpose::STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9]);
    let photo = r#"{"uid":"BATCH-1","parkingCode":"1001","photoID":"BATCH-P","time":"2021-07-01 08:00:00","type":1,
        "name":"p.jpg","uploadTime":"2021-07-01 08:00:01"}"#;
    let bodies: Vec<String> = (0..6).map(|_| h.seal_with_file(&format!("{{\"data\":{photo}}}"), &jpeg)).collect();
    let replies = futures_util::future::join_all(bodies.into_iter().map(|b| h.post("uploadPhoto", b))).await;
    let msgs: Vec<String> = replies.iter().map(|(_, r)| r["msg"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(msgs.iter().filter(|m| *m == "操作成功").count(), 1, "{msgs:?}");
    assert_eq!(msgs.iter().filter(|m| m.starts_with("操作成功（重复上传")).count(), 5, "{msgs:?}");
    assert!(h.store.photo_sha("1001", "BATCH-P").await.expect("photo").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_in_one_batch_sqlite() {
    let dir = TempDir::new("uplink-batch");
    one_batch_of_duplicates(Harness::new(format!("sqlite://{}", dir.join("b.db").display())).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_in_one_batch_postgres() {
    let Some(pg) = PgSchema::new("uplink_batch").await else { return };
    one_batch_of_duplicates(Harness::new(pg.url.clone()).await).await;
    pg.drop().await;
}
