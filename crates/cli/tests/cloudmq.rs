//! The parking cloud's MQ channel through the real binaries (issue 24): a
//! platform with its embedded broker, a lot gateway speaking only the cloud
//! (HTTP records, MQ commands and reports), an integrator signing its own
//! requests, and a barrier controller that is nothing but an SSE client.
//!
//! An integrator raises lane 2's barrier → the controller receives it and
//! acknowledges → the integrator's answer says it moved → the manual-lift
//! report reaches the platform; a plate lock keeps a car in until unlocked;
//! a visitor is admitted at a card-holders' lane in its window only; a
//! command to an offline lot is delivered when it reconnects before its
//! deadline and refused after; a blacklisted car's alarm reaches the city's
//! alarm list; a report sent twice is stored once.

use std::time::Duration;

use serde_json::{Value, json};

mod common;
use common::{Controller, Process, client, get, lane, local, onepark, pay_stay, platform_config, start, until};
use onepark_testkit::dirs::TempDir;
use onepark_testkit::net::free_port;

const PID: &str = "9101";
const KEY: &str = "TEST-ONLY-5B2E9D41A7C34F08B6E1";
const LOT_PID: &str = "lot4004";
const LOT_KEY: &str = "TEST-ONLY-LOT-77A1C0E93B5D4F26";
const CODE: &str = "TEST/4004P1";

