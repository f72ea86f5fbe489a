//! The lot's work on its Bolink link (`[bolink]`) beside the outbox's
//! sender: the cloud's month cards paged into the lot's own (2.33
//! `query_month_card_page`, `count` deciding the pages, at most 100 a page;
//! cards the cloud no longer lists are removed only after a complete
//! paging), and the cloud's no-plate entries (3.3 `nolicence_in_park`: a
//! session for the marker + `car_number`, never truncated; the barrier
//! raised by the lane's controller; `state` 1, or 0 with the reason; the
//! entry itself goes out through the outbox as every entry does). The
//! connection is `crate::bolinklink`'s.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::{Path, State};
use onepark_bolink::month_card::{self, Card, MAX_RP, Page, Query};
use onepark_bolink::no_plate::{self, Answer as NoPlateAnswer, Request};
use onepark_domain::plate::Plate;
use onepark_domain::time::format_time;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::bolinklink::{Answer, BolinkError, Handle};
use crate::config::{BolinkLink, Direction};
use crate::orders::LaneCommand;
use crate::state::LotState;
use crate::store::{MonthCard, StoreError};

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

/// Runs until the gateway stops: the cloud's messages as they come, and the
/// month cards at every login and every `card_sync`.
pub async fn run(state: LotState, link: BolinkLink, handle: Handle, mut downlinks: mpsc::Receiver<Value>) {
    let (s, h, l) = (state.clone(), handle.clone(), link.clone());
    tokio::spawn(async move { cards(s, l, h).await });
    while let Some(message) = downlinks.recv().await {
        let service = message.get("service_name").and_then(Value::as_str).unwrap_or_default().to_owned();
        match service.as_str() {
            no_plate::SERVICE => {
                let (state, link, handle) = (state.clone(), link.clone(), handle.clone());
                // Each scan on its own: a slow controller does not hold the next driver.
                tokio::spawn(async move {
                    let answer = match message.as_object().map(Request::read) {
                        Some(Ok(r)) => no_plate_entry(&state, &link, &r).await,
                        Some(Err(e)) => {
                            NoPlateAnswer { state: 0, errmsg: Some(e.0), car_number: String::new(), timetemp: None }
                        }
                        None => return,
                    };
                    match handle.call(no_plate::SERVICE, answer.to_data()).await {
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "nolicence_in_park answer not delivered"),
                    }
                });
            }
            other => tracing::info!(service = other, "Bolink message not handled by this gateway (issue 26)"),
        }
    }
}

/// 3.3: the no-plate car at `channel_id` enters as marker + `car_number`.
async fn no_plate_entry(state: &LotState, link: &BolinkLink, r: &Request) -> NoPlateAnswer {
    let plate = format!("{}{}", link.marker, r.car_number);
    let refuse = |why: String| NoPlateAnswer {
        state: 0,
        errmsg: Some(why),
        car_number: plate.clone(),
        timetemp: Some(r.timetemp),
    };
    if r.park_id != link.park_id {
        return refuse(format!("park_id {} 不是本车场（{}）", r.park_id, link.park_id));
    }
    let Some(lane) = state.config().lanes.iter().find(|l| l.id == r.channel_id && l.direction == Direction::Entry)
    else {
        return refuse(format!("入口通道 {} 不存在", r.channel_id));
    };
    if state.controllers().online(&lane.id) == 0 {
        return refuse(crate::orders::Failed::NoController.zh(&lane.id));
    }
    let body = json!({ "plateNo": plate }).to_string();
    let (_, decision) = crate::barrier::entry(State(state.clone()), Path(lane.id.clone()), body.into()).await;
    let decision = serde_json::to_value(&*decision.0).unwrap_or(Value::Null);
    // The same user again (a resend, a rescan after a lost answer): the one session stands.
    let again = decision["reason"] == "already_inside";
    if decision["open"] != true && !again {
        return refuse(format!("不能入场：{}", decision["msg"].as_str().unwrap_or("")));
    }
    let command = LaneCommand {
        id: 0,
        lane: lane.id.clone(),
        command: "raise".into(),
        operator: "无牌车扫码".into(),
        reason: format!("无牌车 {plate} 扫码入场"),
        at: format_time(state.now()),
    };
    if let Err(f) = state.controllers().order(command).await {
        return refuse(f.zh(&lane.id));
    }
    state.wake_outbox();
    NoPlateAnswer { state: 1, errmsg: None, car_number: plate, timetemp: Some(r.timetemp) }
}

