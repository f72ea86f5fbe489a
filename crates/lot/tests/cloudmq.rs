//! The cloud's MQ channel at its edges (issue 24), with the platform and the
//! gateway in process on the embedded broker: cloud-lot logins and topics
//! (signed, bound to the lot's park codes, exact topics only), a report sent
//! twice stored once and acknowledged twice, a report naming another lot
//! refused, and on the gateway a command's uuid applied once, a stale
//! command refused unapplied, a command for another lot refused.

use std::time::Duration;

use onepark_cloudpark::channel::login_password;
use onepark_cloudpark::mq::Envelope;
use onepark_lot::app::start;
use onepark_lot::config::Config;
use onepark_testkit::dirs::TempDir;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeFilter, SubscribeReasonCode,
};
use serde_json::{Value, json};

mod common;

const LOT_PID: &str = "lot5005";
const LOT_KEY: &str = "TEST-ONLY-LOT-3C9E0B7A61D24F58";
const CODE: &str = "TEST/5005P1";
const OTHER: &str = "TEST/5006P1";

async fn admin(base: &str, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth("t")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("admin");
    serde_json::from_str(&r.text().await.expect("body")).expect("JSON")
}

async fn events(base: &str) -> Vec<Value> {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/admin/lot-events"))
        .bearer_auth("t")
        .send()
        .await
        .expect("events");
    let v: Value = serde_json::from_str(&r.text().await.expect("body")).expect("JSON");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn host_port(url: &str) -> (String, u16) {
    let rest = url.trim_start_matches("mqtt://");
    let (host, port) = rest.rsplit_once(':').expect("host:port");
    (host.to_owned(), port.parse().expect("port"))
}

async fn connack(events: &mut EventLoop) -> Result<(), ConnectionError> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.poll()).await.expect("an answer") {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The next message published to this client (driving its event loop), as JSON.
async fn next_raw(events: &mut EventLoop) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.poll()).await.expect("a message in time") {
            Ok(Event::Incoming(Packet::Publish(p))) => return serde_json::from_slice(&p.payload).expect("JSON"),
            Ok(_) => {}
            Err(e) => panic!("connection: {e}"),
        }
    }
}

async fn next_message(events: &mut EventLoop) -> Envelope {
    Envelope::parse(next_raw(events).await.to_string().as_bytes()).expect("an envelope")
}

async fn suback(events: &mut EventLoop) -> Vec<SubscribeReasonCode> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.poll()).await.expect("a suback") {
            Ok(Event::Incoming(Packet::SubAck(ack))) => return ack.return_codes,
            Ok(_) => {}
            Err(e) => panic!("connection: {e}"),
        }
    }
}

fn report(uuid: &str, park_code: &str) -> String {
    json!({ "code": 1, "uuid": uuid, "serviceId": "sync.alarm.blacklist", "parkCode": park_code,
        "dataItems": [{ "plateNumber ": "鲁B55001", "channelid": 1, "channelName": "入口1", "enterTime": "2026-12-4 9:05:00" }],
        "timestamp": "2026-12-04 09:05:01" })
    .to_string()
}