/// An integrator's signed call (a fresh nonce in bizContent keeps each sign new).
async fn call(base: &str, service: &str, mut biz: Value) -> Value {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    biz["nonce"] = json!(N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    common::cloud_call(base, PID, KEY, service, &biz).await
}

async fn start_lot(dir: &TempDir, config: &std::path::Path, port: u16) -> Process {
    start(dir, &["lot", "serve"], config, port).await
}

/// The controller's stream is open once the lot lists lane 2 as remote-controlled.
async fn controller_online(base: &str) {
    until("the controller of lane 2 online", || async {
        let lanes = call(base, "manage.channels", json!({ "parkCode": CODE, "action": "list" })).await;
        let online = lanes["data"]["dataItems"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|l| l["channelId"] == "2" && l["remoteControl"] == 1);
        (!online).then_some(lanes)
    })
    .await;
}

#[tokio::test]
async fn a_lot_is_run_remotely_over_the_cloud_channel() {
    let dir = TempDir::new("cloudmq");
    let (http, mqtt, lane_port) = (free_port(), free_port(), free_port());
    // The in-process sandbox channel: a driver pays a cloud lot's stay on the driver page.
    let config = platform_config(&dir, http, mqtt, "[payments]\nchannel = \"sandbox\"\n");
    let _platform = start(&dir, &["platform", "serve"], &config, http).await;
    let base = format!("http://127.0.0.1:{http}");
    onepark(
        &[
            "platform",
            "integrators",
            "add",
            "--pid",
            LOT_PID,
            "--secret",
            LOT_KEY,
            "--kind",
            "lot",
            "--park-code",
            CODE,
        ],
        &config,
    );
    onepark(&["platform", "integrators", "add", "--pid", PID, "--secret", KEY, "--park-code", CODE], &config);

    let lot_config = dir.join("lot.toml");
    let text = format!(
        "parking_code = \"{CODE}\"\nlisten = \"127.0.0.1:{lane_port}\"\ndatabase = \"sqlite://{db}\"\n\
         [berths]\ntotal = 50\nopen = 40\n\
         [[lanes]]\nid = \"1\"\ndirection = \"entry\"\n[[lanes]]\nid = \"2\"\ndirection = \"exit\"\n\
         [[lanes]]\nid = \"3\"\ndirection = \"entry\"\nallow = [\"monthly\"]\n\
         [tariff]\nfree_minutes = 15\nperiod_minutes = 60\nprice = 300\ncycle_cap = 1200\n\
         [cloudpark]\nurl = \"{base}\"\npid = \"{LOT_PID}\"\nsecret = \"{LOT_KEY}\"\npull_seconds = 5\n\
         mqtt_url = \"mqtt://127.0.0.1:{mqtt}\"\n",
        db = dir.join("lot.db").display()
    );
    std::fs::write(&lot_config, text).expect("lot config");
    let lot = start_lot(&dir, &lot_config, lane_port).await;

    // A remote raise reaches the controller, which acknowledges; the answer says so.
    let mut controller = Controller::start(&dir, lane_port, "2");
    controller_online(&base).await;
    let raised = call(
        &base,
        "manage.channels",
        json!({ "parkCode": CODE, "action": "open",
        "dataItems": [{ "channelId": "2", "operator": "云坐席张", "reason": "访客无牌" }], "waitSeconds": 15 }),
    )
    .await;
    assert_eq!(raised["code"], 200, "{raised}");
    assert_eq!(
        (raised["data"]["code"].as_i64(), raised["data"]["msg"].as_str()),
        (Some(1), Some("已抬闸")),
        "{raised}"
    );
    let order = controller.next_order().await;
    assert_eq!((order["command"].as_str(), order["operator"].as_str()), (Some("raise"), Some("云坐席张")));
    until("the manual-lift report on the platform", || async {
        let events = get(format!("{base}/api/admin/lot-events?kind=lift")).await;
        let found = events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["serviceId"] == "sync.manualopengate.record" && e["parkCode"] == CODE);
        (!found).then_some(events)
    })
    .await;
    // The booth's feed shows it.
    let lowered = call(
        &base,
        "manage.channels",
        json!({ "parkCode": CODE, "action": "close", "channelId": "9", "waitSeconds": 15 }),
    )
    .await;
    assert_eq!(lowered["code"], 422, "an unknown lane is the lot's refusal: {lowered}");
    assert!(lowered["data"]["msg"].as_str().unwrap_or_default().contains("通道 9"), "{lowered}");
    let bad = call(&base, "manage.channels", json!({ "parkCode": CODE, "action": "fly" })).await;
    assert_eq!(bad["code"], 400, "{bad}");
    assert!(bad["msg"].as_str().unwrap_or_default().contains("bizContent.action"), "{bad}");
    let foreign = call(&base, "manage.channels", json!({ "parkCode": "TEST/9999P9", "action": "list" })).await;
    assert_eq!(foreign["code"], 403, "{foreign}");

    // A locked plate stays in until unlocked.
    let plate = "鲁B44001";
    assert_eq!(lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": plate })).await["open"], true);
    let locked = call(
        &base,
        "manage.lockcars",
        json!({ "parkCode": CODE, "action": "add",
        "dataItems": [{ "ID": 0, "CarNum": plate, "Locker": "车主" }], "waitSeconds": 15 }),
    )
    .await;
    assert_eq!(locked["code"], 200, "{locked}");
    let held = lane(lane_port, "/api/lanes/2/exit", json!({ "plateNo": plate })).await;
    assert_eq!((held["open"].as_bool(), held["reason"].as_str()), (Some(false), Some("locked")), "{held}");
    let listed = call(
        &base,
        "manage.lockcars",
        json!({ "parkCode": CODE, "action": "query", "page": 1, "pageSize": 10, "waitSeconds": 15 }),
    )
    .await;
    assert_eq!(listed["data"]["dataItems"][0]["Items"][0]["CarNum"], plate, "{listed}");
    let unlocked = call(
        &base,
        "manage.lockcars",
        json!({ "parkCode": CODE, "action": "delete",
        "dataItems": [{ "CarNum": plate }], "waitSeconds": 15 }),
    )
    .await;
    assert_eq!(unlocked["code"], 200, "{unlocked}");
    let left = lane(lane_port, "/api/lanes/2/exit", json!({ "plateNo": plate })).await;
    assert_eq!(left["open"], true, "{left}");

    // A visitor comes in at the card holders' lane in its window only.
    let reserved = call(&base, "visitor.reservation", json!({ "parkCode": CODE, "waitSeconds": 15, "dataItems": [
        { "passCode": "V1", "plateNumber": "鲁B44002", "arriveTime": local(-30), "leaveTime": local(120), "bussinessType": "1", "visitorStatus": 1, "carSubType": 11 },
        { "passCode": "V2", "plateNumber": "鲁B44003", "arriveTime": local(60), "leaveTime": local(120), "bussinessType": "1", "visitorStatus": 1 }
    ] })).await;
    assert_eq!(reserved["code"], 200, "{reserved}");
    let visitor = lane(lane_port, "/api/lanes/3/entry", json!({ "plateNo": "鲁B44002" })).await;
    assert_eq!(visitor["open"], true, "in its window: {visitor}");
    let early = lane(lane_port, "/api/lanes/3/entry", json!({ "plateNo": "鲁B44003" })).await;
    assert_eq!((early["open"].as_bool(), early["reason"].as_str()), (Some(false), Some("monthly_only")), "{early}");

    // A driver pays a stay on the platform's driver page: the fee comes from the lot (3.1),
    // the payment reaches it (3.2), the car leaves without paying again.
    let plate = "鲁B44007";
    let entered = lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": plate, "time": local(-110) })).await;
    assert_eq!(entered["open"], true, "{entered}");
    pay_stay(&base, plate, "¥6.00").await;
    until("the payment's notice answered by the lot", || async {
        let d = get(format!("{base}/api/admin/downlinks?parkingCode={}&limit=20", CODE.replace('/', "%2F"))).await;
        let done = d["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["interface"] == "pay.payparkingfeeorder" && x["state"] == "confirmed");
        (!done).then_some(d)
    })
    .await;
    let out = lane(lane_port, "/api/lanes/2/exit", json!({ "plateNo": plate })).await;
    assert_eq!(out["open"], true, "paid on the driver page: {out}");

    // A blacklisted car is refused and its alarm reaches the city's list.
    let black = call(
        &base,
        "manage.blacklist",
        json!({ "parkCode": CODE, "action": "add",
        "dataItems": [{ "carNum": "鲁B44004", "remark": "逃费" }], "waitSeconds": 15 }),
    )
    .await;
    assert_eq!(black["code"], 200, "{black}");
    let refused = lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": "鲁B44004" })).await;
    assert_eq!(refused["reason"], "blacklisted", "{refused}");
    until("the blacklist alarm on the platform", || async {
        let events = get(format!("{base}/api/admin/lot-events?kind=alarm&parkCode={}", CODE.replace('/', "%2F"))).await;
        let found = events["items"].as_array().into_iter().flatten().any(|e| e["plateNo"] == "鲁B44004");
        (!found).then_some(events)
    })
    .await;

    match common::webdriver::find() {
        Some((chromium, driver)) => pages(&dir, http, lane_port, &chromium, &driver).await,
        None => eprintln!("SKIPPED the alarm pages in Chromium: install chromium and chromium-driver (Debian)"),
    }

    // Offline: a command waits for the lot within its deadline, and is refused after it.
    drop(lot);
    drop(controller);
    let queued = call(
        &base,
        "manage.lockcars",
        json!({ "parkCode": CODE, "action": "add",
        "dataItems": [{ "CarNum": "鲁B44005", "Locker": "车主" }], "waitSeconds": 1, "expireSeconds": 120 }),
    )
    .await;
    assert_eq!(queued["code"], 202, "{queued}");
    let late = call(
        &base,
        "manage.lockcars",
        json!({ "parkCode": CODE, "action": "add",
        "dataItems": [{ "CarNum": "鲁B44006", "Locker": "车主" }], "waitSeconds": 0, "expireSeconds": 5 }),
    )
    .await;
    assert_eq!(late["code"], 202, "{late}");
    tokio::time::sleep(Duration::from_secs(7)).await;
    let expired = call(&base, "queryCommand", json!({ "uuid": late["data"]["uuid"] })).await;
    assert_eq!(
        (expired["code"].as_i64(), expired["data"]["state"].as_str()),
        (Some(408), Some("expired")),
        "{expired}"
    );
    let _lot = start_lot(&dir, &lot_config, lane_port).await;
    until("the queued command answered after the reconnect", || async {
        let q = call(&base, "queryCommand", json!({ "uuid": queued["data"]["uuid"] })).await;
        (q["code"] != 200 || q["data"]["state"] != "answered").then_some(q)
    })
    .await;
    let second = lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": "鲁B44006" })).await;
    assert_eq!(second["open"], true, "{second}");
    let free = lane(lane_port, "/api/lanes/2/exit", json!({ "plateNo": "鲁B44006" })).await;
    assert_eq!(free["open"], true, "the expired lock never reached the lot: {free}");
    let other = call(&base, "queryCommand", json!({ "uuid": "00000000000000000000000000000001" })).await;
    assert_eq!(other["code"], 422, "{other}");
}

/// The city's alarm list and the lot's page show the blacklist alarm and the
/// remote lift; the lot's booth shows the lift; at 1400, 1024 and 390 px.
async fn pages(dir: &TempDir, http: u16, lane_port: u16, chromium: &str, driver: &str) {
    let browser = common::webdriver::Browser::start(chromium, driver, &dir.join("chromium")).await;
    let base = format!("http://127.0.0.1:{http}");
    common::add_user(&dir.join("platform.toml"), common::TESTER.0, "admin", &[], common::TESTER.1);
    browser.login(&base, common::TESTER.0, common::TESTER.1).await;
    browser.goto(&format!("{base}/events")).await;
    let rows = browser.texts("#events tr[data-uuid]").await;
    assert!(rows.iter().any(|r| r.contains("黑名单车辆 鲁B44004")), "the alarm: {rows:?}");
    // By date and a part of the plate; and exported.
    let today = local(0).get(..10).unwrap_or_default().to_owned();
    browser.goto(&format!("{base}/events?from={today}&plate=B44004")).await;
    let found = browser.texts("#events tr[data-uuid]").await;
    assert!(!found.is_empty() && found.iter().all(|r| r.contains("B44004")), "{found:?}");
    browser.goto(&format!("{base}/events?to=2020-01-01")).await;
    assert!(browser.text("#no-events").await.is_some(), "nothing before 2020");
    let cookie = browser.cookie("onepark_session").await.map(|v| format!("onepark_session={v}")).unwrap_or_default();
    let csv = client().get(format!("{base}/events?format=csv&plate=B44004")).header("cookie", cookie).send().await;
    let csv = csv.expect("export").text().await.expect("csv");
    assert!(csv.starts_with("\u{feff}时间,车场编号,类别") && csv.contains("鲁B44004"), "{csv}");
    browser.goto(&format!("{base}/events")).await;
    assert!(rows.iter().any(|r| r.contains("手动抬闸") && r.contains("云坐席张")), "the lift: {rows:?}");
    let commands = browser.texts("#commands tr").await;
    assert!(commands.iter().any(|c| c.contains("manage.channels") && c.contains("已确认")), "{commands:?}");
    let online = browser.texts("#cloud-lots tr").await;
    assert!(online.iter().any(|l| l.contains(CODE) && l.contains("在线")), "{online:?}");
    for width in [1400, 1024, 390] {
        browser.window(width, 1000).await;
        browser
            .screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("events-{width}.png")))
            .await;
    }
    browser.window(1400, 1000).await;
    browser.goto(&format!("{base}/events?kind=alarm")).await;
    let alarms = browser.texts("#events tr[data-uuid]").await;
    assert!(!alarms.is_empty() && alarms.iter().all(|r| r.contains("告警")), "only alarms: {alarms:?}");
    browser.goto(&format!("{base}/lots/{}", CODE.replace('/', "%2F"))).await;
    let lot = browser.texts("#lot-events tr[data-uuid]").await;
    assert!(lot.iter().any(|r| r.contains("鲁B44004")), "the lot's page: {lot:?}");
    browser.goto(&format!("http://127.0.0.1:{lane_port}/booth")).await;
    let booth = browser.wait_text("body", |t| t.contains("云平台远程抬闸")).await;
    assert!(booth.contains("云坐席张"), "the booth shows who raised it");
    browser.screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("booth-remote-1400.png")).await;
    browser.close().await;
}
