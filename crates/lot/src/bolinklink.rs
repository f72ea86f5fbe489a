//! The lot's link to a cloud speaking Bolink's SDK wire (`[bolink]`), the
//! part the outbox's sender and the link's own tasks need: a connection
//! (`Handle`) over TCP, one line per message driven by
//! `onepark_bolink::client::Client` (login, token, sign, heartbeats, the
//! cloud's answers matched to their requests), reconnecting with backoff;
//! or over the HTTP mode (one POST per message, a long poll for the
//! cloud's). And the lot's records as this wire's messages (entries →
//! `in_park`, exits → `out_park`; the outbox keeps each link's rows and
//! converts when sending; photos as `upload_carpic`, their JPEG read when sent).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use onepark_bolink::client::{Client, Identity, Outcome};
use onepark_bolink::fields::Fields;
use onepark_bolink::http_mode::{DOWNLOAD, UPLOAD};
use onepark_bolink::{Envelope, message};
use onepark_domain::time::{Zone, parse_time};
use onepark_proto::dict::PhotoType;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::config::{BolinkLink, BolinkTransport};
use crate::store::{Link, StoreError};

/// The lot's records this link carries.
pub const LINK: Link = Link { name: "bolink", carries: Some(&["uploadCarInData", "uploadCarOutData", "uploadPhoto"]) };

/// How long a message waits for the cloud's answer.
const ANSWER: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum BolinkError {
    #[error("not logged in to the Bolink cloud ({0})")]
    Offline(String),
    #[error("no answer from the Bolink cloud within {}s", ANSWER.as_secs())]
    Timeout,
    #[error("Bolink HTTP mode: {0}")]
    Http(String),
}

/// The cloud's answer to one message.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// `state` 1 for a record.
    Stored,
    /// `state` 0 for a record: the cloud's errmsg.
    Refused(String),
    /// `request_over_times`.
    Throttled,
    /// The whole reply of a query (or of the lot's answer to a downlink).
    Reply(Map<String, Value>),
}