#[tokio::test]
async fn cloud_lots_reach_only_their_topics_and_reports_are_stored_once() {
    let dir = TempDir::new("cloudmq-acl");
    let p = common::platform(dir.path(), "5000", "listen = \"127.0.0.1:0\"\nmqtt_listen = \"127.0.0.1:0\"").await;
    let base = format!("http://{}", p.http);
    for (pid, code) in [(LOT_PID, CODE), ("lot5006", OTHER)] {
        let added = admin(
            &base,
            "/api/admin/integrators",
            json!({ "pid": pid, "secret": LOT_KEY, "kind": "lot", "parkCodes": [code] }),
        )
        .await;
        assert_eq!(added["pid"], pid, "{added}");
    }
    let (host, port) = host_port(&format!("mqtt://{}", p.mqtt.as_ref().expect("embedded").addr));
    let now = chrono::Utc::now().timestamp();
    let login = |client_id: &str, password: String| {
        let mut options = MqttOptions::new(client_id, host.clone(), port);
        options.set_credentials(LOT_PID, password);
        AsyncClient::new(options, 16)
    };
    // A wrong secret, another lot's code as client id, a stale password.
    for (client_id, password) in [
        (format!("{CODE}_a"), login_password(LOT_PID, &format!("{CODE}_a"), "TEST-ONLY-WRONG-SECRET-000", now)),
        (format!("{OTHER}_a"), login_password(LOT_PID, &format!("{OTHER}_a"), LOT_KEY, now)),
        (format!("{CODE}_a"), login_password(LOT_PID, &format!("{CODE}_a"), LOT_KEY, now - 3600)),
    ] {
        let (_c, mut events) = login(&client_id, password);
        assert!(connack(&mut events).await.is_err(), "{client_id} must be refused");
    }
    let id = format!("{CODE}_booth1");
    let (client, mut ev) = login(&id, login_password(LOT_PID, &id, LOT_KEY, now));
    connack(&mut ev).await.expect("a good login");
    let filters = [
        format!("tcp/{CODE}"),
        "tcp/querymonthcard".into(),
        format!("tcp/{OTHER}"),
        "tcp/#".into(),
        format!("pts/{CODE}"),
    ];
    client
        .subscribe_many(filters.iter().map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce)))
        .await
        .expect("subscribe");
    let codes = suback(&mut ev).await;
    assert!(codes[..2].iter().all(|c| *c == SubscribeReasonCode::Success(QoS::AtLeastOnce)), "{codes:?}");
    assert!(codes[2..].iter().all(|c| *c == SubscribeReasonCode::Failure), "{codes:?}");

    // A report twice: acknowledged twice with its uuid, stored once.
    for _ in 0..2 {
        client.publish(format!("pts/{CODE}"), QoS::AtLeastOnce, false, report("r-1", CODE)).await.expect("publish");
        let ack = next_message(&mut ev).await;
        assert_eq!((ack.uuid.as_str(), ack.code, ack.service_id.as_str()), ("r-1", 1, "sync.alarm.blacklist"));
    }
    let stored = events(&base).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!((stored[0]["plateNo"].as_str(), stored[0]["kind"].as_str()), (Some("鲁B55001"), Some("alarm")));
    // Its own topic, another lot's parkCode inside: refused with the reason.
    client.publish(format!("pts/{CODE}"), QoS::AtLeastOnce, false, report("r-2", OTHER)).await.expect("publish");
    let refused = next_message(&mut ev).await;
    assert_eq!(refused.code, 0);
    assert!(refused.msg.unwrap_or_default().contains("与主题"), "names the mismatch");
    // A serviceId nobody knows, and a body that is not an envelope.
    let unknown = json!({ "uuid": "r-3", "serviceId": "sync.nothing", "parkCode": CODE }).to_string();
    client.publish(format!("pts/{CODE}"), QoS::AtLeastOnce, false, unknown).await.expect("publish");
    assert!(next_message(&mut ev).await.msg.unwrap_or_default().contains("serviceId"));
    client.publish(format!("pts/{CODE}"), QoS::AtLeastOnce, false, "{\"uuid\":").await.expect("publish");
    let refused = next_raw(&mut ev).await;
    assert!(refused["code"] == 0 && refused["msg"].as_str().unwrap_or_default().contains("JSON"), "{refused}");
    // Every pts report is acknowledged and lands: entries and exits as records, the rest as events.
    let reports = [
        ("sync.park.online.status", json!({ "mac": "12_12_12_12" })),
        (
            "sync.enter.in.record",
            json!({ "plateNumber": "鲁B55010", "carType": 9, "carSubType": 91, "carStatus": 1,
            "enterTime": "2026-12-04 08:00:00", "entrance": "入口1", "recognizeType": 0, "remainParkNum": 9,
            "totalParkNum": 10, "recordNo": "r55010", "inChannelid": "1", "cplx": "02" }),
        ),
        (
            "sync.leave.out.record",
            json!({ "plateNumber": "鲁B55010", "carType": 9, "carSubType": 91, "carStatus": 2,
            "enterTime": "2026-12-04 08:00:00", "leaveTime": "2026-12-04 09:30:00", "useTime": 90, "exit": "出口2",
            "inChannelid": "1", "outChannelid": "2", "releaseType": 1, "paidFee": "6", "payableFee": 6.5,
            "discountFee": "0.50", "payType": 4, "recordNo": "r55010", "remainParkNum": 10, "totalParkNum": 10 }),
        ),
        ("sync.payparkingfeeorder", json!({ "orderNo": "x" })),
        (
            "sync.pre.out.record",
            json!({ "plateID": "p1", "plateNumber": "鲁B55011", "paidFee": "3.00", "outChannelid": "2" }),
        ),
        ("sync.parkinfo", json!({ "totalParkNum": 10, "freeTime": 15, "workspace": "岗亭1" })),
        ("sync.pre.in.record", json!({ "plateNumber": "鲁B55012", "entrance": "入口1", "channelScene": 0 })),
        ("sync.alarm.turnaround", json!({ "plateNumber": "鲁B55013", "channelName": "出口2" })),
        ("sync.alarm.opengate", json!({ "channelName": "出口2", "alarmTime": "2026-12-04 09:00:00" })),
        ("sync.etc.consume.upload", json!({ "recordNo": "e1" })),
        (
            "sync.manualopengate.record",
            json!({ "recordNo": "m1", "channelId": 2, "channelName": "出口2", "pic": "",
            "OpName": "岗亭", "OpTime": "2026-12-04 09:10:00", "OpType": "救护车" }),
        ),
        ("sync.park.running.status", json!({ "cpu": 12, "disk": "ok" })),
        ("sync.intercom.upload", json!({ "channelId": 2, "channelName": "出口2", "content": "呼叫" })),
        ("sync.alarm.device", json!({ "deviceName": "缴费机1", "content": "缺纸" })),
        ("sync.leave.cancel.record", json!({ "plateNumber": "鲁B55014", "channelName": "出口2", "reason": "倒车" })),
        (
            "sync.alarm.parking",
            json!({ "type": 22, "plateNumber": "鲁B55015", "pic": "", "alarmTime": "2026-12-04 09:20:00",
            "channelId": 1, "channelName": "入口1" }),
        ),
        (
            "sync.notify.upload",
            json!({ "type": 0, "channelId": 1, "content": "交班", "data": { "carNum": "", "content": "交班" } }),
        ),
    ];
    for (n, (service, item)) in reports.iter().enumerate() {
        let m = json!({ "code": 1, "uuid": format!("all-{n}"), "serviceId": service, "parkCode": CODE, "dataItems": [item] });
        client.publish(format!("pts/{CODE}"), QoS::AtLeastOnce, false, m.to_string()).await.expect("publish");
        let ack = next_message(&mut ev).await;
        assert_eq!((ack.uuid.as_str(), ack.code), (format!("all-{n}").as_str(), 1), "{service}: {ack:?}");
        if *service == "sync.manualopengate.record" {
            assert_eq!(ack.data_items[0]["num"], 1, "2.11 answers the number processed");
        }
    }
    let records = reqwest::Client::new()
        .get(format!("{base}/api/admin/records?parkingCode={}", CODE.replace('/', "%2F")))
        .bearer_auth("t")
        .send()
        .await
        .expect("records");
    let records: Value = serde_json::from_str(&records.text().await.expect("body")).expect("JSON");
    let stay = &records["items"][0];
    assert_eq!(
        (stay["plateNo"].as_str(), stay["shouldPay"].as_i64()),
        (Some("鲁B55010"), Some(600)),
        "yuan on MQ (6.5 less 0.50), fen stored: {records}"
    );
    assert_eq!(stay["endTime"], "2026-12-04 09:30:00");
    let stored = events(&base).await;
    let kinds = |kind: &str| stored.iter().filter(|e| e["kind"] == kind).count();
    assert_eq!(
        (kinds("alarm"), kinds("lift"), kinds("notice"), kinds("bill"), kinds("info")),
        (5, 1, 3, 2, 3),
        "{stored:?}"
    );

    // Another lot's report topic: the broker refuses it (and drops the connection).
    client.publish(format!("pts/{OTHER}"), QoS::AtLeastOnce, false, report("r-4", OTHER)).await.expect("publish");
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if ev.poll().await.is_err() {
                break;
            }
        }
    })
    .await;
    assert_eq!(events(&base).await.len(), stored.len(), "nothing stored for the forged topic");
}

