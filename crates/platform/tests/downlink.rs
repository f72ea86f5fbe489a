//! Downlink delivery through a real MQTT broker (Mosquitto in CI, from
//! MQTT_URL): an admin list change reaches every lot of the accessID,
//! signed and encrypted; the lot's confirm closes it; a lot that was offline
//! gets it when it comes back.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use onepark_platform::app::{AppState, router, start_downlink};
use onepark_platform::store::Store;
use onepark_proto::msg::decode_object;
use onepark_proto::msg::list::SpecialCar;
use onepark_proto::{Keys, Profile};
use onepark_testkit::dirs::TempDir;
use onepark_testkit::keys::{lot_private, platform_public};
use onepark_testkit::uplink::{self, Lot};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

struct Platform {
    app: axum::Router,
    access_id: String,
    _dir: TempDir,
}

async fn platform(mqtt_url: &str) -> Platform {
    let dir = TempDir::new("downlink");
    let file = dir.join("downlink.db");
    // A fresh accessID per run: the broker is shared with other runs.
    let access_id = format!("t{}", chrono::Utc::now().timestamp_micros());
    let mut config = common::config(format!("sqlite://{}", file.display()), dir.to_path_buf(), &access_id);
    config.mqtt_url = Some(mqtt_url.into());
    config.downlink_retry = chrono::Duration::hours(1);
    let store = Store::connect(&config.database).await.expect("store");
    let state = AppState::new(&config, store);
    start_downlink(&config, &state).await.expect("downlink");
    Platform { app: router(&config, state), access_id, _dir: dir }
}

impl Platform {
    async fn call(&self, request: Request<Body>) -> (u16, Value) {
        common::call(&self.app, request).await
    }

    async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        common::admin_post(&self.app, path, body).await
    }

    async fn admin_get(&self, path: &str) -> Value {
        let request =
            Request::get(path).header("authorization", "Bearer test-token").body(Body::empty()).expect("request");
        let (status, body) = self.call(request).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The lot's confirmSpecialCar for a received message.
    async fn confirm(&self, request_id: i64, params: &Value) -> Value {
        let data = json!({ "success": true, "requestId": request_id, "params": params });
        let body = Lot::new().seal(&self.access_id, &data, None);
        let reply = uplink::post(&self.app, "confirmSpecialCar", body).await;
        let (status, reply) = (reply.status, reply.json());
        assert_eq!(status, 200, "{reply}");
        reply
    }

    /// Waits until every list entry of the plate shows `state`.
    async fn wait_delivery(&self, plate: &str, state: &str, lots: usize) {
        let path = format!(
            "/api/admin/lists?plateNo={}",
            form_urlencoded::byte_serialize(plate.as_bytes()).collect::<String>()
        );
        for _ in 0..200 {
            let body = self.admin_get(&path).await;
            let items = body["items"].as_array().cloned().unwrap_or_default();
            if items.len() == lots && items.iter().all(|i| i["delivery"] == state) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{plate}: not all {lots} entries reached `{state}`: {}", self.admin_get(&path).await);
    }
}

/// A lot's MQTT session (persistent, so messages wait while it is away).
async fn lot_session(mqtt_url: &str, access_id: &str) -> (AsyncClient, EventLoop) {
    let rest = mqtt_url.trim_start_matches("mqtt://");
    let (host, port) = rest.rsplit_once(':').expect("host:port");
    let mut options = MqttOptions::new(format!("{access_id}-lot"), host, port.parse().expect("port"));
    options.set_clean_session(false);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, events) = AsyncClient::new(options, 64);
    client.subscribe(format!("qdpark/v1/specialCar/{access_id}/#"), QoS::AtLeastOnce).await.expect("subscribe");
    (client, events)
}