/// Pages the cards at every login and every `card_sync`; while the link
/// is down, waits for it.
async fn cards(state: LotState, link: BolinkLink, handle: Handle) {
    let mut was_online = false;
    let mut next = tokio::time::Instant::now();
    loop {
        let online = handle.online();
        if online && (!was_online || tokio::time::Instant::now() >= next) {
            match sync_cards(&state, &handle).await {
                Ok((applied, removed)) => {
                    if applied + removed > 0 {
                        tracing::info!(applied, removed, "Bolink month cards synced");
                    }
                    next = tokio::time::Instant::now() + link.card_sync;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Bolink month-card sync failed; again in 10 s");
                    next = tokio::time::Instant::now() + Duration::from_secs(10);
                }
            }
        }
        was_online = online;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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

/// One complete paging: (cards written, cards removed).
pub async fn sync_cards(state: &LotState, handle: &Handle) -> Result<(usize, usize), SyncError> {
    let mut page = 1;
    let mut seen = HashSet::new();
    let mut applied = 0;
    loop {
        let q = Query {
            car_number: None,
            card_id: None,
            random_str: crate::cloudreport::new_uuid(state)[..12].to_owned(),
            page,
            rp: MAX_RP,
        };
        let reply = match handle.call(month_card::SERVICE, q.to_data()).await? {
            Answer::Reply(r) => r,
            Answer::Throttled => return Err(SyncError::Refused("request_over_times".into())),
            other => return Err(SyncError::Refused(format!("unexpected answer {other:?}"))),
        };
        let p = Page::read(&reply).map_err(|e| SyncError::Refused(e.0))?;
        if p.random_str != q.random_str {
            return Err(SyncError::Refused(format!("random_str {} is not ours ({})", p.random_str, q.random_str)));
        }
        for card in &p.cards {
            seen.insert(card_id(&card.card_id));
            if apply(state, card).await? {
                applied += 1;
            }
        }
        let pages = month_card::pages(p.count, MAX_RP);
        if p.cards.is_empty() || page >= pages {
            if (seen.len() as i64) < p.count.min(page * MAX_RP) {
                // A short page: the paging is not complete, so nothing is removed.
                return Ok((applied, 0));
            }
            break;
        }
        page += 1;
    }
    let mut removed = 0;
    for card in state.store().cards().await? {
        if card.id.starts_with(CARD_PREFIX) && !seen.contains(&card.id) && state.store().delete_card(&card.id).await? {
            removed += 1;
        }
    }
    Ok((applied, removed))
}

/// A cloud card as the lot's (only when it changed): its real plates,
/// its times in the lot's zone, its lanes. A card none of whose plates is
/// a plate, or whose plate is on another card, is skipped (logged).
async fn apply(state: &LotState, card: &Card) -> Result<bool, StoreError> {
    let zone = state.config().zone;
    let time = |unix: i64| format_time(zone.local(chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default()));
    let plates: Vec<String> =
        card.plates().iter().filter_map(|p| Plate::parse(p).ok().map(|p| p.to_string())).collect();
    if plates.is_empty() {
        tracing::warn!(card_id = card.card_id, plates = card.car_number, "Bolink card without a plate: skipped");
        return Ok(false);
    }
    let start = card.begin_time.or(card.create_time).unwrap_or(0).min(card.end_time);
    let want = MonthCard {
        id: card_id(&card.card_id),
        owner: card.name.chars().filter(|c| !c.is_control()).take(50).collect(),
        plates,
        start_time: time(start),
        end_time: time(card.end_time),
        lanes: card.channels(),
        odd_even: card.limit_day_type == 1,
    };
    if state.store().card(&want.id).await?.as_ref() == Some(&want) {
        return Ok(false);
    }
    match state.store().put_card(&want).await {
        Ok(()) => Ok(true),
        Err(e @ StoreError::PlateOnCard { .. }) => {
            tracing::warn!(card_id = card.card_id, reason = %e, "Bolink card not applied");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