/// A command as the platform publishes it, straight onto the lot's topic.
fn command(uuid: &str, park_code: &str, service: &str, action: &str, item: Value, expire: &str) -> String {
    let action = if action.is_empty() { Value::Null } else { json!(action) };
    json!({ "code": 1, "uuid": uuid, "serviceId": service, "parkCode": park_code, "action": action,
        "dataItems": [item], "msg": "", "opt": "test", "timestamp": "2026-12-04 09:00:00", "expireTime": expire })
    .to_string()
}

/// Waits until the lot answers on its topic (its subscription is in place):
/// a harmless query, asked again every second.
async fn lot_listening(cloud: &AsyncClient, ev: &mut EventLoop) {
    for n in 0..60 {
        let probe = json!({ "code": 1, "uuid": format!("probe-{n}"), "serviceId": "manage.cartypes", "parkCode": CODE,
            "action": "query", "dataItems": [], "expireTime": "2099-01-01 00:00:00" });
        cloud.publish(format!("tcp/{CODE}"), QoS::AtLeastOnce, false, probe.to_string()).await.expect("publish");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(event) = tokio::time::timeout_at(deadline, ev.poll()).await {
            if let Ok(Event::Incoming(Packet::Publish(p))) = event
                && Envelope::parse(&p.payload).is_ok_and(|m| m.uuid.starts_with("probe-"))
            {
                // Later probes' answers may still come: drain them.
                let _ = tokio::time::timeout(Duration::from_millis(300), async {
                    loop {
                        let _ = ev.poll().await;
                    }
                })
                .await;
                return;
            }
        }
    }
    panic!("the lot never answered on its topic");
}

