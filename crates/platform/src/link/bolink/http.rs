//! The HTTP mode (the vendor's KC/596745, ZF/466061): `POST /bpd/upload.do`
//! takes one envelope (`login` first, answered with a token; then signed
//! messages carrying it) and answers it in the body; `POST /bpd/download.do`
//! with `{"token": …}` is the lot's long poll for what the platform sends
//! it: held up to 30 s, answered with one message, or `500` when there is
//! none (as the vendor's SDK reads it). The same `Session` rules as TCP.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use onepark_bolink::{Reply, Session};
use serde_json::Value;

use super::connection::{drive, heard, release};
use super::held::{Held, Polled};
use crate::state::AppState;

pub use onepark_bolink::http_mode::{DOWNLOAD, UPLOAD};

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json;charset=utf-8")], body).into_response()
}

/// The reply the session transmitted (the framing and heartbeats removed).
fn answer(session: &mut Session) -> String {
    let mut last = None;
    while let Some(bytes) = session.poll_transmit() {
        let text =
            String::from_utf8_lossy(&bytes).trim_matches(|c: char| c.is_whitespace() || c == '\u{12}').to_owned();
        if !text.is_empty() {
            last = Some(text);
        }
    }
    last.unwrap_or_else(|| Reply::refused("", "无应答").to_json())
}

/// `POST /bpd/upload.do`.
pub async fn upload(State(state): State<AppState>, body: Bytes) -> Response {
    // Expired logins are swept as others come (no timer of its own; at most once a minute).
    for gone in state.bolink_tokens().expire() {
        release(&state, &mut gone.lock().await.held);
    }
    let token = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned))
        .filter(|t| !t.is_empty());
    let mut line = body.to_vec();
    line.push(b'\n');
    let now = state.clock().millis();
    let Some(token) = token else {
        // A login (or a message without its token, which the session answers as the vendor does).
        let mut session = state.bolink_tokens().session(now);
        let mut held = Held::default();
        session.handle_input(now, &line);
        drive(&state, &mut session, &mut held, true).await;
        let reply = answer(&mut session);
        if let Some(token) = held.token.clone() {
            state.bolink_tokens().put(&token, Polled { session, held, last: Instant::now() });
        }
        return json(reply);
    };
    let Some(polled) = state.bolink_tokens().get(&token) else {
        let service = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("service_name").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        return json(Reply::refused(&service, "error:token无效").to_json());
    };
    let mut p = polled.lock().await;
    p.last = Instant::now();
    let Polled { session, held, .. } = &mut *p;
    session.handle_input(now, &line);
    let closed = drive(&state, session, held, true).await.is_some();
    heard(&state, held).await;
    let reply = answer(session);
    // 1.4: a logout answered, the token is gone.
    let logged_out = serde_json::from_str::<Value>(&reply)
        .is_ok_and(|r| r["service_name"] == super::services::LOGOUT && r["state"] == 1);
    if closed || logged_out {
        release(&state, held);
        state.bolink_tokens().remove(&token);
    }
    json(reply)
}

/// `POST /bpd/download.do`: `{"token": …}`.
pub async fn download(State(state): State<AppState>, body: Bytes) -> Response {
    let token = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let Some(polled) = state.bolink_tokens().get(&token) else {
        return json(Reply::refused("", "error:token无效").to_json());
    };
    let (park_id, mailbox) = {
        let mut p = polled.lock().await;
        p.last = Instant::now();
        heard(&state, &mut p.held).await;
        let Some(lot) = p.held.lot.clone() else { return json(Reply::refused("", "error:token无效").to_json()) };
        let lapsed = match &p.held.attached {
            Some((id, _)) => !state.bolink().polled(&lot.access_id, *id),
            None => true,
        };
        if lapsed {
            // It stopped polling for a while: attached again, so what is sent to the lot reaches it.
            p.held.attached = Some(state.bolink().attach(&lot.access_id, None, true));
            super::connection::due_again(&state, &lot.access_id).await;
        }
        match &p.held.attached {
            Some((_, mailbox)) => (lot.access_id.clone(), mailbox.clone()),
            None => return json(Reply::refused("", "error:token无效").to_json()),
        }
    };
    let deadline = tokio::time::Instant::now() + super::POLL_HOLD;
    loop {
        if let Some(message) = mailbox.pop() {
            return json(message);
        }
        if tokio::time::timeout_at(deadline, mailbox.notify.notified()).await.is_err() {
            tracing::trace!(park_id, "Bolink poll: nothing to send");
            return json(onepark_bolink::http_mode::NOTHING.into());
        }
    }
}
