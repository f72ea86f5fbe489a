//! What staff did, for the booth's ledger and its shift report (交接班):
//! written by the lane and staff handlers themselves for a caller who is a
//! person (the booth page, or a staff token), so whichever way an
//! attendant works, it is found under their name. A leaf.

use crate::auth::Staff;
use crate::state::LotState;
use crate::store::LedgerEntry;

/// What a staff member did: (who, kind, lane, plate, uid).
pub(crate) fn did(staff: &str, kind: &str, lane: &str, plate: &str, uid: &str) -> LedgerEntry {
    LedgerEntry {
        staff: staff.to_owned(),
        kind: kind.to_owned(),
        lane: lane.to_owned(),
        plate_no: plate.to_owned(),
        uid: uid.to_owned(),
        ..LedgerEntry::default()
    }
}

/// Writes it to the ledger, now; a failure is logged (what was done is
/// done: its records are in the outbox already).
pub(crate) async fn record(state: &LotState, mut entry: LedgerEntry) {
    entry.at = onepark_domain::time::format_time(state.now());
    if let Err(e) = state.store().put_ledger(&entry).await {
        tracing::error!(error = %e, staff = entry.staff, kind = entry.kind, plate = entry.plate_no, "booth ledger not written");
    }
}

/// Who acts: the signed-in person, else what the body says (a device or a
/// script on this machine), else the booth.
pub(crate) fn actor(staff: Option<&axum::Extension<Staff>>, said: Option<&str>) -> String {
    match staff {
        Some(s) => s.0.0.clone(),
        None => said.filter(|s| !s.trim().is_empty()).unwrap_or("岗亭").to_owned(),
    }
}
