//! The lot's pulls from its parking cloud (`[cloudpark]`): the cars the
//! cloud put into the lot (queryAgentParkin → sessions, corrections,
//! closings; notifyAgentParkin) and its fixed cars (queryAgentFixcar →
//! month cards; notifyAgentFixcar), on start, after an outage and
//! periodically. A record is reported synced only once it is stored here.
//! The client and the reports are `crate::cloudlink`'s.

use std::time::Duration;

use chrono::NaiveDateTime;
use onepark_cloudpark::Service;
use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::service::{FixcarItem, MAX_PAGE_SIZE, PageQuery, ParkinItem, SyncReport};
use onepark_domain::plate;
use onepark_domain::time::{format_time, parse_time};
use serde_json::Value;

use crate::cloudlink::{Client, CloudError};
use crate::config::Direction;
use crate::state::LotState;
use crate::store::{MonthCard, Session, StoreError};

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
        let wait = if failing { Duration::from_secs(10).min(client.link().pull) } else { client.link().pull };
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
        apply_stay(state, &ParkinItem::from_fields(&f).map_err(|r| r.detail)?, None).await
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
    // A number whose any version failed here is not reported: a later
    // version of it (served on a later page) must come back.
    let mut failed = std::collections::HashSet::new();
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
            let number = map.get("recordNo").or_else(|| map.get("syncNo")).and_then(Value::as_str).map(str::to_owned);
            match apply(state, Fields::from_map(map)).await {
                Ok(Some(number)) => applied.push(number),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(service = service.name(), error = %e, "a pulled item was not applied; it will come back");
                    failed.extend(number);
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
    applied.retain(|n| !failed.contains(n));
    applied.sort();
    applied.dedup();
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
pub(crate) async fn apply_stay(
    state: &LotState,
    item: &ParkinItem,
    lane: Option<&str>,
) -> Result<Option<String>, String> {
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
    if store.open_sessions(std::slice::from_ref(&plate)).await.map_err(db)?.into_iter().next().is_some() {
        // The car is in already, in a stay the lot reported under its own uid:
        // nothing to add. Not relinked to the cloud's record (its reports went
        // out under the uid); the cloud reaches that stay by its uid.
        return Ok(Some(item.record_no.clone()));
    }
    enter_remote(state, item, plate, lane).await?;
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

/// A stay the cloud began: a session at `lane` (else the cloud link's lane), at the cloud's entry time.
async fn enter_remote(state: &LotState, item: &ParkinItem, plate: String, lane: Option<&str>) -> Result<(), String> {
    let db = |e: StoreError| e.to_string();
    let at = time(&item.enter_time)?;
    let config = state.config();
    let lane = match lane {
        Some(lane) => lane.to_owned(),
        None => config.cloudpark.as_ref().map(|c| c.lane.clone()).unwrap_or_default(),
    };
    let card = state.store().card_of(&plate).await.map_err(db)?.map(|(card, _)| card.id);
    let parking_type = if card.is_some() { 2 } else { 1 };
    let plate_color = plate::PlateColour::usual(&plate).code();
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

/// The month card a cloud's fixed car becomes: `cloud-` + its uuid (≤ 38 characters).
pub fn card_id(uuid: &str) -> String {
    format!("cloud-{uuid}")
}

/// A pulled fixed-car change: the month card `uuid` saved, or deleted when
/// the car was deleted or suspended. Returns the syncNo once applied.
async fn apply_car(state: &LotState, item: &FixcarItem) -> Result<Option<String>, String> {
    let store = state.store();
    let car = &item.car;
    // The cloud's cards are kept apart from the ones staff make here.
    let id = card_id(&car.uuid);
    // A stored-value car (71–75) pays from a balance this lot does not charge yet: no free card.
    if item.operate == "delete" || car.state != 0 || !matches!(car.cartype_code, 81..=85 | 11..=17) {
        store.delete_card(&id).await.map_err(|e| e.to_string())?;
        return Ok(Some(item.sync_no.clone()));
    }
    let plate = crate::payments::plate_text(&car.car_num).map_err(|r| format!("uuid {}: {r:?}", car.uuid))?;
    let card = MonthCard {
        id,
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
