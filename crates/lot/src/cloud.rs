//! The lot's link to a parking cloud's open API (`[cloudpark]`): the client
//! (each request signed with the lot's pid and secret), the lot's records as
//! that API's reports (entries → enterNotify, exits → leaveNotify; the outbox
//! keeps each link's rows and converts when sending), and the pull: the cars
//! the cloud put into the lot (queryAgentParkin → sessions, corrections,
//! closings; notifyAgentParkin) and its fixed cars (queryAgentFixcar → month
//! cards; notifyAgentFixcar), on start, after an outage and periodically.
//! A record is reported synced only once it is stored here.

use std::time::Duration;

use chrono::NaiveDateTime;
use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::service::{
    EnterNotify, FixcarItem, LeaveNotify, MAX_PAGE_SIZE, PageQuery, ParkinItem, SyncReport,
};
use onepark_cloudpark::{Answer, Service, build_request};
use onepark_domain::plate;
use onepark_domain::time::{format_time, parse_time};
use serde_json::Value;

use crate::config::{CloudLink, Direction};
use crate::state::LotState;
use crate::store::{Link, MonthCard, Session, StoreError};

/// The lot's records this link carries (the rest are Qingdao's alone).
pub const LINK: Link = Link { name: "cloudpark", carries: Some(&["uploadCarInData", "uploadCarOutData"]) };

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{service}: cloud unreachable: {source}")]
    Unreachable { service: &'static str, source: reqwest::Error },
    #[error("{service}: HTTP {status}: {body}")]
    Status { service: &'static str, status: u16, body: String },
    #[error("{service}: the answer is not the API's: {detail}")]
    Reply { service: &'static str, detail: String },
    #[error("{service}: refused ({code}): {msg}")]
    Refused { service: &'static str, code: i64, msg: String },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    link: CloudLink,
}

impl Client {
    pub fn new(link: &CloudLink) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Client { http, link: link.clone() })
    }

    pub fn link(&self) -> &CloudLink {
        &self.link
    }

    /// Sends one request signed at `now` (Unix seconds); the answer, whatever its code.
    pub async fn call(&self, service: Service, biz: &str, now: i64) -> Result<Answer, CloudError> {
        let name = service.name();
        let body = build_request(&self.link.pid, name, now, biz, &self.link.secret);
        let response = self
            .http
            .post(format!("{}/cloudparkapi/api/{name}", self.link.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|source| CloudError::Unreachable { service: name, source })?;
        let status = response.status().as_u16();
        let text = response.bytes().await.map_err(|source| CloudError::Unreachable { service: name, source })?;
        match Answer::parse(&text) {
            Ok(answer) => Ok(answer),
            Err(_) if status != 200 => {
                Err(CloudError::Status { service: name, status, body: String::from_utf8_lossy(&text).into_owned() })
            }
            Err(r) => Err(CloudError::Reply { service: name, detail: r.detail }),
        }
    }

    /// A call that must succeed: its `data`.
    async fn ok(&self, service: Service, biz: &Value, now: i64) -> Result<Value, CloudError> {
        let answer = self.call(service, &biz.to_string(), now).await?;
        if answer.is_ok() {
            Ok(answer.data.unwrap_or(Value::Null))
        } else {
            Err(CloudError::Refused { service: service.name(), code: answer.code, msg: answer.msg })
        }
    }
}

/// A lot record (its interface and `data`, as the outbox keeps it) as this
/// API's report, `record_no` naming the stay: (service, bizContent text).
/// Deterministic, so a record sent again is byte-identical (a duplicate).
pub fn report(interface: &str, body: &Value, record_no: &str) -> Result<(Service, String), String> {
    let map = body.as_object().cloned().ok_or("the stored record is not an object")?;
    let f = Fields::from_map(map);
    let e = |r: onepark_cloudpark::Refusal| r.detail;
    let parking_type = f.opt_int(&["parkingType"]).map_err(e)?.unwrap_or(1);
    // The city's parking types back to the cloud's car types: 2 monthly → 8, else temporary.
    let car_type = if parking_type == 2 { 8 } else { 9 };
    match interface {
        "uploadCarInData" => {
            let m = EnterNotify {
                park_code: f.text(&["parkingCode"], 50).map_err(e)?,
                record_no: record_no.to_owned(),
                plate_num: f.text(&["plateNo"], 20).map_err(e)?,
                plate_color: f.opt_int(&["plateColor"]).map_err(e)?,
                car_type,
                car_sub_type: car_type * 10 + 1,
                enter_time: f.time(&["arriveTime"]).map_err(e)?,
                entrance: None,
                in_channel_id: f.opt_text(&["entryNum"], 30).map_err(e)?,
                enter_op_name: f.opt_text(&["operatorCode"], 50).map_err(e)?,
                total_park_num: f.opt_int(&["totalBerthNum"]).map_err(e)?,
                remain_park_num: f.opt_int(&["freeBerthNum"]).map_err(e)?,
            };
            Ok((Service::EnterNotify, m.to_biz().to_string()))
        }
        "uploadCarOutData" => {
            let charge = f.opt_int(&["chargeFee"]).map_err(e)?.unwrap_or(0);
            let should = f.opt_int(&["shouldPay"]).map_err(e)?.unwrap_or(charge);
            let m = LeaveNotify {
                park_code: f.text(&["parkingCode"], 50).map_err(e)?,
                record_no: record_no.to_owned(),
                plate_num: f.text(&["plateNo"], 20).map_err(e)?,
                enter_time: f.time(&["arriveTime"]).map_err(e)?,
                leave_time: f.time(&["endTime"]).map_err(e)?,
                exit: None,
                out_channel_id: f.opt_text(&["outNum"], 30).map_err(e)?,
                payable_fee: charge,
                discount_fee: (charge - should).max(0),
                cash_fee: 0,
                mobile_fee: 0,
                total_park_num: f.opt_int(&["totalBerthNum"]).map_err(e)?,
                remain_park_num: f.opt_int(&["freeBerthNum"]).map_err(e)?,
            };
            Ok((Service::LeaveNotify, m.to_biz().to_string()))
        }
        other => Err(format!("{other} is not carried by the cloud link")),
    }
}

/// Pulls on start, then every `pull` period; after a failed pull (the
/// cloud away), every 10 s until one succeeds.
pub async fn run(state: LotState, client: Client) {
    let mut failing = false;
    loop {
        match pull(&state, &client).await {
            Ok(done) => {
                if failing {
                    tracing::info!("cloud reachable again: pulled");
                }
                failing = false;
                if done.stays + done.cars > 0 {
                    tracing::info!(stays = done.stays, fixed_cars = done.cars, "pulled from the cloud");
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cloud pull failed; retrying every 10 s");
                }
                failing = true;
            }
        }
        let wait = if failing { Duration::from_secs(10).min(client.link.pull) } else { client.link.pull };
        tokio::time::sleep(wait).await;
    }
}

/// What one pull applied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pulled {
    pub stays: usize,
    pub cars: usize,
}

/// One pull of both queues: every page until an empty one, each item
/// applied, then what was applied reported synced (100 a report).
pub async fn pull(state: &LotState, client: &Client) -> Result<Pulled, CloudError> {
    let code = state.config().parking_code.clone();
    let stays = pull_queue(state, client, Service::QueryAgentParkin, &code, |state, f| async move {
        apply_stay(state, &ParkinItem::from_fields(&f).map_err(|r| r.detail)?).await
    })
    .await?;
    report_synced(state, client, Service::NotifyAgentParkin, "recordNos", &code, &stays).await?;
    let cars = pull_queue(state, client, Service::QueryAgentFixcar, &code, |state, f| async move {
        apply_car(state, &FixcarItem::from_fields(&f).map_err(|r| r.detail)?).await
    })
    .await?;
    report_synced(state, client, Service::NotifyAgentFixcar, "syncNos", &code, &cars).await?;
    Ok(Pulled { stays: stays.len(), cars: cars.len() })
}

/// Pages through a queue; returns the numbers (recordNo / syncNo) applied.
/// An item that cannot be applied is left unreported: it comes back.
async fn pull_queue<'a, F, Fut>(
    state: &'a LotState,
    client: &Client,
    service: Service,
    code: &str,
    apply: F,
) -> Result<Vec<String>, CloudError>
where
    F: Fn(&'a LotState, Fields) -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, String>>,
{
    let mut applied = Vec::new();
    let mut page = 1;
    loop {
        let query = PageQuery { page, page_size: MAX_PAGE_SIZE, park_code: code.to_owned() };
        let data = client.ok(service, &query.to_biz(), state.clock().now().timestamp()).await?;
        let items = data.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for item in items {
            let Value::Object(map) = item else { continue };
            match apply(state, Fields::from_map(map)).await {
                Ok(Some(number)) => applied.push(number),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(service = service.name(), error = %e, "a pulled item was not applied; it will come back")
                }
            }
        }
        let total_pages = data.get("totalPages").and_then(Value::as_i64).unwrap_or(0);
        // Pull until empty, as the API says; a server that ignores `page` must not loop us for ever.
        if page > total_pages.max(0) + 1 || page >= 1000 {
            break;
        }
        page += 1;
    }
    Ok(applied)
}