#[tokio::test]
async fn a_gateway_applies_a_command_once_and_never_a_stale_or_foreign_one() {
    let mut rig = Rig::new("cloudmq-lot", "").await;
    // A barrier order applied once though it comes twice: the controller sees one.
    let mut orders = rig.lot.controllers().subscribe("2");
    let acks = rig.lot.clone();
    let counted = tokio::spawn(async move {
        let mut n = 0;
        while let Ok(Ok(order)) = tokio::time::timeout(Duration::from_secs(5), orders.recv()).await {
            n += 1;
            assert!(acks.controllers().ack("2", order.id, onepark_lot::orders::Ack { ok: true, msg: String::new() }));
        }
        n
    });
    let raise = json!({ "channelId": 2, "type": "0", "operator": "云坐席", "cmd": 1 });
    let later = "2099-01-01 00:00:00";
    for _ in 0..2 {
        rig.send(command("c-0", CODE, "parking.remote", "", raise.clone(), later)).await;
        let a = rig.answer_to("c-0").await;
        assert_eq!((a.uuid.as_str(), a.code, a.msg.as_deref()), ("c-0", 1, Some("已抬闸")), "{a:?}");
    }
    assert_eq!(counted.await.expect("joined"), 1, "one raise for one uuid");
    let lock = json!({ "ID": 0, "CarNum": "鲁B55002", "Locker": "车主" });
    rig.send(command("c-1", CODE, "manage.lockcars", "add", lock, later)).await;
    assert_eq!(rig.answer_to("c-1").await.code, 1);
    let listed = json!({ "page": 1, "pageSize": 10 });
    rig.send(command("c-2", CODE, "manage.lockcars", "query", listed, later)).await;
    let page = rig.answer_to("c-2").await;
    assert_eq!(page.data_items[0]["TotalItems"], 1, "{page:?}");

    // Stale: refused, not applied.
    let stale = json!({ "ID": 0, "CarNum": "鲁B55003", "Locker": "车主" });
    rig.send(command("c-3", CODE, "manage.lockcars", "add", stale, "2020-01-01 00:00:00")).await;
    let refused = rig.answer_to("c-3").await;
    assert_eq!(refused.code, 0);
    assert!(refused.msg.clone().unwrap_or_default().contains("过期"), "{refused:?}");
    // Another lot's parkCode on this lot's topic.
    let foreign = json!({ "ID": 0, "CarNum": "鲁B55004", "Locker": "车主" });
    rig.send(command("c-4", OTHER, "manage.lockcars", "add", foreign, later)).await;
    let refused = rig.answer_to("c-4").await;
    assert!(refused.code == 0 && refused.msg.clone().unwrap_or_default().contains(OTHER), "{refused:?}");
    // Malformed dataItems: the field named.
    let bad = json!({ "ID": 0, "Locker": "车主" });
    rig.send(command("c-5", CODE, "manage.lockcars", "add", bad, later)).await;
    let refused = rig.answer_to("c-5").await;
    assert!(refused.msg.clone().unwrap_or_default().contains("dataItems[0].CarNum"), "{refused:?}");
    let check = json!({ "page": 1, "pageSize": 10 });
    rig.send(command("c-6", CODE, "manage.lockcars", "query", check, later)).await;
    assert_eq!(
        rig.answer_to("c-6").await.data_items[0]["TotalItems"],
        1,
        "neither the stale nor the foreign lock applied"
    );
}

