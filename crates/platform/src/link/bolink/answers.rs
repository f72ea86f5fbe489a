//! What every kind of Bolink answer shares: a storage failure said as the
//! vendor's servers say it, and the check that an answer names a message
//! the platform sent this very lot (a leaf: `services`, `money` and
//! `lookup` use it).

use onepark_bolink::Reply;

use crate::config::LotAccess;
use crate::state::AppState;
use crate::store::StoreError;

pub fn unavailable(service: &str, err: StoreError) -> Reply {
    tracing::error!(error = %err, service, "Bolink answer not stored");
    Reply::refused(service, "服务器错误：请稍后重发")
}

/// An answer names its own message: another message's `request_no` (a
/// payment's notice answered as a command) confirms nothing; `what` names
/// the message in the refusal.
pub async fn own_message(
    state: &AppState,
    lot: &LotAccess,
    service: &str,
    request_id: i64,
    what: &str,
) -> Result<(), Reply> {
    match state.store().downlink(request_id).await {
        Ok(Some(d)) if d.interface == service && d.access_id == lot.access_id => Ok(()),
        Ok(_) => Err(Reply::refused(service, &format!("request_no {request_id} 不是平台发给本车场的{what}"))),
        Err(err) => Err(unavailable(service, err)),
    }
}
