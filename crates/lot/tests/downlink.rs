//! The downlink end to end: a real platform (admin API, publisher, confirm
//! endpoint), a real broker — the embedded one always, Mosquitto when
//! MQTT_URL is set — and the lot's subscriber library.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use onepark_lot::downlink::Received;
use onepark_lot::subscriber::{Applied, Apply, Settings, Stats, Subscriber};
use onepark_lot::uplink::{Client, Identity};
use onepark_platform::app::Spawned;
use onepark_proto::mqtt::login_password;
use onepark_proto::wire::Time;
use onepark_proto::{Keys, PrivateKey, Profile};
use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS};
use rumqttc::{SubscribeFilter, SubscribeReasonCode};
use serde_json::{Value, json};

mod common;
use onepark_testkit::dirs::TempDir;
use onepark_testkit::keys::{lot_private, lot_public, platform_private, platform_public};

#[derive(Clone, Debug)]
enum Leg {
    Embedded,
    External(String),
}

/// The broker legs this machine can run.
fn legs(test: &str) -> Vec<Leg> {
    let mut legs = vec![Leg::Embedded];
    if let Some(url) = onepark_testkit::env_or_skip("MQTT_URL", &format!("{test} (its Mosquitto leg)")) {
        legs.push(Leg::External(url));
    }
    legs
}

struct Platform {
    spawned: Spawned,
    _dir: TempDir,
    access_id: String,
    broker_url: String,
    http: reqwest::Client,
}

async fn platform(leg: &Leg) -> Platform {
    // A fresh accessID per run: an external broker is shared with other runs.
    let access_id = format!("t{}", chrono::Utc::now().timestamp_micros());
    let dir = TempDir::new(&format!("lot-downlink-{access_id}"));
    let broker = match leg {
        Leg::Embedded => "mqtt_listen = \"127.0.0.1:0\"".to_owned(),
        Leg::External(url) => format!("mqtt_url = \"{url}\""),
    };
    let spawned = common::platform(&dir, &access_id, &format!("listen = \"127.0.0.1:0\"\n{broker}")).await;
    let broker_url = match (leg, &spawned.mqtt) {
        (Leg::External(url), _) => url.clone(),
        (Leg::Embedded, Some(embedded)) => format!("mqtt://{}", embedded.addr),
        (Leg::Embedded, None) => panic!("the embedded broker did not start"),
    };
    Platform { spawned, _dir: dir, access_id, broker_url, http: reqwest::Client::new() }
}