/// Next downlink: verified with the platform key, decrypted with the lot's.
async fn receive(events: &mut EventLoop) -> (String, i64, SpecialCar, Value) {
    let lot_key = lot_private();
    let platform_public = platform_public();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.poll()).await.expect("a downlink in 30 s");
        if let Ok(Event::Incoming(Packet::Publish(p))) = event {
            let json = std::str::from_utf8(&p.payload).expect("utf-8");
            let keys = Keys { own: Some(&lot_key), peer: Some(&platform_public) };
            let (envelope, opened) = onepark_proto::downlink::open(Profile::Qingdao, keys, json).expect("open");
            let params: Value = serde_json::from_str(&opened.text).expect("flat JSON");
            let object = params.as_object().cloned().expect("an object");
            let message = decode_object::<SpecialCar>(object).expect("specialCar").message;
            return (p.topic, envelope.request_id, message, params);
        }
    }
}

#[tokio::test]
async fn list_change_reaches_every_lot_and_is_confirmed() {
    let Some(mqtt_url) = onepark_testkit::env_or_skip("MQTT_URL", "list_change_reaches_every_lot_and_is_confirmed")
    else {
        return;
    };
    let p = platform(&mqtt_url).await;
    let (client, mut events) = lot_session(&mqtt_url, &p.access_id).await;
    // Wait for the SUBACK so the subscription exists before anything is sent.
    loop {
        if let Ok(Event::Incoming(Packet::SubAck(_))) = events.poll().await {
            break;
        }
    }

    let plate = "鲁B12345";
    let change = json!({ "accessId": p.access_id, "plateNo": plate, "list": "black", "operate": "add",
        "carType": 1, "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00", "remark": "测试" });
    let (status, sent) = p.admin_post("/api/admin/lists", change).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["sent"].as_array().map(Vec::len), Some(2), "both lots of the accessID: {sent}");

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (topic, request_id, message, params) = receive(&mut events).await;
        assert_eq!(message.plate_no, plate);
        assert_eq!(topic, format!("qdpark/v1/specialCar/{}/{}", p.access_id, message.parking_code));
        if seen.contains(&request_id) {
            continue; // a retry: already handled
        }
        let reply = p.confirm(request_id, &params).await;
        assert_eq!(reply["resultCode"], "200", "{reply}");
        let again = p.confirm(request_id, &params).await;
        assert!(again["msg"].as_str().unwrap_or_default().contains("重复确认"), "{again}");
        seen.push(request_id);
    }
    p.wait_delivery(plate, "confirmed", 2).await;
    let unknown = p.confirm(42, &json!({"parkingCode":"1001","plateNo":plate,"carType":1,"operateType":0,
        "operate":0,"operateTime":"2026-01-01 00:00:00","startTime":"2026-01-01 00:00:00","endTime":"2027-01-01 00:00:00"})).await;
    assert!(unknown["msg"].as_str().unwrap_or_default().contains("已忽略"), "{unknown}");

    // Offline: the lot goes away, the entry is deleted, the lot comes back.
    client.disconnect().await.expect("disconnect");
    let _ = tokio::time::timeout(Duration::from_secs(2), async { while events.poll().await.is_ok() {} }).await;
    drop(events);
    let delete = json!({ "accessId": p.access_id, "parkingCodes": ["1002"], "plateNo": plate, "list": "black",
        "operate": "delete" });
    let (status, sent) = p.admin_post("/api/admin/lists", delete).await;
    assert_eq!(status, 200, "{sent}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_client, mut events) = lot_session(&mqtt_url, &p.access_id).await;
    let (_, request_id, message, params) = receive(&mut events).await;
    assert_eq!((message.parking_code.as_str(), message.operate), ("1002", onepark_proto::dict::ListOperation::Delete));
    assert_eq!(p.confirm(request_id, &params).await["resultCode"], "200");
    let downlinks = p.admin_get("/api/admin/downlinks?parkingCode=1002").await;
    assert_eq!(downlinks["items"][0]["state"], "confirmed", "{downlinks}");
    assert!(downlinks["items"][0]["confirmMs"].as_i64().is_some(), "{downlinks}");
}