/// A platform (its embedded broker) and a gateway speaking the cloud, with
/// the platform's publisher standing in for the cloud.
struct Rig {
    _dir: TempDir,
    _platform: onepark_platform::app::Spawned,
    lot: onepark_lot::app::LotState,
    url: String,
    cloud: AsyncClient,
    ev: EventLoop,
    n: u64,
}

impl Rig {
    async fn new(name: &str, extra: &str) -> Rig {
        let dir = TempDir::new(name);
        let p = common::platform(dir.path(), "5000", "listen = \"127.0.0.1:0\"\nmqtt_listen = \"127.0.0.1:0\"").await;
        let base = format!("http://{}", p.http);
        admin(
            &base,
            "/api/admin/integrators",
            json!({ "pid": LOT_PID, "secret": LOT_KEY, "kind": "lot", "parkCodes": [CODE] }),
        )
        .await;
        let embedded = p.mqtt.clone().expect("embedded");
        let broker = format!("mqtt://{}", embedded.addr);
        let toml = format!(
            "parking_code = \"{CODE}\"\nlisten = \"127.0.0.1:0\"\ndatabase = \"sqlite://{db}\"\n[berths]\ntotal = 10\nopen = 10\n\
             [[lanes]]\nid = \"1\"\ndirection = \"entry\"\n[[lanes]]\nid = \"2\"\ndirection = \"exit\"\n\
             [tariff]\nfree_minutes = 15\nperiod_minutes = 60\nprice = 300\ncycle_cap = 1200\n{extra}\n\
             [cloudpark]\nurl = \"{base}\"\npid = \"{LOT_PID}\"\nsecret = \"{LOT_KEY}\"\nmqtt_url = \"{broker}\"\n",
            db = dir.path().join("lot.db").display()
        );
        std::fs::write(dir.path().join("lot.toml"), toml).expect("config");
        let lot = start(Config::load(&dir.path().join("lot.toml")).expect("config")).await.expect("lot starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = onepark_lot::app::router(lot.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let (host, port) = host_port(&broker);
        let mut options = MqttOptions::new(format!("test-cloud-{name}"), host, port);
        options.set_credentials(embedded.publisher.username.clone(), embedded.publisher.password.clone());
        let (cloud, mut ev) = AsyncClient::new(options, 16);
        connack(&mut ev).await.expect("publisher login");
        cloud.subscribe(format!("pts/{CODE}"), QoS::AtLeastOnce).await.expect("subscribe");
        suback(&mut ev).await;
        lot_listening(&cloud, &mut ev).await;
        Rig { _dir: dir, _platform: p, lot, url, cloud, ev, n: 0 }
    }

    /// Sends a command; its answer (the lot's reports skipped).
    async fn ask(&mut self, service: &str, action: &str, items: Value) -> Envelope {
        self.n += 1;
        let uuid = format!("q-{}", self.n);
        let items = if items.is_array() { items } else { json!([items]) };
        let action = if action.is_empty() { Value::Null } else { json!(action) };
        let m = json!({ "code": 1, "uuid": uuid, "serviceId": service, "parkCode": CODE, "action": action,
            "dataItems": items, "opt": "测试", "expireTime": "2099-01-01 00:00:00" });
        self.send(m.to_string()).await;
        self.answer_to(&uuid).await
    }

    /// Publishes a message on the lot's command topic, as the cloud.
    async fn send(&self, message: String) {
        self.cloud.publish(format!("tcp/{CODE}"), QoS::AtLeastOnce, false, message).await.expect("publish");
    }

    /// The next answer to command `uuid`, in the lot's own name (the lot's reports skipped; nothing else may come).
    async fn answer_to(&mut self, uuid: &str) -> Envelope {
        loop {
            let a = next_message(&mut self.ev).await;
            let report = onepark_cloudpark::mq::ServiceId::parse(&a.service_id)
                .is_some_and(|s| s.direction() == onepark_cloudpark::mq::Direction::Report);
            if !report {
                assert_eq!(a.uuid, uuid, "{a:?}");
                assert_eq!(a.park_code, CODE, "answered in the lot's own name: {a:?}");
                return a;
            }
        }
    }

    async fn ok(&mut self, service: &str, action: &str, items: Value) -> Envelope {
        let a = self.ask(service, action, items).await;
        assert_eq!(a.code, 1, "{service} {action}: {a:?}");
        a
    }

    async fn refused(&mut self, service: &str, action: &str, items: Value, needle: &str) {
        let a = self.ask(service, action, items).await;
        assert_eq!(a.code, 0, "{service} {action}: {a:?}");
        assert!(a.msg.clone().unwrap_or_default().contains(needle), "{service} {action}: {a:?} should say {needle}");
    }

    async fn lane(&self, path: &str, body: Value) -> Value {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("lane");
        serde_json::from_str(&r.text().await.expect("body")).expect("JSON")
    }
}

fn local(offset_minutes: i64) -> String {
    let zone = onepark_domain::time::Zone::default();
    onepark_domain::time::format_time(zone.local(chrono::Utc::now()) + chrono::Duration::minutes(offset_minutes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_runs_vehicles_money_and_stays() {
    let mut rig = Rig::new("cloudmq-fleet", "").await;

    // 3.4, 3.5, 3.21, 3.6, 3.20: types, a group, a package, vehicles and their log.
    let types = rig.ok("manage.cartypes", "query", json!([])).await;
    assert!(types.data_items.iter().any(|t| t["CarTypeCode"] == 81 && t["CarTypeName"] == "月租车A"));
    let group =
        rig.ok("manage.cargroups", "add", json!({ "ID": 0, "UUID": "", "GroupName": "A区", "GroupNum": 2 })).await;
    let group_uuid = group.data_items[0]["UUID"].as_str().expect("uuid").to_owned();
    let plan =
        rig.ok("manage.cars.chargeplan", "add", json!({ "PlanName": "季卡", "Months": 3, "Amount": "900" })).await;
    let plan_id = plan.data_items[0]["ID"].clone();
    let car = rig
        .ok(
            "manage.cars",
            "add",
            json!({ "ID": 0, "UUID": "", "CarNum": "鲁B66001", "Owner": "张三", "CarTypeCode": 81,
            "CarGroupUuid": group_uuid, "TimeStart": local(-180), "TimeEnd": "2030-12-31", "CarMMoney": "300.00" }),
        )
        .await;
    let uuid = car.data_items[0]["UUID"].as_str().expect("uuid").to_owned();
    assert_eq!(
        (car.data_items[0]["CarMMoney"].as_str(), car.data_items[0]["TimeEnd"].as_str()),
        (Some("300.00"), Some("2030-12-31 23:59:59"))
    );
    rig.refused(
        "manage.cars",
        "add",
        json!({ "ID": 0, "UUID": "", "CarNum": "鲁B66001", "TimeEnd": "2030-12-31" }),
        "已属于另一张月卡",
    )
    .await;
    rig.refused(
        "manage.cars",
        "add",
        json!({ "ID": 0, "CarNum": "鲁B66002", "CarTypeCode": 91, "TimeEnd": "2030-12-31" }),
        "CarTypeCode",
    )
    .await;
    let entered = rig.lane("/api/lanes/1/entry", json!({ "plateNo": "鲁B66001", "time": local(-110) })).await;
    assert_eq!(entered["open"], true, "{entered}");
    let groups = rig.ok("manage.cargroups", "query", json!({ "page": 1, "pageSize": 10 })).await;
    assert_eq!(groups.data_items[0]["Items"][0]["LeftNum"], 1, "one of the group's two berths taken: {groups:?}");
    rig.refused("manage.cargroups", "delete", json!({ "UUID": group_uuid }), "仍有车辆").await;
    rig.ok("manage.cars", "freeze", json!({ "UUID": uuid })).await;
    let frozen = rig.lane("/api/lanes/2/exit", json!({ "plateNo": "鲁B66001" })).await;
    assert_eq!(frozen["open"], true, "the card's stay began as a monthly one: {frozen}");
    let temp = rig.lane("/api/lanes/1/entry", json!({ "plateNo": "鲁B66001", "time": local(-110) })).await;
    assert_eq!(temp["open"], true);
    let charged = rig.lane("/api/lanes/2/exit", json!({ "plateNo": "鲁B66001" })).await;
    assert_eq!(
        (charged["open"].as_bool(), charged["reason"].as_str()),
        (Some(false), Some("unpaid")),
        "frozen: a temporary car: {charged}"
    );
    rig.ok("manage.cars", "unfreeze", json!({ "UUID": uuid })).await;
    let renewed = rig.ok("manage.cars", "charge", json!({ "UUID": uuid, "PlanId": plan_id })).await;
    assert_eq!(renewed.data_items[0]["TimeEnd"], "2031-03-31 23:59:59", "{renewed:?}");
    rig.ok("manage.cars", "change", json!({ "UUID": uuid, "CarNum": "鲁B66003" })).await;
    let found = rig.ok("manage.cars", "query", json!({ "page": 1, "pageSize": 10, "carNum": "66003" })).await;
    assert_eq!(found.data_items[0]["TotalItems"], 1, "{found:?}");
    let log = rig.ok("manage.cars.logs", "query", json!({ "page": 1, "pageSize": 20 })).await;
    let actions: Vec<&str> =
        log.data_items[0]["Items"].as_array().expect("items").iter().filter_map(|l| l["OpType"].as_str()).collect();
    assert_eq!(actions, ["change", "charge", "unfreeze", "freeze", "add"], "{log:?}");
    // 3.8: a paid renewal, once per order.
    let paid = rig
        .ok(
            "pay.paymonthcardorder",
            "",
            json!({ "orderNo": "YK001", "plateNumber": "鲁B66003", "rechargeAmount": "300", "rechargeNum": 1 }),
        )
        .await;
    assert_eq!(paid.msg.as_deref(), Some("已续期至 2031-04-30 23:59:59"), "{paid:?}");
    let again = rig
        .ok(
            "pay.paymonthcardorder",
            "",
            json!({ "orderNo": "YK001", "plateNumber": "鲁B66003", "rechargeAmount": "300", "rechargeNum": 1 }),
        )
        .await;
    assert_eq!(again.msg.as_deref(), Some("订单已处理"));

    // 3.1 / 3.2: the fee the lot quotes is the only one a payment may settle.
    let quote =
        rig.ok("pay.queryfeebyplate", "", json!({ "payScene": 0, "plateNumber": "鲁B66001", "recordNo": "" })).await;
    assert_eq!(quote.data_items[0]["paidFee"], "6.00", "two started hours at 3 yuan: {quote:?}");
    rig.refused(
        "pay.payparkingfeeorder",
        "",
        json!({ "orderNo": "P1", "plateNumber": "鲁B66001", "paidFee": "0.01", "payAuth": "x" }),
        "没有金额为 0.01 元",
    )
    .await;
    rig.ok("pay.payparkingfeeorder", "", json!({ "orderNo": "P2", "plateNumber": "鲁B66001", "paidFee": "5.00", "discountFee": "1.00", "payAuth": "x", "payType": 1 })).await;
    let again = rig
        .ok(
            "pay.payparkingfeeorder",
            "",
            json!({ "orderNo": "P2", "plateNumber": "鲁B66001", "paidFee": "5.00", "discountFee": "1.00" }),
        )
        .await;
    assert_eq!(again.msg.as_deref(), Some("订单已处理"));
    let left = rig.lane("/api/lanes/2/exit", json!({ "plateNo": "鲁B66001" })).await;
    assert_eq!(left["open"], true, "paid through the cloud: {left}");

    // 3.3: a merchant's coupon comes off the fee at the exit, once.
    rig.lane("/api/lanes/1/entry", json!({ "plateNo": "鲁B66004", "time": local(-110) })).await;
    rig.ok("pay.sendplateticket", "", json!({ "plateNumber": "鲁B66004", "ticketType": 1, "ticketValue": "2.5", "ticketNo": "T1", "ticketMark": "m", "isEntrance": 0 })).await;
    let held = rig.lane("/api/lanes/2/exit", json!({ "plateNo": "鲁B66004" })).await;
    assert_eq!(held["due"], 350, "6.00 less 2.50: {held}");
    // 3.18b: the held car's bill; 3.18a an attendant's reduction of it.
    let bill = rig.ok("manage.parkout", "preoutget", json!({ "outChannelId": 2 })).await;
    assert_eq!(
        (bill.data_items[0]["plateNumber"].as_str(), bill.data_items[0]["paidFee"].as_str()),
        (Some("鲁B66004"), Some("3.50"))
    );
    let cut = rig.ok("manage.parkout", "preoutmodify", json!({ "outChannelId": 2, "discountFee": "3.50" })).await;
    assert_eq!(cut.data_items[0]["paidFee"], "0.00", "{cut:?}");
    let out = rig.lane("/api/lanes/2/exit", json!({ "plateNo": "鲁B66004" })).await;
    assert_eq!(out["open"], true, "{out}");
    rig.lane("/api/lanes/1/entry", json!({ "plateNo": "鲁B66004", "time": local(-110) })).await;
    let next = rig.lane("/api/lanes/2/exit", json!({ "plateNo": "鲁B66004" })).await;
    assert_eq!(next["due"], 600, "the coupons were used up: {next}");

    // 3.23 / 3.24: a cloud attendant's manual entry and exit; 3.12 asks after it.
    rig.ok(
        "notify.agentparkin",
        "",
        json!({ "recordNo": "A1", "plateNumber": "鲁B66005", "carType": 9, "carSubType": 91,
        "entrance": "云坐席", "enterTime": local(-30), "inChannelid": "-1", "enterOpame": "云坐席" }),
    )
    .await;
    let status = rig.ok("record.carstatus", "", json!({ "recordNo": "A1" })).await;
    assert_eq!(status.data_items[0]["carStatus"], 1);
    rig.ok(
        "notify.agentparkout",
        "",
        json!({ "recordNo": "A1", "plateNumber": "鲁B66005", "leaveTime": local(0),
        "payableFee": "3.00", "paidFee": "3.00", "discountFee": "0", "exit": "云坐席" }),
    )
    .await;
    let status = rig.ok("record.carstatus", "", json!({ "recordNo": "A1" })).await;
    assert_eq!(status.data_items[0]["carStatus"], 0, "{status:?}");
    // 3.17b corrects a plate; 3.16 clears old stays; 3.22 corrects the free count.
    rig.lane("/api/lanes/1/entry", json!({ "plateNo": "鲁B66006", "time": local(-600) })).await;
    let inside = rig.ok("manage.parkin", "query", json!({ "page": 1, "pageSize": 10 })).await;
    let record = inside.data_items[0]["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["plateNumber"] == "鲁B66006")
        .expect("inside")["recordNo"]
        .clone();
    rig.ok("manage.parkin", "modify", json!({ "recordNo": record, "plateNumber": "鲁B66007" })).await;
    let cleared = rig.ok("record.clear", "", json!({ "beforeTime": local(-300) })).await;
    assert_eq!(cleared.data_items[0]["num"], 1, "{cleared:?}");
    let status = rig.ok("record.carstatus", "", json!({ "recordNo": record })).await;
    assert_eq!(
        (status.data_items[0]["carStatus"].as_i64(), status.data_items[0]["plateNumber"].as_str()),
        (Some(0), Some("鲁B66007"))
    );
    rig.ok("manage.parkleft", "", json!({ "parkLeft": 0 })).await;
    let full = rig.lane("/api/lanes/1/entry", json!({ "plateNo": "鲁B66008" })).await;
    assert_eq!(full["reason"], "full", "the cloud said none are left: {full}");
    rig.ok("manage.parkleft", "", json!({ "parkLeft": 5 })).await;
    let room = rig.lane("/api/lanes/1/entry", json!({ "plateNo": "鲁B66008" })).await;
    assert_eq!(room["open"], true, "{room}");
    rig.ok("notify.intercom", "call", json!({ "channelId": "2", "content": "请稍候" })).await;
    // 3.7: the broadcast, answered only by a lot that knows the plate, in its own name.
    for (uuid, plate) in [("b-unknown", "鲁B60000"), ("b-known", "鲁B66003")] {
        let m = json!({ "code": 1, "uuid": uuid, "serviceId": "pay.querymonthcardlist", "parkCode": "querymonthcard",
            "action": "store&month", "dataItems": [{ "plateNumber": plate }], "expireTime": "2099-01-01 00:00:00" });
        rig.cloud.publish("tcp/querymonthcard", QoS::AtLeastOnce, false, m.to_string()).await.expect("publish");
    }
    let known = loop {
        let a = next_message(&mut rig.ev).await;
        assert_ne!(a.uuid, "b-unknown", "a lot without the plate stays silent");
        if a.uuid == "b-known" {
            break a;
        }
    };
    assert_eq!((known.park_code.as_str(), known.data_items[0]["plateNumber"].as_str()), (CODE, Some("鲁B66003")));
    rig.refused("manage.cars", "fly", json!({}), "action").await;
}
