//! The cloud API on both stores (SQLite, and PostgreSQL when DATABASE_URL is
//! set): versions that make a change after a pull come back, the lot's own
//! pulls, records as duplicates and conflicts, concurrent copies of one
//! signed request passing once, fixed cars of a Qingdao lot as white-list
//! entries, and the admin API of the pids.

use axum::body::Body;
use axum::http::Request;
use onepark_cloudpark::build_request;
use onepark_platform::store::{Principal, PrincipalKind, Store};
use onepark_testkit::dirs::TempDir;
use onepark_testkit::pg::PgSchema;
use serde_json::{Value, json};

mod common;
use common::{admin_post, call};

const SECRET: &str = "TEST-ONLY-0123456789ABCDEF";

struct Harness {
    app: axum::Router,
    /// Distinct timestamps per call: a request repeated within one second
    /// would be the same request (a replay).
    tick: std::sync::atomic::AtomicI64,
}

impl Harness {
    async fn new(url: String, dir: &TempDir) -> Harness {
        let config = common::config(url.clone(), dir.path().to_owned(), "234");
        let store = Store::connect(&url).await.expect("store");
        for (pid, kind, codes) in
            [("int", PrincipalKind::Integrator, vec!["P1", "P2", "1001"]), ("lotP2", PrincipalKind::Lot, vec!["P2"])]
        {
            let p = Principal {
                pid: pid.into(),
                secret: SECRET.into(),
                kind,
                name: String::new(),
                park_codes: codes.into_iter().map(String::from).collect(),
                created_at: "2026-12-04 00:00:00".into(),
            };
            store.put_principal(&p).await.expect("principal");
        }
        let state = onepark_platform::app::AppState::new(&config, store);
        let now = chrono::Utc::now().timestamp();
        Harness {
            app: onepark_platform::app::router(&config, state),
            tick: std::sync::atomic::AtomicI64::new(now - 250),
        }
    }

    fn body(&self, pid: &str, service: &str, biz: &Value) -> String {
        let t = self.tick.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        build_request(pid, service, t, &biz.to_string(), SECRET)
    }

