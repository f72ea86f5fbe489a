//! A car waiting at an exit lane let out by someone other than its camera
//! (a payment through a cloud, the booth collecting its arrears or fee):
//! its exit decided as the camera's would be, and the lane's barrier
//! controller told to raise — only when a car that could be it waits there.

use axum::extract::{Path, State};
use onepark_domain::time::format_time;
use serde_json::{Value, json};

use crate::config::Direction;
use crate::orders::LaneCommand;
use crate::state::LotState;

/// How long a refused car is taken to be still waiting at its lane.
const WAITING_MINUTES: i64 = 2;

/// Whether a car is waiting at exit `lane` that could be `plate`: the
/// lane's newest event of the last two minutes refused a car whose plate
/// the camera could not read, or this very plate. A payment from elsewhere
/// alone opens nothing: otherwise anyone's phone could let another car out.
pub fn waiting_at(state: &LotState, lane: &str, plate: &str) -> bool {
    let since = format_time(state.now() - chrono::Duration::minutes(WAITING_MINUTES));
    let newest = state.feed().latest().into_iter().find(|e| e.lane == lane && e.direction == Direction::Exit);
    newest.is_some_and(|e| {
        !e.open
            && e.at >= since
            && (e.plate_no == plate
                || e.plate_no == onepark_domain::plate::NO_PLATE
                || e.plate_no == onepark_domain::plate::UNRECOGNISED)
    })
}

/// The exit lane where `plate` itself was refused last and still waits.
pub fn waiting_lane(state: &LotState, plate: &str) -> Option<String> {
    let since = format_time(state.now() - chrono::Duration::minutes(WAITING_MINUTES));
    let event = state
        .feed()
        .latest()
        .into_iter()
        .find(|e| e.direction == Direction::Exit && e.plate_no == plate && e.at >= since)?;
    (!event.open && waiting_at(state, &event.lane, plate)).then_some(event.lane)
}

/// Lets the car at exit `lane` out: the exit decided again (paid, it opens)
/// and the barrier raised by its controller. The decision as the lane API
/// answers it, or why nothing happened.
pub async fn let_out(state: &LotState, lane: &str, plate: &str, who: &str, note: &str) -> Result<Value, String> {
    if !waiting_at(state, lane, plate) {
        tracing::warn!(lane, plate, "no such car waits at the exit: the barrier stays down");
        return Err(format!("{lane} 号出口没有等待出场的 {plate}"));
    }
    let body = json!({ "plateNo": plate }).to_string();
    let (_, decision) = crate::barrier::exit(State(state.clone()), Path(lane.to_owned()), None, body.into()).await;
    let decision = serde_json::to_value(&*decision.0).unwrap_or(Value::Null);
    if decision["open"] != true {
        tracing::info!(lane, plate, msg = %decision["msg"], "the exit still does not open");
        return Ok(decision);
    }
    raise(state, lane, who, note).await;
    state.wake_outbox();
    Ok(decision)
}

/// The lane's barrier controller raises (one not connected: logged, the
/// attendant lifts it by hand).
pub async fn raise(state: &LotState, lane: &str, who: &str, note: &str) {
    let command = LaneCommand::new(lane, "raise", who, note.to_owned(), format_time(state.now()));
    if let Err(f) = state.controllers().order(command).await {
        tracing::warn!(lane, reason = f.zh(lane), "the barrier was not raised");
    }
}