impl Platform {
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("http://{}{path}", self.spawned.http)).bearer_auth("t");
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("admin call");
        assert_eq!(response.status(), 200, "{path}");
        serde_json::from_str(&response.text().await.expect("body")).expect("JSON")
    }

    async fn list(&self, plate: &str, operate: &str) {
        let change = json!({ "accessId": self.access_id, "plateNo": plate, "list": "black", "operate": operate,
            "carType": 1, "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00" });
        let sent = self.admin(reqwest::Method::POST, "/api/admin/lists", Some(change)).await;
        assert_eq!(sent["sent"].as_array().map(Vec::len), Some(2), "{sent}");
    }

    /// Waits until both lots' entry for `plate` shows `state`.
    async fn wait_delivery(&self, plate: &str, state: &str) {
        let path = format!("/api/admin/lists?plateNo={}", form_encode(plate));
        let mut last = Value::Null;
        for _ in 0..600 {
            last = self.admin(reqwest::Method::GET, &path, None).await;
            let items = last["items"].as_array().cloned().unwrap_or_default();
            if items.len() == 2 && items.iter().all(|i| i["delivery"] == state) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{plate}: not `{state}` on both lots: {last}");
    }

    fn identity(&self) -> Identity {
        Identity {
            access_id: self.access_id.clone(),
            key: lot_private(),
            platform_public: platform_public(),
            profile: Profile::Qingdao,
        }
    }

    /// Starts the lot's subscriber; it stops (without DISCONNECT, like a
    /// crash) when the handle is aborted.
    async fn lot(&self, recorder: &Recorder) -> (tokio::task::JoinHandle<()>, Arc<Stats>) {
        let uplink = format!("http://{}/api/v1/cp", self.spawned.http);
        let client = Client::new(&uplink, self.identity(), Duration::from_secs(5)).expect("client");
        let settings = Settings {
            broker_url: self.broker_url.clone(),
            username: self.access_id.clone(),
            parking_codes: vec!["1001".into(), "1002".into()],
            password: None,
        };
        let subscriber = Subscriber::new(settings, client);
        let stats = subscriber.stats();
        let recorder = recorder.clone();
        let task = tokio::spawn(async move {
            subscriber.run(recorder).await.expect("subscriber");
        });
        wait_for("the subscription", || Stats::get(&stats.subscribed) > 0).await;
        (task, stats)
    }
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The lot's side of applying: remembers what it applied.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Received>>>);

impl Recorder {
    fn applied(&self) -> Vec<(String, i64)> {
        let list = self.0.lock().expect("lock");
        list.iter()
            .map(|r| (r.params.get("plateNo").and_then(Value::as_str).unwrap_or_default().to_owned(), r.request_id))
            .collect()
    }
}

impl Apply for Recorder {
    async fn apply(&mut self, message: &Received) -> Applied {
        self.0.lock().expect("lock").push(message.clone());
        Ok(None)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_change_reaches_every_lot_and_an_offline_lot_on_return() {
    for leg in legs("list_change_reaches_every_lot_and_an_offline_lot_on_return") {
        let p = platform(&leg).await;
        let recorder = Recorder::default();
        let (lot, stats) = p.lot(&recorder).await;

        p.list("鲁B12345", "add").await;
        p.wait_delivery("鲁B12345", "confirmed").await;
        assert_eq!(recorder.applied().len(), 2, "{leg:?}: one message per parking code");
        wait_for("two confirms", || Stats::get(&stats.confirmed) == 2).await;

        // The lot goes away without a DISCONNECT; its persistent session stays.
        lot.abort();
        let _ = lot.await;
        p.list("鲁B12345", "delete").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let items = p.admin(reqwest::Method::GET, "/api/admin/lists?plateNo=%E9%B2%81B12345", None).await;
        assert!(items["items"].as_array().expect("items").iter().all(|i| i["delivery"] != "confirmed"), "{items}");

        let (_lot, stats) = p.lot(&recorder).await;
        p.wait_delivery("鲁B12345", "confirmed").await;
        let applied = recorder.applied();
        assert_eq!(applied.len(), 4, "{leg:?}: {applied:?}");
        let downlinks = p.admin(reqwest::Method::GET, "/api/admin/downlinks?limit=10", None).await;
        let items = downlinks["items"].as_array().expect("items").clone();
        let mine: Vec<&Value> = items.iter().filter(|d| d["accessId"] == p.access_id.as_str()).collect();
        assert_eq!(mine.len(), 4, "{downlinks}");
        assert!(
            mine.iter().all(|d| d["state"] == "confirmed" && d["confirmMs"].is_i64() && d["overdue"] == false),
            "{downlinks}"
        );
        assert_eq!(Stats::get(&stats.rejected), 0);
    }
}

/// Publishes as the platform would (the embedded broker's publisher login,
/// or anonymously on the CI Mosquitto).
async fn raw_publisher(p: &Platform) -> (AsyncClient, tokio::task::JoinHandle<()>) {
    let (host, port) = host_port(&p.broker_url);
    let mut options = MqttOptions::new(format!("{}-raw", p.access_id), host, port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    if let Some(embedded) = &p.spawned.mqtt {
        options.set_credentials(&embedded.publisher.username, &embedded.publisher.password);
    }
    let (client, mut events) = AsyncClient::new(options, 16);
    let driver = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    (client, driver)
}

fn host_port(url: &str) -> (String, u16) {
    let rest = url.trim_start_matches("mqtt://");
    let (host, port) = rest.rsplit_once(':').expect("host:port");
    (host.to_owned(), port.parse().expect("port"))
}

fn sealed(signer: &PrivateKey, request_id: i64, at: &str, plate: &str) -> Vec<u8> {
    let lot_public = lot_public();
    let payload = json!({ "parkingCode": "1001", "plateNo": plate, "carType": 1, "operateType": 0, "operate": 0,
        "operateTime": at, "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00" });
    let time = Time(onepark_domain::time::parse_time(at).expect("time"));
    let keys = Keys { own: Some(signer), peer: Some(&lot_public) };
    onepark_proto::downlink::seal(Profile::Qingdao, keys, request_id, time, &payload.to_string())
        .expect("seal")
        .to_json()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_out_of_order_and_forged_messages() {
    for leg in legs("duplicates_out_of_order_and_forged_messages") {
        let p = platform(&leg).await;
        let recorder = Recorder::default();
        let (_lot, stats) = p.lot(&recorder).await;
        let (publisher, _driver) = raw_publisher(&p).await;
        let platform_key = platform_private();
        let impostor = lot_private();
        let topic = format!("qdpark/v1/specialCar/{}/1001", p.access_id);
        let plate = "鲁B77777";
        let messages = [
            sealed(&platform_key, 2, "2026-11-23 10:00:05", plate), // newest, arrives first
            sealed(&platform_key, 1, "2026-11-23 10:00:04", plate), // older: confirmed, not applied
            sealed(&platform_key, 2, "2026-11-23 10:00:05", plate), // redelivery
            sealed(&impostor, 3, "2026-11-23 10:00:06", plate),     // not signed by the platform
        ];
        for payload in messages {
            publisher.publish(&topic, QoS::AtLeastOnce, false, payload).await.expect("publish");
        }
        wait_for("four messages", || Stats::get(&stats.received) == 4).await;
        wait_for("three confirms", || Stats::get(&stats.confirmed) == 3).await;
        assert_eq!(recorder.applied(), vec![(plate.to_owned(), 2)], "{leg:?}");
        let counts = [&stats.applied, &stats.stale, &stats.duplicate, &stats.rejected].map(Stats::get);
        assert_eq!(counts, [1, 1, 1, 1], "{leg:?}: applied, stale, duplicate, rejected");
    }
}

async fn connack(events: &mut EventLoop) -> Result<(), ConnectionError> {
    let wait = async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = events.poll().await? {
                return Ok(());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.expect("a CONNACK in 10 s")
}

async fn suback(events: &mut EventLoop) -> Vec<SubscribeReasonCode> {
    let wait = async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::SubAck(ack))) => return ack.return_codes,
                Ok(_) => {}
                Err(e) => panic!("connection failed while waiting for SUBACK: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.expect("a SUBACK in 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_enforces_login_and_topic_permissions() {
    let p = platform(&Leg::Embedded).await;
    let (host, port) = host_port(&p.broker_url);
    let lot_key = lot_private();
    let now = chrono::Utc::now().timestamp();
    let login = |client_id: &str, user: &str, password: String| {
        let mut options = MqttOptions::new(client_id, host.clone(), port);
        options.set_credentials(user, password);
        AsyncClient::new(options, 16)
    };

    // Wrong password, a stale one, an unknown accessID, no login at all.
    let stale = login_password(&lot_key, &p.access_id, now - 3600).expect("password");
    let other_key = platform_private();
    let foreign = login_password(&other_key, &p.access_id, now).expect("password");
    let valid = login_password(&lot_key, &p.access_id, now).expect("password");
    for (client_id, password) in [
        (p.access_id.as_str(), "v1:0:AAAA".to_owned()),
        (&p.access_id, stale),
        (&p.access_id, foreign),
        // A good password under another client id would take over that session.
        ("someone-else", valid.clone()),
    ] {
        let (_c, mut events) = login(client_id, &p.access_id, password);
        match connack(&mut events).await {
            Err(ConnectionError::ConnectionRefused(ConnectReturnCode::BadUserNamePassword)) => {}
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    let unknown = login_password(&lot_key, "nobody", now).expect("password");
    let (_c, mut events) = login("bad", "nobody", unknown);
    assert!(matches!(connack(&mut events).await, Err(ConnectionError::ConnectionRefused(_))));
    let (_c, mut events) = AsyncClient::new(MqttOptions::new("anon", host.clone(), port), 16);
    assert!(matches!(connack(&mut events).await, Err(ConnectionError::ConnectionRefused(_))));
    // A will is a publish the ACL never sees: refused at login.
    let mut options = MqttOptions::new(p.access_id.clone(), host.clone(), port);
    options.set_credentials(&p.access_id, valid);
    let will = format!("qdpark/v1/specialCar/{}/1001", p.access_id);
    options.set_last_will(rumqttc::LastWill::new(will, "x", QoS::AtLeastOnce, false));
    let (_c, mut events) = AsyncClient::new(options, 16);
    assert!(matches!(connack(&mut events).await, Err(ConnectionError::ConnectionRefused(_))));

    // A good login: its own topics yes, another lot's or parking code's no.
    let (client, mut events) =
        login(&p.access_id, &p.access_id, login_password(&lot_key, &p.access_id, now).expect("password"));
    connack(&mut events).await.expect("accepted");
    let own = format!("qdpark/v1/+/{}/1001", p.access_id);
    let filters =
        [own.clone(), "qdpark/v1/+/someone/1001".into(), format!("qdpark/v1/+/{}/9999", p.access_id), "#".into()];
    client
        .subscribe_many(filters.iter().map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce)))
        .await
        .expect("subscribe");
    let codes = suback(&mut events).await;
    assert_eq!(codes[0], SubscribeReasonCode::Success(QoS::AtLeastOnce), "{codes:?}");
    assert!(codes[1..].iter().all(|c| *c == SubscribeReasonCode::Failure), "{codes:?}");

    // A lot cannot publish a downlink (not even to itself).
    client
        .publish(format!("qdpark/v1/specialCar/{}/1001", p.access_id), QoS::AtMostOnce, false, "forged")
        .await
        .expect("queued");
    let received = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => return Some(p),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    })
    .await;
    assert!(!matches!(received, Ok(Some(_))), "a lot's publish was delivered: {received:?}");
}
