//! The parking cloud's open API through the real binaries: an integrator
//! registered with `onepark platform integrators add`, whose client signs
//! its requests itself (its own canonical string and MD5, not onepark's
//! code), adds a fixed car to a Qingdao lot (the lot gateway confirms it
//! and lets the car in and out free), pulls 250 cloud entries page by page
//! with one page left unreported (it comes back on the next pull), and is
//! refused, with its code and a msg naming the field, for each kind of bad
//! request.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{Process, client, get, lane, lot_get, onepark, platform_config, start, unix_now, until, vendor_sign};
use onepark_testkit::config::{lot_access, lot_toml};
use onepark_testkit::dirs::TempDir;
use onepark_testkit::net::free_port;

const PID: &str = "9001";
const KEY: &str = "TEST-ONLY-8F3A1C77D2E54B6A9C0D";

struct Cloud {
    base: String,
    pid: String,
    key: String,
    /// Bodies sent: the same request again within a second has the same
    /// sign, which the platform refuses as a replay, so `ok` waits.
    sent: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Cloud {
    /// A request body: bizContent sent as compact JSON text, that same text signed.
    fn body(&self, service: &str, timestamp: i64, biz: &Value) -> String {
        let biz = biz.to_string();
        let params = [
            ("pid", self.pid.clone()),
            ("serviceName", service.to_owned()),
            ("timestamp", timestamp.to_string()),
            ("bizContent", biz.clone()),
        ];
        let sign = vendor_sign(&params, &self.key);
        format!(
            r#"{{"pid":"{}","serviceName":"{service}","timestamp":"{timestamp}","bizContent":{biz},"sign":"{sign}"}}"#,
            self.pid
        )
    }

    async fn post(&self, service: &str, body: String) -> (u16, Value) {
        let reply = client()
            .post(format!("{}/cloudparkapi/api/{service}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("cloud API call");
        let status = reply.status().as_u16();
        let text = reply.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
    }

    /// A signed call that must succeed; its answer.
    async fn ok(&self, service: &str, biz: Value) -> Value {
        let body = loop {
            let body = self.body(service, unix_now(), &biz);
            if self.sent.lock().expect("sent").insert(body.clone()) {
                break body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (status, answer) = self.post(service, body).await;
        assert_eq!((status, answer["code"].as_i64()), (200, Some(200)), "{service} {biz}: {answer}");
        assert_eq!(answer["reqId"].as_str().map(str::len), Some(32), "{answer}");
        answer
    }

    /// A call that must be refused with `code`, its msg containing `needle`.
    async fn refused(&self, service: &str, body: String, code: i64, needle: &str) {
        let (_, answer) = self.post(service, body).await;
        assert_eq!(answer["code"].as_i64(), Some(code), "{service}: {answer}");
        let msg = answer["msg"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{service}: msg {msg:?} should name {needle:?}");
    }
}

/// The QR code's PNG read by another implementation: Python's zlib and
/// CRC-32 (every chunk's checksum, the image's size, its pixels inflate).
fn png_checked_by_python(base64: &str) {
    let script = r#"
import base64, struct, sys, zlib
png = base64.b64decode(sys.stdin.read())
assert png[:8] == b"\x89PNG\r\n\x1a\n", "signature"
at, idat, size = 8, b"", None
while at < len(png):
    n, = struct.unpack(">I", png[at:at + 4]); kind = png[at + 4:at + 8]; data = png[at + 8:at + 8 + n]
    crc, = struct.unpack(">I", png[at + 8 + n:at + 12 + n])
    assert zlib.crc32(kind + data) & 0xffffffff == crc, kind
    if kind == b"IHDR": size = struct.unpack(">II", data[:8])
    if kind == b"IDAT": idat += data
    at += 12 + n
w, h = size
assert w == h and len(zlib.decompress(idat)) == h * (w + 1)
print(w)
"#;
    let child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED the PNG check: no python3");
        return;
    };
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(base64.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(out.status.success(), "the PNG does not read: {}", String::from_utf8_lossy(&out.stderr));
}

/// An hour ago in the platform's zone (Asia/Shanghai).
fn an_hour_ago() -> String {
    let zone = onepark_domain::time::Zone::default();
    onepark_domain::time::format_time(zone.local(chrono::Utc::now()) - chrono::Duration::hours(1))
}

#[tokio::test]
async fn an_integrator_runs_lots_through_the_cloud_api() {
    let dir = TempDir::new("cloudpark-e2e");
    let (http, mqtt, lane_port) = (free_port(), free_port(), free_port());
    let config = platform_config(&dir, http, mqtt, &lot_access("234", &["1001"]));
    let _platform: Process = start(&dir, &["platform", "serve"], &config, http).await;
    let lot_config = dir.join("lot.toml");
    let url = format!("http://127.0.0.1:{http}/api/v1/cp");
    let text = lot_toml("1001", &format!("listen = \"127.0.0.1:{lane_port}\"\n"), &dir.join("lot.db"), (100, 90), &url)
        + &format!("mqtt_url = \"mqtt://127.0.0.1:{mqtt}\"\n");
    std::fs::write(&lot_config, text).expect("lot config");
    let _lot = start(&dir, &["lot", "serve"], &lot_config, lane_port).await;

    let added = onepark(
        &[
            "platform",
            "integrators",
            "add",
            "--pid",
            PID,
            "--secret",
            KEY,
            "--name",
            "物业系统",
            "--park-code",
            "1001",
            "--park-code",
            "2002",
        ],
        &config,
    );
    assert!(added.contains("added 9001"), "{added}");
    assert!(onepark(&["platform", "integrators", "list"], &config).contains("9001\tintegrator\t1001,2002"));
    let cloud =
        Cloud { base: format!("http://127.0.0.1:{http}"), pid: PID.into(), key: KEY.into(), sent: Default::default() };

    // A fixed car for the Qingdao lot: sent as a white-list entry, confirmed,
    // and the car comes and goes without paying.
    let car = json!({ "uuid": "0123456789abcdef0123456789abcdef", "parkCode": "1001", "carNum": "鲁B12345",
        "owner": "张三", "cartypeCode": "81", "carMMoney": "300.00", "balance": 0, "timeStart": "2026-01-01",
        "timeEnd": "2030-12-31", "cargroupUuid": "", "state": 0 });
    cloud.ok("addfixcar", car.clone()).await;
    let mut edited = car.clone();
    edited["owner"] = json!("张三丰");
    edited["timeEnd"] = json!("2031-12-31");
    cloud.ok("editfixcar", edited).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lists = get(format!("http://127.0.0.1:{http}/api/admin/lists?plateNo=%E9%B2%81B12345")).await;
        if lists["items"][0]["delivery"] == "confirmed" {
            assert_eq!(lists["items"][0]["listKind"], 1, "{lists}");
            assert_eq!(lists["items"][0]["endTime"], "2031-12-31 23:59:59", "the edit: {lists}");
            break;
        }
        assert!(Instant::now() < deadline, "the lot never confirmed the fixed car: {lists}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cars = get(format!("http://127.0.0.1:{http}/api/admin/fixed-cars?parkCode=1001")).await;
    assert_eq!(cars["items"][0]["monthlyFee"], 30000, "yuan became fen: {cars}");
    assert_eq!((cars["items"][0]["owner"].as_str(), cars["items"][0]["version"].as_i64()), (Some("张三丰"), Some(2)));
    let entered = lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": "鲁B12345" })).await;
    assert_eq!(entered["open"], true, "{entered}");
    let left = lane(lane_port, "/api/lanes/2/exit", json!({ "plateNo": "鲁B12345" })).await;
    assert_eq!((left["open"].clone(), left["fee"].as_i64()), (json!(true), Some(0)), "{left}");
    let check = cloud.ok("checkFixcar", json!({ "parkCode": "1001", "plateNumber": "鲁B12345" })).await;
    assert_eq!(check["data"]["isFixcar"], 1, "{check}");
    // Deleted: the lot is told to take it off the list.
    cloud.ok("delfixcar", json!({ "uuid": "0123456789abcdef0123456789abcdef", "parkCode": "1001" })).await;
    let check = cloud.ok("checkFixcar", json!({ "parkCode": "1001", "plateNumber": "鲁B12345" })).await;
    assert_eq!(check["data"]["isFixcar"], 0, "{check}");

    // 250 cars put into lot 2002 from the cloud, pulled 100 a page.
    for i in 0..250 {
        let biz = json!({ "parkCode": "2002", "plateNumber": format!("鲁A{:05}", i), "carType": "9",
            "carSubType": "91", "enterTime": an_hour_ago(), "entrance": "undefined",
            "enterOpame": "超管", "inChannelid": "云坐席", "recordNo": format!("rec{i:04}") });
        cloud.ok("modifyInCar", biz).await;
    }
    let pull = |page: i64| {
        cloud.ok("queryAgentParkin", json!({ "page": page.to_string(), "pageSize": "100", "parkCode": "2002" }))
    };
    let mut pages = Vec::new();
    for page in 1.. {
        let answer = pull(page).await;
        let items = answer["data"]["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        assert_eq!(answer["data"]["totalItems"], 250, "{answer}");
        assert_eq!(answer["data"]["totalPages"], 3, "{answer}");
        pages.push(items.iter().map(|i| i["recordNo"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>());
        assert!(page < 10, "pulling never ends");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    let first = pull(1).await;
    assert_eq!(first["data"]["items"][0]["enterOpame"], "超管", "the vendor's spelling: {first}");
    assert_eq!(first["data"]["items"][0]["entrance"], "", "undefined is absent: {first}");
    // Pages 1 and 3 reported synced (the vendor's comma-separated recordNos), page 2 not.
    for page in [&pages[0], &pages[2]] {
        let report = cloud.ok("notifyAgentParkin", json!({ "parkCode": "2002", "recordNos": page.join(",") })).await;
        assert_eq!(report["data"], 1, "{report}");
    }
    let again = pull(1).await;
    let back: Vec<String> = again["data"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["recordNo"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(back, pages[1], "the unreported page comes back, and only it");
    cloud.ok("notifyAgentParkin", json!({ "parkCode": "2002", "recordNos": back.join(",") })).await;
    assert_eq!(pull(1).await["data"]["items"], json!([]));
    // A stay closed from the cloud comes back once, as no longer in the lot.
    cloud.ok("delInCar", json!({ "parkCode": "2002", "recordNo": "rec0007", "remark": "僵尸车" })).await;
    let closed = pull(1).await;
    assert_eq!(closed["data"]["items"][0]["recordNo"], "rec0007", "{closed}");
    assert_eq!(closed["data"]["items"][0]["carStatus"], 2, "{closed}");

    // The other answers: arrears, the lot's status, its QR code.
    let arrears = cloud.ok("queryArrears", json!({ "plateNumber": "鲁B12345" })).await;
    assert_eq!((arrears["data"]["hasArrears"].as_i64(), arrears["data"]["arrearsFee"].as_i64()), (Some(0), Some(0)));
    let status = cloud.ok("queryMqStatus", json!({ "parkCode": "1001" })).await;
    assert_eq!(status["data"]["links"], json!(["qdpark"]), "{status}");
    assert_eq!(status["data"]["online"], 1, "the gateway reports: {status}");
    let qr = cloud.ok("getParkQrCode", json!({ "parkCode": "1001", "format": "png" })).await;
    assert_eq!(qr["data"]["url"], format!("http://127.0.0.1:{http}/pay?lot=1001"), "{qr}");
    png_checked_by_python(qr["data"]["content"].as_str().unwrap_or_default());
    let svg = cloud.ok("getParkQrCode", json!({ "parkCode": "1001" })).await;
    assert!(svg["data"]["content"].as_str().is_some_and(|s| s.starts_with("<svg")), "{svg}");

    // Every refusal: its code and a msg naming what failed.
    let biz = json!({ "parkCode": "1001" });
    // A second ahead: the same request was just sent for the status above.
    let good = cloud.body("queryMqStatus", unix_now() + 1, &biz);
    let tampered = good.replace(r#""parkCode":"1001""#, r#""parkCode":"2002""#);
    cloud.refused("queryMqStatus", tampered, 402, "bizContent={\"parkCode\":\"2002\"}&pid=9001").await;
    cloud.refused("queryMqStatus", cloud.body("queryMqStatus", unix_now() - 400, &biz), 408, "timestamp").await;
    let (_, first) = cloud.post("queryMqStatus", good.clone()).await;
    assert_eq!(first["code"], 200, "{first}");
    cloud.refused("queryMqStatus", good, 409, "重复").await;
    let stranger = Cloud { base: cloud.base.clone(), pid: "777".into(), key: KEY.into(), sent: Default::default() };
    stranger.refused("queryMqStatus", stranger.body("queryMqStatus", unix_now(), &biz), 401, "pid 777").await;
    let foreign = json!({ "parkCode": "3003" });
    cloud.refused("queryMqStatus", cloud.body("queryMqStatus", unix_now(), &foreign), 403, "3003").await;
    cloud.refused("queryMqStatus", cloud.body("fooBar", unix_now(), &biz), 400, "不一致").await;
    cloud.refused("fooBar", cloud.body("fooBar", unix_now(), &biz), 404, "fooBar").await;
    let no_plate = json!({ "parkCode": "2002", "carType": 9, "enterTime": an_hour_ago(), "recordNo": "x" });
    cloud.refused("modifyInCar", cloud.body("modifyInCar", unix_now(), &no_plate), 400, "bizContent.plateNumber").await;
    let bad_page = json!({ "page": "one", "pageSize": 10, "parkCode": "2002" });
    cloud
        .refused("queryAgentParkin", cloud.body("queryAgentParkin", unix_now(), &bad_page), 400, "bizContent.page")
        .await;
    let big = json!({ "page": 1, "pageSize": 1000, "parkCode": "2002" });
    let capped = cloud.ok("queryAgentParkin", big).await;
    assert!(capped["msg"].as_str().is_some_and(|m| m.contains("pageSize 1000")), "{capped}");
    assert_eq!(capped["data"]["itemsPerPage"], 100, "{capped}");
    cloud.refused("queryMqStatus", format!("{{\"pad\":\"{}\"}}", "x".repeat(70_000)), 413, "KiB").await;
    cloud.refused("queryMqStatus", "{\"pid\":".into(), 400, "JSON").await;
    let unsigned =
        format!(r#"{{"pid":"{PID}","serviceName":"queryMqStatus","timestamp":{},"bizContent":{{}}}}"#, unix_now());
    cloud.refused("queryMqStatus", unsigned, 400, "sign").await;

    // Operators see the answers by service and code.
    let metrics = client().get(format!("http://127.0.0.1:{http}/metrics")).send().await.expect("metrics");
    let metrics = metrics.text().await.expect("text");
    for series in [
        r#"service="modifyInCar",code="200"} 250"#,
        r#"service="queryMqStatus",code="402"} 1"#,
        r#"service="unknown",code="404"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} in /metrics");
    }

    match common::webdriver::find() {
        Some((chromium, driver)) => dashboard(&dir, http, &chromium, &driver).await,
        None => eprintln!("SKIPPED the cloud API page in Chromium: install chromium and chromium-driver (Debian)"),
    }
}

/// The dashboard's cloud page: the pids, a pid registered from the form
/// (its secret shown once, in the answer, never in a URL), the fixed cars,
/// at a desktop's, a small laptop's and a phone's width.
async fn dashboard(dir: &TempDir, http: u16, chromium: &str, driver: &str) {
    let browser = common::webdriver::Browser::start(chromium, driver, &dir.join("chromium")).await;
    let base = format!("http://127.0.0.1:{http}");
    common::add_user(&dir.join("platform.toml"), common::TESTER.0, "admin", &[], common::TESTER.1);
    browser.login(&base, common::TESTER.0, common::TESTER.1).await;
    browser.goto(&format!("{base}/cloud")).await;
    let pids = browser.attributes("#principals tr[data-pid]", "data-pid").await;
    assert_eq!(pids, ["9001"], "the registered integrator");
    let cars = browser.texts("#fixed-cars tr[data-uuid]").await;
    assert!(cars.iter().any(|c| c.contains("鲁B12345") && c.contains("已删除")), "the deleted fixed car: {cars:?}");
    browser.type_into("#add-pid input[name=pid]", "web1").await;
    browser.type_into("#add-pid input[name=name]", "访客系统").await;
    browser.type_into("#add-pid input[name=codes]", "1001").await;
    browser.click_and_wait("#add-pid button[type=submit]").await;
    let secret = browser.text("#secret code").await.unwrap_or_default();
    assert_eq!(secret.len(), 32, "a made secret, shown once: {secret:?}");
    assert!(!browser.current_url().await.contains(&secret), "never in the address");
    let listed = onepark(&["platform", "integrators", "list"], &dir.join("platform.toml"));
    assert!(listed.contains("web1\tintegrator\t1001") && !listed.contains(&secret), "{listed}");
    browser.goto(&format!("{base}/cloud")).await;
    for width in [1400, 1024, 390] {
        browser.window(width, 1000).await;
        browser.screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cloud-{width}.png"))).await;
    }
    browser.window(1400, 1000).await;
    browser.click_confirm_and_wait("tr[data-pid='web1'] button.danger").await;
    let notice = browser.wait_text("#notice", |t| t.contains("web1")).await;
    assert!(notice.contains("已删除"), "{notice}");
    browser.close().await;
}

const LOT_KEY: &str = "TEST-ONLY-LOT-5B0E9D21C4A34F6E";

fn plates(records: &Value) -> Vec<String> {
    let mut plates: Vec<String> = records["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["plateNo"].as_str().unwrap_or_default().to_owned())
        .collect();
    plates.sort();
    plates
}

#[tokio::test]
async fn a_gateway_speaks_qingdao_and_the_cloud_and_an_outage_of_one_holds_nothing_back() {
    let dir = TempDir::new("cloudpark-dual");
    let (qdir, cdir) = (dir.join("qingdao"), dir.join("cloud"));
    std::fs::create_dir_all(&qdir).expect("dir");
    std::fs::create_dir_all(&cdir).expect("dir");
    let (q_http, q_mqtt, c_http, c_mqtt, lane_port) = (free_port(), free_port(), free_port(), free_port(), free_port());
    let q_config = platform_config(&qdir, q_http, q_mqtt, &lot_access("234", &["1001"]));
    let c_config = platform_config(&cdir, c_http, c_mqtt, "");
    let mut qingdao = Some(start(&qdir, &["platform", "serve"], &q_config, q_http).await);
    let _cloud = start(&cdir, &["platform", "serve"], &c_config, c_http).await;
    onepark(
        &[
            "platform",
            "integrators",
            "add",
            "--pid",
            "lot1001",
            "--secret",
            LOT_KEY,
            "--kind",
            "lot",
            "--park-code",
            "1001",
        ],
        &c_config,
    );
    onepark(&["platform", "integrators", "add", "--pid", PID, "--secret", KEY, "--park-code", "1001"], &c_config);
    let cloud = Cloud {
        base: format!("http://127.0.0.1:{c_http}"),
        pid: PID.into(),
        key: KEY.into(),
        sent: Default::default(),
    };

    // Before the lot starts, the integrator adds a fixed car and puts a car in.
    let card = json!({ "uuid": "card-0001", "parkCode": "1001", "carNum": "鲁B11111", "owner": "李四",
        "timeStart": "2026-01-01", "timeEnd": "2030-12-31" });
    cloud.ok("addfixcar", card).await;
    let an_hour_ago = an_hour_ago();
    let stay = json!({ "parkCode": "1001", "plateNumber": "鲁C22222", "carType": 9, "carSubType": 91,
        "enterTime": an_hour_ago, "entrance": "云坐席", "enterOpame": "超管", "recordNo": "cloud-1" });
    cloud.ok("modifyInCar", stay).await;

    let lot_config = dir.join("lot.toml");
    let url = format!("http://127.0.0.1:{q_http}/api/v1/cp");
    let text = lot_toml("1001", &format!("listen = \"127.0.0.1:{lane_port}\"\n"), &dir.join("lot.db"), (100, 90), &url)
        + &format!("mqtt_url = \"mqtt://127.0.0.1:{q_mqtt}\"\n")
        + &format!(
            "[cloudpark]\nurl = \"http://127.0.0.1:{c_http}\"\npid = \"lot1001\"\nsecret = \"{LOT_KEY}\"\npull_seconds = 5\n"
        );
    std::fs::write(&lot_config, text).expect("lot config");
    let _lot = start(&dir, &["lot", "serve"], &lot_config, lane_port).await;

    // The lot pulls on start: the fixed car is a month card, the car a session, both reported synced.
    until("the pulled month card", || async {
        let cards = lot_get(lane_port, "/api/month-cards").await;
        (cards["items"][0]["id"] != "cloud-card-0001").then_some(cards)
    })
    .await;
    until("the pulled stay", || async {
        let open = lot_get(lane_port, "/api/sessions?state=open").await;
        (!open.to_string().contains("鲁C22222")).then_some(open)
    })
    .await;
    until("the fixed car synced", || async {
        let cars = get(format!("http://127.0.0.1:{c_http}/api/admin/fixed-cars?parkCode=1001")).await;
        (cars["items"][0]["syncedVersion"] != cars["items"][0]["version"]).then_some(cars)
    })
    .await;
    // Pulling is the lot's own pid's, not an integrator's.
    let pull = json!({ "page": 1, "pageSize": 100, "parkCode": "1001" });
    cloud.refused("queryAgentParkin", cloud.body("queryAgentParkin", unix_now(), &pull), 403, "lot1001").await;

    // The Qingdao platform goes down; cars keep coming and going.
    drop(qingdao.take());
    let entered = lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": "鲁B11111" })).await;
    assert_eq!(entered["open"], true, "the month card lets it in: {entered}");
    let entered = lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": "鲁D33333" })).await;
    assert_eq!(entered["open"], true, "{entered}");
    let left = lane(lane_port, "/api/lanes/2/exit", json!({ "plateNo": "鲁B11111" })).await;
    assert_eq!((left["open"].clone(), left["fee"].as_i64()), (json!(true), Some(0)), "{left}");
    // The cloud closes the stay it made; the lot applies it on its next pull.
    cloud.ok("delInCar", json!({ "parkCode": "1001", "recordNo": "cloud-1", "remark": "僵尸车" })).await;
    until("the cloud's stay closed at the lot", || async {
        let open = lot_get(lane_port, "/api/sessions?state=open").await;
        open.to_string().contains("鲁C22222").then_some(open)
    })
    .await;

    // The cloud heard everything, the cloud's own stay under its recordNo.
    until("the cloud's records", || async {
        let records = get(format!("http://127.0.0.1:{c_http}/api/admin/records?parkingCode=1001")).await;
        let left = records["items"].as_array().into_iter().flatten().filter(|r| !r["endTime"].is_null()).count();
        (plates(&records) != ["鲁B11111", "鲁C22222", "鲁D33333"] || left != 2).then_some(records)
    })
    .await;
    let records =
        get(format!("http://127.0.0.1:{c_http}/api/admin/records?parkingCode=1001&plateNo=%E9%B2%81C22222")).await;
    assert_eq!(records["items"][0]["uid"], "cloud-1", "{records}");
    let status = lot_get(lane_port, "/api/status").await;
    assert!(
        status["outbox"]["pending"].as_i64().is_some_and(|n| n >= 4),
        "Qingdao's backlog waits: two entries, two exits: {status}"
    );
    // The cloud's rows are all delivered (the lot records an acknowledgement a moment after the cloud stores it).
    until("the cloud's link not held back", || async {
        let status = lot_get(lane_port, "/api/status").await;
        (status["cloudpark"]["pending"] != 0).then_some(status)
    })
    .await;

    // Qingdao is back: its outbox drains, and it holds the same stays.
    qingdao = Some(start(&qdir, &["platform", "serve"], &q_config, q_http).await);
    until("Qingdao's outbox drained", || async {
        let status = lot_get(lane_port, "/api/status").await;
        (status["outbox"]["pending"] != 0 || status["outbox"]["refused"] != 0).then_some(status)
    })
    .await;
    let records = get(format!("http://127.0.0.1:{q_http}/api/admin/records?parkingCode=1001")).await;
    assert_eq!(plates(&records), ["鲁B11111", "鲁C22222", "鲁D33333"], "{records}");
    drop(qingdao);
}

#[tokio::test]
async fn a_gateway_runs_on_the_cloud_alone() {
    let dir = TempDir::new("cloudpark-alone");
    let (c_http, c_mqtt, lane_port) = (free_port(), free_port(), free_port());
    let c_config = platform_config(&dir, c_http, c_mqtt, "");
    let _cloud = start(&dir, &["platform", "serve"], &c_config, c_http).await;
    onepark(
        &[
            "platform",
            "integrators",
            "add",
            "--pid",
            "lot3003",
            "--secret",
            LOT_KEY,
            "--kind",
            "lot",
            "--park-code",
            "3003",
        ],
        &c_config,
    );
    onepark(&["platform", "integrators", "add", "--pid", PID, "--secret", KEY, "--park-code", "3003"], &c_config);
    let cloud = Cloud {
        base: format!("http://127.0.0.1:{c_http}"),
        pid: PID.into(),
        key: KEY.into(),
        sent: Default::default(),
    };
    let card = json!({ "uuid": "card-3003", "parkCode": "3003", "carNum": "鲁F66666", "timeStart": "2026-01-01", "timeEnd": "2030-12-31" });
    cloud.ok("addfixcar", card).await;

    // No [platform]: the lot's only link is the cloud.
    let lot_config = dir.join("lot.toml");
    let text = format!(
        "parking_code = \"3003\"\nlisten = \"127.0.0.1:{lane_port}\"\ndatabase = \"sqlite://{db}\"\n\
         [berths]\ntotal = 50\nopen = 40\n\
         [[lanes]]\nid = \"1\"\ndirection = \"entry\"\n[[lanes]]\nid = \"2\"\ndirection = \"exit\"\n\
         [cloudpark]\nurl = \"http://127.0.0.1:{c_http}\"\npid = \"lot3003\"\nsecret = \"{LOT_KEY}\"\npull_seconds = 5\n",
        db = dir.join("lot.db").display()
    );
    std::fs::write(&lot_config, text).expect("lot config");
    let _lot = start(&dir, &["lot", "serve"], &lot_config, lane_port).await;
    until("the pulled month card", || async {
        let cards = lot_get(lane_port, "/api/month-cards").await;
        (cards["items"][0]["id"] != "cloud-card-3003").then_some(cards)
    })
    .await;
    let entered = lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": "鲁F66666" })).await;
    assert_eq!(entered["open"], true, "{entered}");
    let entered = lane(lane_port, "/api/lanes/1/entry", json!({ "plateNo": "鲁G77777" })).await;
    assert_eq!(entered["open"], true, "{entered}");
    let left = lane(lane_port, "/api/lanes/2/exit", json!({ "plateNo": "鲁F66666" })).await;
    assert_eq!(left["open"], true, "the month card leaves free: {left}");
    until("the cloud's records, the exit included", || async {
        let records = get(format!("http://127.0.0.1:{c_http}/api/admin/records?parkingCode=3003")).await;
        let left = records["items"].as_array().into_iter().flatten().filter(|r| !r["endTime"].is_null()).count();
        (plates(&records) != ["鲁F66666", "鲁G77777"] || left != 1).then_some(records)
    })
    .await;
    until("the cloud's outbox drained", || async {
        let status = lot_get(lane_port, "/api/status").await;
        (status["cloudpark"]["pending"] != 0 || status["outbox"]["pending"] != 0).then_some(status)
    })
    .await;
    let reply = client().post(format!("http://127.0.0.1:{lane_port}/api/reconcile")).send().await.expect("reconcile");
    assert_eq!(reply.status(), 409, "no Qingdao platform to reconcile with");
}