async fn report_synced(
    state: &LotState,
    client: &Client,
    service: Service,
    field: &str,
    code: &str,
    numbers: &[String],
) -> Result<(), CloudError> {
    for chunk in numbers.chunks(onepark_cloudpark::service::MAX_SYNC_REPORT) {
        let report = SyncReport { park_code: code.to_owned(), numbers: chunk.to_vec() };
        client.ok(service, &report.to_biz(field), state.clock().now().timestamp()).await?;
    }
    Ok(())
}

fn time(text: &str) -> Result<NaiveDateTime, String> {
    parse_time(text).map_err(|e| e.to_string())
}

/// A pulled in-park car: a new stay, a plate correction, or (carStatus 2)
/// a stay closed. Returns the recordNo once applied.
async fn apply_stay(state: &LotState, item: &ParkinItem) -> Result<Option<String>, String> {
    let store = state.store();
    let db = |e: StoreError| e.to_string();
    let plate =
        crate::payments::plate_text(&item.plate_num).map_err(|r| format!("recordNo {}: {r:?}", item.record_no))?;
    // The session holding it: one made for it before, or the lot's own stay it names.
    let uid = match store.cloud_uid(&item.record_no).await.map_err(db)? {
        Some(uid) => Some(uid),
        None => store.open_session(&item.record_no).await.map_err(db)?.map(|s| s.uid),
    };
    let open = match &uid {
        Some(uid) => store.open_session(uid).await.map_err(db)?,
        None => None,
    };
    if item.car_status == 2 {
        if let Some(session) = open {
            let lane = exit_lane(state)?;
            let at = state.now().max(time(&session.entry_time)?);
            let note = format!("云端删除场内车 {}", item.record_no);
            crate::staff::close_session(state, &session, lane, at, (0, 0), note).await.map_err(db)?;
            state.wake_outbox();
        }
        return Ok(Some(item.record_no.clone()));
    }
    if let Some(mut session) = open {
        if session.plate_no != plate {
            session.plate_no = plate;
            let report = crate::staff::modify_record(state, &session, item_operator(item)).await.map_err(db)?;
            store.correct_plate(&session, report).await.map_err(db)?;
            state.wake_outbox();
        }
        return Ok(Some(item.record_no.clone()));
    }
    if uid.is_some() {
        // Its stay has ended here already: nothing to do.
        return Ok(Some(item.record_no.clone()));
    }
    if let Some(inside) = store.open_sessions(std::slice::from_ref(&plate)).await.map_err(db)?.into_iter().next() {
        store.adopt_cloud_stay(&item.record_no, &inside.uid).await.map_err(db)?;
        return Ok(Some(item.record_no.clone()));
    }
    enter_remote(state, item, plate).await?;
    Ok(Some(item.record_no.clone()))
}

