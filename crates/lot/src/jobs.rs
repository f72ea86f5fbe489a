//! What the gateway does on its own, besides sending the outbox: berth
//! state and heartbeat every minute, uploadParkingInfo when the configured
//! information changed, and after midnight the previous day reconciled and
//! old photos pruned.

use std::time::Duration;

use onepark_proto::msg::encode_flat;
use onepark_proto::msg::record::{Heartbeat, ParkingState};
use onepark_proto::wire::Time;
use onepark_serve::clock::Clock;

use crate::config::Config;
use crate::state::LotState;
use crate::store::{Report, Store, StoreError};

/// Berth state every 60 s (the first a minute after start), heartbeat every
/// 10 min from the start (spec §5.1.4, §5.2.3), both through the outbox.
pub(crate) async fn periodic(state: LotState) {
    let mut minute = tokio::time::interval(Duration::from_secs(60));
    let mut ticks: u64 = 0;
    loop {
        minute.tick().await;
        let now = state.now();
        let code = state.config().parking_code.clone();
        let mut reports = Vec::new();
        // The first berth state waits a full minute: right after a start the
        // sessions are often still catching up (lanes queued during the
        // restart, a replayed past), and the platform keeps the state with
        // the newest time, so a transient one would stand until the next.
        let berths = if ticks == 0 { None } else { Some(state.berths().await) };
        match berths {
            None => {}
            Some(Ok((total, open, free))) => {
                let record = ParkingState {
                    parking_code: code.clone(),
                    total_berth_num: total,
                    open_berth_num: open,
                    free_berth_num: free,
                    upload_time: Time(now),
                };
                reports.push(("uploadParkingState", encode_flat(&record)));
            }
            Some(Err(e)) => tracing::error!(error = %e, "cannot count berths"),
        }
        if ticks.is_multiple_of(10) {
            reports.push(("uploadHeartbeat", encode_flat(&Heartbeat { parking_code: code, upload_time: Time(now) })));
        }
        ticks += 1;
        for (interface, body) in reports {
            let report = Report { uid: None, interface, body, created_ms: state.now_ms() };
            if let Err(e) = state.store().report(report).await {
                tracing::error!(error = %e, interface, "cannot queue a periodic record");
            }
        }
        state.wake_outbox();
    }
}

/// uploadParkingInfo at first start and whenever the configured
/// information changes (compared with what was last queued).
pub(crate) async fn report_parking_info(store: &Store, config: &Config, clock: &Clock) -> Result<(), StoreError> {
    let Some(info) = &config.info else {
        tracing::warn!("no [info] in the config: the platform gets no uploadParkingInfo");
        return Ok(());
    };
    let fingerprint = encode_flat(info);
    let mut info = info.clone();
    info.upload_time = Time(config.zone.local(clock.now()));
    let report =
        Report { uid: None, interface: "uploadParkingInfo", body: encode_flat(&info), created_ms: clock.millis() };
    if store.report_if_changed("parking_info", &fingerprint, report).await? {
        tracing::info!("lot information changed: uploadParkingInfo queued");
    }
    Ok(())
}

/// After midnight (00:10 local) the previous day joins the days to
/// reconcile (`day_checks`, durable); every pending day is tried when due
/// and again after `reconcile::backoff` until the platform's check of it
/// balances — never given up, across restarts too (the spec asks lots to
/// retry until the day balances; the platform may be down for hours).
pub(crate) async fn nightly(state: LotState) {
    let mut midnight = next_0010(state.now());
    loop {
        let now = state.now();
        if now >= midnight {
            midnight = next_0010(now);
            prune_photos(&state).await;
            // The daily check is the Qingdao platform's; a lot without one has none.
            if state.uplink().is_some() {
                let day = onepark_domain::time::format_date(crate::reconcile::yesterday(now));
                if let Err(e) = state.store().day_to_check(&day, &onepark_domain::time::format_time(now)).await {
                    tracing::error!(error = %e, day, "cannot put the day in line for reconciliation");
                }
            }
        }
        let next = if state.uplink().is_some() { reconcile_due(&state).await } else { None };
        let wake = next.map_or(midnight, |n| n.min(midnight));
        let wait = (wake - state.now()).to_std().unwrap_or_default().max(Duration::from_secs(1));
        tokio::time::sleep(wait).await;
    }
}

/// Today's 00:10 if it is still ahead (a gateway started at 00:05), else tomorrow's.
fn next_0010(now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    let today = now.date().and_hms_opt(0, 10, 0).unwrap_or(now);
    if now < today { today } else { today + chrono::Duration::days(1) }
}

/// Tries every pending day that is due, oldest first; when the next try
/// of a day still pending is (`None`: none pending).
async fn reconcile_due(state: &LotState) -> Option<chrono::NaiveDateTime> {
    let days = match state.store().unbalanced_days().await {
        Ok(days) => days,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the days to reconcile");
            return Some(state.now() + chrono::Duration::minutes(10));
        }
    };
    let now = onepark_domain::time::format_time(state.now());
    for day in days.iter().filter(|d| d.next_try <= now) {
        let Ok(date) = onepark_domain::time::parse_date(&day.check_date) else { continue };
        match crate::reconcile::try_day(state, date).await {
            Ok(passes) if passes.last().is_some_and(|p| p.balanced()) => {
                tracing::info!(day = day.check_date, attempts = day.attempts + 1, "daily reconciliation balanced");
            }
            Ok(passes) => tracing::error!(
                ?passes,
                day = day.check_date,
                "daily reconciliation did not balance; trying again later"
            ),
            Err(e) => {
                tracing::error!(error = %e, day = day.check_date, "daily reconciliation failed; trying again later")
            }
        }
    }
    let pending = state.store().unbalanced_days().await.ok()?;
    let next = pending.iter().filter_map(|d| onepark_domain::time::parse_time(&d.next_try).ok()).min()?;
    // A try whose outcome could not be kept leaves its day due: never sooner than a minute.
    Some(next.max(state.now() + chrono::Duration::minutes(1)))
}

/// Photos stay a week after delivery (for disputes and backfill), then only their metadata.
async fn prune_photos(state: &LotState) {
    let before = onepark_domain::time::format_time(state.now() - chrono::Duration::days(7));
    match state.store().prune_photos(&before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(photos = n, "pruned delivered photos older than a week"),
        Err(e) => tracing::error!(error = %e, "cannot prune photos"),
    }
}