/// What pairs an answer with its message: the service and the id it echoes.
fn key_of(service: &str, data: &Value) -> (String, String) {
    let echo = ["order_id", "random_str", "car_number"]
        .iter()
        .find_map(|k| data.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .unwrap_or_default();
    (service.to_owned(), echo.to_owned())
}

struct Call {
    service: String,
    data: Value,
    answer: oneshot::Sender<Answer>,
}

/// A connection to the cloud, shared by the outbox's sender and the link's tasks.
#[derive(Clone)]
pub struct Handle {
    calls: mpsc::Sender<Call>,
    online: Arc<std::sync::atomic::AtomicBool>,
}

impl Handle {
    /// Starts the connection in the background; the cloud's own messages
    /// (downlinks) arrive on the receiver.
    pub fn start(link: &BolinkLink) -> (Handle, mpsc::Receiver<Value>) {
        let (calls, rx) = mpsc::channel(256);
        let (downlinks, downlink_rx) = mpsc::channel(256);
        let online = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handle = Handle { calls, online: online.clone() };
        match &link.transport {
            BolinkTransport::Tcp(addr) => {
                tokio::spawn(tcp(link.clone(), addr.clone(), rx, downlinks, online));
            }
            BolinkTransport::Http(url) => {
                tokio::spawn(http(link.clone(), url.clone(), rx, downlinks, online));
            }
        }
        (handle, downlink_rx)
    }

    pub fn online(&self) -> bool {
        self.online.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends one message and waits for its answer.
    pub async fn call(&self, service: &str, data: Value) -> Result<Answer, BolinkError> {
        if !self.online() {
            return Err(BolinkError::Offline("connecting".into()));
        }
        let (answer, rx) = oneshot::channel();
        let call = Call { service: service.to_owned(), data, answer };
        self.calls.send(call).await.map_err(|_| BolinkError::Offline("stopped".into()))?;
        match tokio::time::timeout(ANSWER, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            // The connection dropped with the message unanswered.
            Ok(Err(_)) => Err(BolinkError::Offline("the connection closed".into())),
            Err(_) => Err(BolinkError::Timeout),
        }
    }
}

fn identity(link: &BolinkLink) -> Identity {
    Identity { park_id: link.park_id.clone(), local_id: link.local_id.clone(), key: link.key.clone() }
}

/// 1 s doubling to 60 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

/// The TCP connection: connects, logs in, carries calls and heartbeats,
/// hands the cloud's own messages on; reconnects after any failure.
async fn tcp(
    link: BolinkLink,
    addr: String,
    mut calls: mpsc::Receiver<Call>,
    downlinks: mpsc::Sender<Value>,
    online: Arc<std::sync::atomic::AtomicBool>,
) {
    let started = tokio::time::Instant::now();
    let ms = move || started.elapsed().as_millis() as i64;
    let mut failures = 0u32;
    loop {
        let stream = match tokio::time::timeout(Duration::from_secs(10), tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::warn!(%addr, error = %e, retry_in = ?backoff(failures), "Bolink cloud unreachable");
                tokio::time::sleep(backoff(failures)).await;
                failures += 1;
                continue;
            }
            Err(_) => {
                tracing::warn!(%addr, "Bolink connect timed out");
                failures += 1;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let mut client = Client::new(identity(&link), ms(), link.heartbeat.as_millis() as i64);
        let mut pending: HashMap<(String, String), Vec<oneshot::Sender<Answer>>> = HashMap::new();
        let mut buf = vec![0u8; 16 * 1024];
        let why = 'conn: loop {
            while let Some(bytes) = client.poll_transmit() {
                if let Err(e) = write.write_all(&bytes).await {
                    break 'conn format!("write: {e}");
                }
            }
            let beat = started + Duration::from_millis(client.poll_timeout().max(0) as u64);
            tokio::select! {
                n = read.read(&mut buf) => match n {
                    Ok(0) => break 'conn "closed by the cloud".to_owned(),
                    Ok(n) => {
                        client.handle_input(&buf[..n]);
                        while let Some(outcome) = client.poll_outcome() {
                            match outcome {
                                Outcome::LoggedIn => {
                                    tracing::info!(%addr, park_id = link.park_id, "logged in to the Bolink cloud");
                                    failures = 0;
                                    online.store(true, std::sync::atomic::Ordering::Relaxed);
                                }
                                Outcome::LoginRefused(why) => {
                                    tracing::error!(%addr, park_id = link.park_id, reason = why, "Bolink login refused");
                                    break 'conn format!("login refused: {why}");
                                }
                                Outcome::Stored { service_name, order_id } => {
                                    answer(&mut pending, &service_name, &order_id, Answer::Stored);
                                }
                                Outcome::Refused { service_name, order_id, errmsg } => {
                                    answer(&mut pending, &service_name, &order_id, Answer::Refused(errmsg));
                                }
                                Outcome::Throttled { service_name } => {
                                    answer_any(&mut pending, &service_name, Answer::Throttled);
                                }
                                Outcome::Reply(reply) => {
                                    let service = reply.get("service_name").and_then(Value::as_str).unwrap_or_default().to_owned();
                                    let (_, echo) = key_of(&service, &Value::Object(reply.clone()));
                                    if !answer(&mut pending, &service, &echo, Answer::Reply(reply.clone())) {
                                        answer_any(&mut pending, &service, Answer::Reply(reply));
                                    }
                                }
                                Outcome::Downlink(message) => {
                                    if downlinks.send(message).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => break 'conn format!("read: {e}"),
                },
                call = calls.recv(), if client.logged_in() => {
                    let Some(call) = call else { return };
                    let key = key_of(&call.service, &call.data);
                    client.send(&call.service, &call.data, ms());
                    pending.entry(key).or_default().push(call.answer);
                }
                () = tokio::time::sleep_until(beat) => client.handle_timeout(ms()),
            }
        };
        online.store(false, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(%addr, reason = why, retry_in = ?backoff(failures), "Bolink connection lost");
        // Unanswered calls fail now (their senders retry); queued ones wait for the next login.
        drop(pending);
        tokio::time::sleep(backoff(failures)).await;
        failures += 1;
    }
}

/// Hands an answer to the oldest call waiting for it; false when none is.
fn answer(
    pending: &mut HashMap<(String, String), Vec<oneshot::Sender<Answer>>>,
    service: &str,
    echo: &str,
    a: Answer,
) -> bool {
    let key = (service.to_owned(), echo.to_owned());
    let Some(list) = pending.get_mut(&key) else { return false };
    let tx = list.remove(0);
    if list.is_empty() {
        pending.remove(&key);
    }
    let _ = tx.send(a);
    true
}

/// An answer that echoes no id: the oldest call of the service takes it.
fn answer_any(pending: &mut HashMap<(String, String), Vec<oneshot::Sender<Answer>>>, service: &str, a: Answer) {
    let key = pending.keys().find(|(s, _)| s == service).cloned();
    if let Some((s, e)) = key {
        answer(pending, &s, &e, a);
    }
}

/// The answer of an HTTP-mode upload.
fn read_answer(service: &str, reply: Map<String, Value>) -> Answer {
    let state = reply.get("state").and_then(|s| s.as_i64().or_else(|| s.as_str()?.parse().ok()));
    let errmsg = reply.get("errmsg").and_then(Value::as_str).unwrap_or_default().to_owned();
    if state != Some(1) && errmsg == "request_over_times" {
        return Answer::Throttled;
    }
    if !message::deduplicated(service) {
        return Answer::Reply(reply);
    }
    if state == Some(1) { Answer::Stored } else { Answer::Refused(errmsg) }
}

/// The HTTP mode: logs in, posts each call, long-polls for the cloud's messages.
async fn http(
    link: BolinkLink,
    url: String,
    mut calls: mpsc::Receiver<Call>,
    downlinks: mpsc::Sender<Value>,
    online: Arc<std::sync::atomic::AtomicBool>,
) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(40)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "Bolink HTTP client");
            return;
        }
    };
    let token: Arc<Mutex<Option<String>>> = Arc::default();
    let base = (client, url.clone());
    let post = move |path: &'static str, body: String| {
        let (client, url) = (base.0.clone(), base.1.clone());
        async move {
            let r = client
                .post(format!("{url}{path}"))
                .header("content-type", "application/json;charset=utf-8")
                .body(body)
                .send()
                .await
                .map_err(|e| BolinkError::Http(e.to_string()))?;
            r.text().await.map_err(|e| BolinkError::Http(e.to_string()))
        }
    };
    // The long poll, beside the calls.
    {
        let (token, post, downlinks, online) = (token.clone(), post.clone(), downlinks.clone(), online.clone());
        tokio::spawn(async move {
            loop {
                let current = token.lock().await.clone();
                let Some(t) = current else {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                };
                match post(DOWNLOAD, json!({ "token": t }).to_string()).await {
                    Ok(body) if body.contains("service_name") => match serde_json::from_str::<Value>(&body) {
                        Ok(v) if v.get("state").is_none() => {
                            if downlinks.send(v).await.is_err() {
                                return;
                            }
                        }
                        // `error:token无效`: log in again.
                        _ => {
                            *token.lock().await = None;
                            online.store(false, std::sync::atomic::Ordering::Relaxed);
                        }
                    },
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "Bolink poll failed");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
    }
    let mut failures = 0u32;
    loop {
        if token.lock().await.is_none() {
            let mut data = json!({ "park_id": link.park_id });
            if let Some(l) = &link.local_id {
                data["local_id"] = Value::from(l.as_str());
            }
            let login = Envelope::build("login", None, &data, &link.key);
            let reply = post(UPLOAD, login).await.and_then(|b| {
                serde_json::from_str::<Map<String, Value>>(&b).map_err(|e| BolinkError::Http(format!("{e}: {b}")))
            });
            match reply {
                Ok(r) if r.get("state").and_then(Value::as_i64) == Some(1) => {
                    let t = r.get("token").and_then(Value::as_str).unwrap_or_default().to_owned();
                    tracing::info!(url, park_id = link.park_id, "logged in to the Bolink cloud (HTTP mode)");
                    *token.lock().await = Some(t);
                    online.store(true, std::sync::atomic::Ordering::Relaxed);
                    failures = 0;
                }
                other => {
                    tracing::warn!(url, reply = ?other, retry_in = ?backoff(failures), "Bolink HTTP login failed");
                    tokio::time::sleep(backoff(failures)).await;
                    failures += 1;
                    continue;
                }
            }
        }
        let Some(call) = (tokio::select! {
            call = calls.recv() => call,
            () = tokio::time::sleep(Duration::from_secs(1)) => continue,
        }) else {
            return;
        };
        let Some(t) = token.lock().await.clone() else { continue };
        let body = Envelope::build(&call.service, Some(&t), &call.data, &link.key);
        // Each call on its own task: one slow answer does not hold the rest.
        let (post, token, online) = (post.clone(), token.clone(), online.clone());
        tokio::spawn(async move {
            let reply = post(UPLOAD, body).await.and_then(|b| {
                serde_json::from_str::<Map<String, Value>>(&b).map_err(|e| BolinkError::Http(format!("{e}: {b}")))
            });
            match reply {
                Ok(r) if r.get("errmsg").and_then(Value::as_str) == Some("error:token无效") => {
                    *token.lock().await = None;
                    online.store(false, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(r) => {
                    let _ = call.answer.send(read_answer(&call.service, r));
                }
                Err(e) => tracing::warn!(error = %e, service = call.service, "Bolink upload failed"),
            }
        });
    }
}

/// A stored local time as Unix seconds.
fn unix(zone: Zone, text: &str) -> Result<i64, String> {
    let t = parse_time(text).map_err(|e| format!("{text}: {e}"))?;
    zone.instant(t).map(|t| t.timestamp()).map_err(|e| e.to_string())
}

/// What a stay was paid before its exit, fen: online (prepaid through a
/// cloud or the platform) and what is left to pay after leaving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prepaid {
    pub online: i64,
    pub after_leave: i64,
}

/// A lot record (its interface and `data`, as the outbox keeps it) as this
/// wire's message, `order_id` the stay's uid: (service_name, data). An exit
/// reports its fee (`amount_receivable`), what was paid online before it
/// (`electronic_prepay`) and the rest as taken at the exit in cash
/// (`cash_pay`; `total` is what was due there, pay-after-leave included).
/// Deterministic for a stored record and `prepaid` (which counts only
/// payments up to the exit), so a record sent again is byte-identical (the
/// cloud drops it by its sign).
pub fn report(
    interface: &str,
    body: &Value,
    uid: &str,
    zone: Zone,
    marker: &str,
    prepaid: Prepaid,
) -> Result<(&'static str, Value), String> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let int = |k: &str| body.get(k).and_then(Value::as_i64);
    let plate = text("plateNo");
    let parking_type = int("parkingType").unwrap_or(1);
    let no_plate = !marker.is_empty() && plate.starts_with(marker);
    let car_cost_type = match parking_type {
        _ if no_plate => 4,
        2 => 2,
        4 => 3,
        _ => 1,
    };
    match interface {
        "uploadCarInData" => Ok((
            "in_park",
            json!({
                "car_number": plate,
                "in_time": unix(zone, &text("arriveTime"))?,
                "car_type": "小型车",
                "c_type": if no_plate { "无牌车扫码" } else { "自动识别" },
                "uid": text("operatorCode"),
                "order_id": uid,
                "empty_plot": int("freeBerthNum").unwrap_or(0),
                "in_channel_id": text("entryNum"),
                "car_cost_type": car_cost_type,
                "license_color": onepark_bolink::codes::LicenseColor::of_city(int("plateColor").unwrap_or(1)),
            }),
        )),
        "uploadCarOutData" => {
            let charge = int("chargeFee").unwrap_or(0);
            let fee = int("shouldPay").unwrap_or(charge);
            let due = (fee - prepaid.online).max(0);
            let cash = (due - prepaid.after_leave).max(0);
            let pay_type = match (cash, prepaid.online, parking_type) {
                (c, _, _) if c > 0 => "cash",
                (_, o, _) if o > 0 => "scancode",
                (_, _, 2) => "monthuser",
                _ => "free",
            };
            Ok((
                "out_park",
                json!({
                    "car_number": plate,
                    "in_time": unix(zone, &text("arriveTime"))?,
                    "out_time": unix(zone, &text("endTime"))?,
                    "uid": text("operatorCode"),
                    "order_id": uid,
                    "pay_type": pay_type,
                    "empty_plot": int("freeBerthNum").unwrap_or(0),
                    "total": onepark_domain::money::yuan(due),
                    "amount_receivable": onepark_domain::money::yuan(charge),
                    "reduce_amount": onepark_domain::money::yuan((charge - fee).max(0)),
                    "electronic_prepay": onepark_domain::money::yuan(prepaid.online),
                    "cash_pay": onepark_domain::money::yuan(cash),
                    "out_channel_id": text("outNum"),
                    "car_cost_type": car_cost_type,
                }),
            ))
        }
        // 2.12: the order's picture; its Base64 `content` is added when sending (the JPEG is in the store).
        "uploadPhoto" => Ok((
            onepark_bolink::picture::SERVICE,
            json!({
                "picture_source": "order",
                "order_id": uid,
                // `type` (the city's uploadPhoto field): 2 is the exit's photo.
                "park_order_type": if int("type") == Some(PhotoType::Exit.code()) { "out" } else { "in" },
                "create_time": unix(zone, &text("time"))?,
                "pic_type": "jpg",
                "upload_type": "http",
            }),
        )),
        other => Err(format!("{other} is not carried by the Bolink link")),
    }
}

/// An answer to one of the cloud's messages: `state` 1, or 0 with why.
pub fn settled(mut reply: Value, outcome: Result<(), String>) -> Value {
    match outcome {
        Ok(()) => reply["state"] = Value::from(1),
        Err(why) => {
            reply["state"] = Value::from(0);
            reply["errmsg"] = Value::from(why);
        }
    }
    reply
}

/// A downlink's fields (its own, or its `data`'s).
pub fn fields_of(map: &Map<String, Value>) -> Fields<'_> {
    match map.get("data") {
        Some(Value::Object(data)) => Fields::new(data),
        _ => Fields::new(map),
    }
}

pub fn failed(service: &str, why: String, echo: &[(&str, Value)]) -> Value {
    let mut v = json!({ "service_name": service, "data_target": "bolink", "state": 0, "errmsg": why });
    for (k, e) in echo {
        v[*k] = e.clone();
    }
    v
}

/// The prefix of the month cards this link keeps.
pub const CARD_PREFIX: &str = "bolink-";

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Link(#[from] BolinkError),
    #[error("query_month_card_page: {0}")]
    Refused(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// The lot's card id of a cloud card: `bolink-{card_id}`, or a digest of
/// it when the cloud's id is not plain ASCII (`118627aA1京`).
pub fn card_id(cloud_id: &str) -> String {
    if cloud_id.len() <= 57 && cloud_id.bytes().all(|b| b.is_ascii_graphic()) {
        format!("{CARD_PREFIX}{cloud_id}")
    } else {
        let digest = openssl::sha::sha256(cloud_id.as_bytes());
        format!("{CARD_PREFIX}{}", digest.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_as_bolink_messages() {
        let zone = Zone::default();
        let entry = json!({ "parkingCode": "L1", "plateNo": "无62000F9", "arriveTime": "2026-12-04 08:00:00",
            "entryNum": "A1", "freeBerthNum": 50, "plateColor": 5, "parkingType": 1 });
        let (service, data) = report("uploadCarInData", &entry, "S_1", zone, "无", Prepaid::default()).expect("entry");
        assert_eq!(service, "in_park");
        assert_eq!(
            (data["car_number"].as_str(), data["car_cost_type"].as_i64()),
            (Some("无62000F9"), Some(4)),
            "never truncated"
        );
        assert_eq!(data["in_time"], 1_796_342_400);
        assert_eq!(data["license_color"], 4);
        let exit = json!({ "plateNo": "鲁B12345", "arriveTime": "2026-12-04 08:00:00", "endTime": "2026-12-04 10:00:00",
            "chargeFee": 1000, "shouldPay": 600, "parkingType": 1, "outNum": "B1" });
        let none = Prepaid::default();
        let (service, data) = report("uploadCarOutData", &exit, "S_2", zone, "无", none).expect("exit");
        assert_eq!(service, "out_park");
        assert_eq!(
            (
                data["total"].as_str(),
                data["reduce_amount"].as_str(),
                data["cash_pay"].as_str(),
                data["pay_type"].as_str()
            ),
            (Some("6.00"), Some("4.00"), Some("6.00"), Some("cash"))
        );
        // Paid 6 yuan online before leaving: nothing taken at the exit.
        let paid = Prepaid { online: 600, after_leave: 0 };
        let (_, data) = report("uploadCarOutData", &exit, "S_2", zone, "无", paid).expect("exit");
        assert_eq!(
            (data["electronic_prepay"].as_str(), data["cash_pay"].as_str(), data["pay_type"].as_str()),
            (Some("6.00"), Some("0.00"), Some("scancode"))
        );
        // Left to pay after leaving: owed, not taken.
        let later = Prepaid { online: 0, after_leave: 600 };
        let (_, data) = report("uploadCarOutData", &exit, "S_2", zone, "无", later).expect("exit");
        assert_eq!((data["total"].as_str(), data["cash_pay"].as_str()), (Some("6.00"), Some("0.00")));
        assert_eq!(
            report("uploadCarOutData", &exit, "S_2", zone, "无", none),
            report("uploadCarOutData", &exit, "S_2", zone, "无", none)
        );
        assert!(report("uploadParkingState", &exit, "S_2", zone, "无", none).is_err());
    }

    #[test]
    fn an_exit_photo_is_the_orders_out_picture() {
        use onepark_proto::msg::encode_flat;
        use onepark_proto::msg::record::Photo;
        use onepark_proto::wire::Time;
        let at = parse_time("2026-12-04 10:00:00").expect("time");
        let photo = |photo_type| Photo {
            uid: "S_2".into(),
            parking_code: "L1".into(),
            photo_id: "S_2-x".into(),
            time: Time(at),
            photo_type,
            name: "S_2-x.jpg".into(),
            upload_time: Time(at),
        };
        let zone = Zone::default();
        let none = Prepaid::default();
        // The body exactly as the lane stores it (barrier.rs).
        for (kind, expected) in [(PhotoType::Entry, "in"), (PhotoType::Exit, "out")] {
            let body: Value = serde_json::from_str(&encode_flat(&photo(kind))).expect("json");
            let (service, data) = report("uploadPhoto", &body, "S_2", zone, "无", none).expect("photo");
            assert_eq!((service, data["park_order_type"].as_str()), ("upload_carpic", Some(expected)), "{kind:?}");
        }
    }

    #[test]
    fn answers_pair_with_their_messages() {
        assert_eq!(key_of("in_park", &json!({ "order_id": "O1" })), ("in_park".into(), "O1".into()));
        assert_eq!(key_of("query_month_card_page", &json!({ "random_str": "r" })).1, "r");
        let mut pending = HashMap::new();
        let (tx, mut rx) = oneshot::channel();
        pending.insert(("x".to_owned(), "1".to_owned()), vec![tx]);
        answer_any(&mut pending, "x", Answer::Throttled);
        assert_eq!(rx.try_recv().ok(), Some(Answer::Throttled));
        assert!(pending.is_empty());
    }
}