fn item_operator(item: &ParkinItem) -> Option<String> {
    Some(item.enter_op_name.clone()).filter(|n| !n.is_empty())
}

fn exit_lane(state: &LotState) -> Result<String, String> {
    state
        .config()
        .lanes
        .iter()
        .find(|l| l.direction == Direction::Exit)
        .map(|l| l.id.clone())
        .ok_or_else(|| "the lot has no exit lane to close a stay at".to_owned())
}

/// A stay the cloud began: a session at the link's lane, at the cloud's entry time.
async fn enter_remote(state: &LotState, item: &ParkinItem, plate: String) -> Result<(), String> {
    let db = |e: StoreError| e.to_string();
    let at = time(&item.enter_time)?;
    let config = state.config();
    let lane = state.config().cloudpark.as_ref().map(|c| c.lane.clone()).unwrap_or_default();
    let card = state.store().card_of(&plate).await.map_err(db)?.map(|(card, _)| card.id);
    let parking_type = if card.is_some() { 2 } else { 1 };
    let colour = plate::Plate::parse(&plate).ok().and_then(|p| p.kind().colours()).and_then(|c| c.first().copied());
    let plate_color = if matches!(colour, Some(plate::PlateColour::Green)) { 5 } else { 1 };
    let berths = state.berths().await.map_err(db)?;
    for step in 0..1000 {
        let stamped = at + chrono::Duration::milliseconds(step);
        let uid = onepark_proto::uid::build(&config.parking_code, &lane, stamped)
            .unwrap_or_else(|_| format!("{}{}{}", config.parking_code, lane, stamped.format("%Y%m%d%H%M%S%3f")));
        let session = Session {
            uid: uid.clone(),
            plate_no: plate.clone(),
            plate_color,
            car_type: 1,
            parking_type,
            entry_lane: lane.clone(),
            entry_time: format_time(at),
            card_id: card.clone(),
        };
        let report = crate::barrier::entry_report(state, &session, berths, at);
        match state.store().enter_remote(&session, vec![report], &item.record_no).await {
            Ok(()) => {
                state.wake_outbox();
                tracing::info!(uid, record_no = item.record_no, plate = session.plate_no, "a car the cloud put in");
                return Ok(());
            }
            Err(StoreError::Db(sqlx::Error::Database(e)))
                if e.is_unique_violation() && !e.message().contains("plate") =>
            {
                continue;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("no free uid for recordNo {}", item.record_no))
}

/// A pulled fixed-car change: the month card `uuid` saved, or deleted when
/// the car was deleted or suspended. Returns the syncNo once applied.
async fn apply_car(state: &LotState, item: &FixcarItem) -> Result<Option<String>, String> {
    let store = state.store();
    let car = &item.car;
    if item.operate == "delete" || car.state != 0 {
        store.delete_card(&car.uuid).await.map_err(|e| e.to_string())?;
        return Ok(Some(item.sync_no.clone()));
    }
    let plate = crate::payments::plate_text(&car.car_num).map_err(|r| format!("uuid {}: {r:?}", car.uuid))?;
    let card = MonthCard {
        id: car.uuid.clone(),
        owner: car.owner.clone().unwrap_or_default(),
        start_time: format_time(car.time_start),
        end_time: format_time(car.time_end),
        lanes: Vec::new(),
        odd_even: false,
        plates: vec![plate],
    };
    store.put_card(&card).await.map_err(|e| format!("fixed car {}: {e}", car.uuid))?;
    Ok(Some(item.sync_no.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_become_the_apis_reports_identically_every_time() {
        let entry = json!({ "uid": "u1", "plateNo": "鲁B12345", "parkingCode": "1001", "arriveTime": "2026-12-04 08:00:00",
            "entryNum": "1", "parkingType": 1, "plateColor": 1, "totalBerthNum": 100, "freeBerthNum": 40 });
        let (service, biz) = report("uploadCarInData", &entry, "rec1").expect("entry");
        assert_eq!(service, Service::EnterNotify);
        assert_eq!(report("uploadCarInData", &entry, "rec1").expect("again").1, biz, "byte-identical");
        let v: Value = serde_json::from_str(&biz).expect("json");
        assert_eq!(
            (v["recordNo"].as_str(), v["plateNum"].as_str(), v["carType"].as_i64()),
            (Some("rec1"), Some("鲁B12345"), Some(9))
        );
        let exit = json!({ "uid": "u1", "plateNo": "鲁B12345", "parkingCode": "1001", "arriveTime": "2026-12-04 08:00:00",
            "endTime": "2026-12-04 09:00:00", "outNum": "2", "chargeFee": 500, "shouldPay": 300, "parkingType": 2 });
        let (service, biz) = report("uploadCarOutData", &exit, "u1").expect("exit");
        assert_eq!(service, Service::LeaveNotify);
        let v: Value = serde_json::from_str(&biz).expect("json");
        assert_eq!((v["payableFee"].as_i64(), v["discountFee"].as_i64()), (Some(500), Some(200)));
        assert!(report("uploadPhoto", &json!({}), "u1").is_err());
    }
}