    async fn post(&self, service: &str, body: String) -> Value {
        let request = Request::post(format!("/cloudparkapi/api/{service}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        call(&self.app, request).await.1
    }

    async fn call(&self, pid: &str, service: &str, biz: Value) -> Value {
        self.post(service, self.body(pid, service, &biz)).await
    }

    async fn ok(&self, pid: &str, service: &str, biz: Value) -> Value {
        let answer = self.call(pid, service, biz.clone()).await;
        assert_eq!(answer["code"], 200, "{service} {biz}: {answer}");
        answer
    }

    async fn items(&self, pid: &str, service: &str, code: &str) -> Vec<Value> {
        let page = self.ok(pid, service, json!({ "page": 1, "pageSize": 100, "parkCode": code })).await;
        page["data"]["items"].as_array().cloned().unwrap_or_default()
    }
}

/// Yesterday at `hour` o'clock, in the platform's zone: always within its window.
fn yesterday(hour: u32) -> String {
    let day = onepark_domain::time::Zone::default().local(chrono::Utc::now()).date() - chrono::Duration::days(1);
    format!("{day} {hour:02}:00:00")
}

fn car(uuid: &str, code: &str, plate: &str) -> Value {
    json!({ "uuid": uuid, "parkCode": code, "carNum": plate, "cartypeCode": 81, "carMMoney": "150.5",
            "timeStart": "2026-01-01 00:00:00", "timeEnd": "2030-12-31 23:59:59" })
}

async fn scenario(h: Harness) {
    // Fixed cars: a change made after a pull comes back on the next one.
    h.ok("int", "addfixcar", car("u1", "P1", "鲁A11111")).await;
    let items = h.items("int", "queryAgentFixcar", "P1").await;
    assert_eq!(
        (items.len(), items[0]["syncNo"].as_str(), items[0]["operate"].as_str()),
        (1, Some("u1.1"), Some("add"))
    );
    assert_eq!(items[0]["carMMoney"], "150.50", "fen back to yuan, exactly");
    h.ok("int", "editfixcar", car("u1", "P1", "鲁A22222")).await;
    h.ok("int", "notifyAgentFixcar", json!({ "parkCode": "P1", "syncNos": "u1.1" })).await;
    let items = h.items("int", "queryAgentFixcar", "P1").await;
    assert_eq!((items[0]["syncNo"].as_str(), items[0]["carNum"].as_str()), (Some("u1.2"), Some("鲁A22222")));
    let stale = h.ok("int", "notifyAgentFixcar", json!({ "parkCode": "P1", "syncNos": "u1.1,u1.9" })).await;
    assert!(stale["msg"].as_str().is_some_and(|m| m.contains("2 个 syncNo")), "{stale}");
    h.ok("int", "notifyAgentFixcar", json!({ "parkCode": "P1", "syncNos": "u1.2" })).await;
    assert!(h.items("int", "queryAgentFixcar", "P1").await.is_empty());
    h.ok("int", "delfixcar", json!({ "uuid": "u1", "parkCode": "P1" })).await;
    let items = h.items("int", "queryAgentFixcar", "P1").await;
    assert_eq!(items[0]["operate"], "delete");
    let again = h.ok("int", "delfixcar", json!({ "uuid": "u1", "parkCode": "P1" })).await;
    assert!(
        again["msg"].as_str().is_some_and(|m| m.contains("已删除")),
        "a repeated deletion completes the first: {again}"
    );
    let gone = h.call("int", "editfixcar", car("u1", "P1", "鲁A22222")).await;
    assert_eq!(gone["code"], 422, "{gone}");

    // In-park cars: the lot's own pid pulls; an edit after the pull comes back.
    h.ok(
        "int",
        "modifyInCar",
        json!({ "parkCode": "P2", "plateNumber": "鲁B11111", "enterTime": yesterday(8), "recordNo": "r1" }),
    )
    .await;
    let refused = h.call("int", "queryAgentParkin", json!({ "page": 1, "pageSize": 10, "parkCode": "P2" })).await;
    assert_eq!(refused["code"], 403, "{refused}");
    assert_eq!(h.items("lotP2", "queryAgentParkin", "P2").await[0]["plateNum"], "鲁B11111");
    h.ok(
        "int",
        "modifyInCar",
        json!({ "parkCode": "P2", "plateNumber": "鲁B22222", "enterTime": yesterday(8), "recordNo": "r1" }),
    )
    .await;
    h.ok("lotP2", "notifyAgentParkin", json!({ "parkCode": "P2", "recordNos": "r1" })).await;
    let again = h.items("lotP2", "queryAgentParkin", "P2").await;
    assert_eq!(again[0]["plateNum"], "鲁B22222", "the correction made after the pull");
    h.ok("lotP2", "notifyAgentParkin", json!({ "parkCode": "P2", "recordNos": "r1" })).await;
    assert!(h.items("lotP2", "queryAgentParkin", "P2").await.is_empty());
    // A back-dated entry would make the lot charge for a stay that never was.
    let old =
        json!({ "parkCode": "P2", "plateNumber": "鲁B33333", "enterTime": "2020-01-01 08:00:00", "recordNo": "r2" });
    let refused = h.call("int", "modifyInCar", old).await;
    assert!(
        refused["code"] == 400 && refused["msg"].as_str().is_some_and(|m| m.contains("bizContent.enterTime")),
        "{refused}"
    );
    let foreign = h.call("lotP2", "queryAgentParkin", json!({ "page": 1, "pageSize": 10, "parkCode": "P1" })).await;
    assert_eq!(foreign["code"], 403, "{foreign}");

    // A lot's reports: the same again is a duplicate, different content a conflict.
    let enter = json!({ "parkCode": "P2", "recordNo": "s1", "plateNum": "鲁C33333", "enterTime": yesterday(9), "totalParkNum": 50, "remainParkNum": 20 });
    h.ok("lotP2", "enterNotify", enter.clone()).await;
    assert_eq!(h.call("int", "enterNotify", enter.clone()).await["code"], 403, "a lot's records are the lot's");
    let dup = h.ok("lotP2", "enterNotify", enter.clone()).await;
    assert!(dup["msg"].as_str().is_some_and(|m| m.contains("重复")), "{dup}");
    let mut changed = enter.clone();
    changed["plateNum"] = json!("鲁C44444");
    assert_eq!(h.call("lotP2", "enterNotify", changed).await["code"], 422);
    let leave = json!({ "parkCode": "P2", "recordNo": "s1", "plateNum": "鲁C33333", "enterTime": yesterday(9),
        "leaveTime": yesterday(10), "payableFee": 600, "discountFee": 100, "cashFee": 500 });
    h.ok("lotP2", "leaveNotify", leave).await;
    let request = Request::get("/api/admin/records?parkingCode=P2")
        .header("authorization", "Bearer test-token")
        .body(Body::empty())
        .expect("request");
    let (_, records) = call(&h.app, request).await;
    assert_eq!(
        (records["items"][0]["uid"].as_str(), records["items"][0]["shouldPay"].as_i64()),
        (Some("s1"), Some(500)),
        "{records}"
    );

    // Eight copies of one signed request at once: one is served, seven are replays.
    let body = h.body("int", "checkFixcar", &json!({ "parkCode": "P1", "plateNumber": "鲁A22222" }));
    let copies = (0..8).map(|_| h.post("checkFixcar", body.clone()));
    let answers = futures_util::future::join_all(copies).await;
    let codes: Vec<i64> = answers.iter().map(|a| a["code"].as_i64().unwrap_or(0)).collect();
    assert_eq!(
        (codes.iter().filter(|c| **c == 200).count(), codes.iter().filter(|c| **c == 409).count()),
        (1, 7),
        "{codes:?}"
    );

    // A stored-value car is kept but never made free.
    let mut stored_value = car("sv1", "1001", "鲁E66666");
    stored_value["cartypeCode"] = json!(71);
    let kept = h.ok("int", "addfixcar", stored_value).await;
    assert!(kept["msg"].as_str().is_some_and(|m| m.contains("储值车")), "{kept}");
    let request = Request::get("/api/admin/lists?plateNo=%E9%B2%81E66666")
        .header("authorization", "Bearer test-token")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&h.app, request).await.1["items"], json!([]));
    // Two fixed cars of one plate: deleting one leaves the plate listed for the other.
    h.ok("int", "addfixcar", car("q2", "1001", "鲁E77777")).await;
    h.ok("int", "addfixcar", car("q3", "1001", "鲁E77777")).await;
    h.ok("int", "delfixcar", json!({ "uuid": "q2", "parkCode": "1001" })).await;
    let request = Request::get("/api/admin/lists?plateNo=%E9%B2%81E77777")
        .header("authorization", "Bearer test-token")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&h.app, request).await.1["items"][0]["deleted"], false, "q3 still holds it");
    // A Qingdao lot's fixed car is a white-list entry for its plate.
    h.ok("int", "addfixcar", car("q1", "1001", "鲁E55555")).await;
    let request = Request::get("/api/admin/lists?plateNo=%E9%B2%81E55555")
        .header("authorization", "Bearer test-token")
        .body(Body::empty())
        .expect("request");
    let (_, lists) = call(&h.app, request).await;
    assert_eq!(
        (lists["items"][0]["listKind"].as_i64(), lists["items"][0]["parkingCode"].as_str()),
        (Some(1), Some("1001")),
        "{lists}"
    );

    // The pids' admin API: a made secret is answered once, never listed.
    let (status, made) = admin_post(
        &h.app,
        "/api/admin/integrators",
        json!({ "pid": "new1", "kind": "integrator", "parkCodes": ["P1"] }),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let secret = made["secret"].as_str().expect("secret").to_owned();
    let (status, taken) =
        admin_post(&h.app, "/api/admin/integrators", json!({ "pid": "lot2", "kind": "lot", "parkCodes": ["P2"] }))
            .await;
    assert_eq!(status, 409, "P2 is lotP2's: {taken}");
    let request = Request::get("/api/admin/integrators")
        .header("authorization", "Bearer test-token")
        .body(Body::empty())
        .expect("request");
    let (_, listed) = call(&h.app, request).await;
    assert!(listed.to_string().contains("new1") && !listed.to_string().contains(&secret), "{listed}");
    let t = h.tick.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let as_new = build_request("new1", "checkFixcar", t, r#"{"parkCode":"P1","plateNumber":"鲁A22222"}"#, &secret);
    assert_eq!(h.post("checkFixcar", as_new.clone()).await["code"], 200);
    let request = Request::delete("/api/admin/integrators/new1")
        .header("authorization", "Bearer test-token")
        .body(Body::empty())
        .expect("request");
    assert_eq!(onepark_testkit::router::send(&h.app, request).await.status, 204);
    let t = h.tick.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let removed = build_request("new1", "checkFixcar", t, r#"{"parkCode":"P1","plateNumber":"鲁A22222"}"#, &secret);
    assert_eq!(h.post("checkFixcar", removed).await["code"], 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_api_on_sqlite() {
    let dir = TempDir::new("cloudpark-sqlite");
    let url = format!("sqlite://{}", dir.join("platform.db").display());
    scenario(Harness::new(url, &dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_api_on_postgres() {
    let Some(pg) = PgSchema::new("cloud_api_on_postgres").await else { return };
    let dir = TempDir::new("cloudpark-pg");
    scenario(Harness::new(pg.url.clone(), &dir).await).await;
    pg.drop().await;
}
