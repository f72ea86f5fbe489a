//! Runs a session's events, whatever carries its bytes (a TCP connection or
//! the HTTP mode): a login is checked against the lots registered with
//! protocol `bolink` (the session verifies the sign with the lot's key) and
//! attached to its lot's mailbox; a message is served (`services`) and the
//! answer handed back to the session, which remembers a resend's sign only
//! after a success.

use std::time::{Duration, Instant};

use onepark_bolink::{Event, Session};

use super::held::Held;
use crate::config::LotLink;
use crate::state::AppState;

/// The lot's heartbeat is written at most this often while it talks.
const BEAT: Duration = Duration::from_secs(60);

/// Serves every pending event; `Some(reason)` once the session is over.
pub async fn drive(state: &AppState, session: &mut Session, held: &mut Held, http: bool) -> Option<String> {
    while let Some(event) = session.poll_event() {
        match event {
            Event::Login(login) => {
                let lot = match state.lot(&login.park_id).await {
                    Ok(lot) => lot,
                    Err(e) => {
                        tracing::error!(error = %e, park_id = login.park_id, "Bolink login: lot lookup failed");
                        session.refuse_login("服务器错误，请稍后重新登录");
                        continue;
                    }
                };
                let Some(lot) = lot.filter(|l| matches!(l.link, LotLink::Bolink { .. })) else {
                    state.metrics().bolink("login", false);
                    session.refuse_login(&format!("车场编号 park_id {} 未在平台注册", login.park_id));
                    continue;
                };
                let LotLink::Bolink { key, .. } = &lot.link else { continue };
                let token = crate::secret::random_hex(16).unwrap_or_default();
                session.accept_login(key, &token);
                if session.login().is_some() {
                    state.metrics().bolink("login", true);
                    tracing::info!(park_id = login.park_id, local_id = ?login.local_id, http, "Bolink lot logged in");
                    held.attached = Some(state.bolink().attach(&lot.access_id, login.local_id.as_deref(), http));
                    due_again(state, &lot.access_id).await;
                    held.token = Some(token);
                    held.lot = Some(lot);
                    heard(state, held).await;
                } else {
                    state.metrics().bolink("login", false);
                    tracing::warn!(park_id = login.park_id, "Bolink login refused: sign");
                }
            }
            Event::Message(e) => {
                let Some(lot) = held.lot.clone() else { continue };
                let reply = super::services::handle(state, &lot, &e).await;
                state.metrics().bolink(&e.service_name, reply.state() == 1);
                session.reply(&e, &reply);
            }
            Event::Close(why) => return Some(why),
        }
    }
    None
}

/// The lot was heard from: its heartbeat, at most once a [`BEAT`].
pub async fn heard(state: &AppState, held: &mut Held) {
    let Some(lot) = &held.lot else { return };
    if held.beat.is_some_and(|t| t.elapsed() < BEAT) {
        return;
    }
    held.beat = Some(Instant::now());
    let Some(code) = lot.parking_codes.first() else { return };
    let now = onepark_domain::time::format_time(state.now());
    if let Err(e) = state.store().heartbeat(&lot.access_id, code, &now).await {
        tracing::warn!(error = %e, "Bolink lot heartbeat not written");
    }
}

/// A lot (back) online: what it has not answered goes out now, in the
/// order it was made (not in the phases of each message's offline retry).
pub async fn due_again(state: &AppState, access_id: &str) {
    let now = onepark_domain::time::format_time(state.now());
    if let Err(e) = state.store().due_again(access_id, &now).await {
        tracing::warn!(error = %e, access_id, "Bolink lot's pending messages not made due");
    }
}

/// The login is over: its mailbox detached.
pub fn release(state: &AppState, held: &mut Held) {
    if let (Some(lot), Some((id, _))) = (&held.lot, held.attached.take()) {
        state.bolink().detach(&lot.access_id, id);
    }
}
