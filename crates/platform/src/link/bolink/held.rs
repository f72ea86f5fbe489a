//! What the platform holds of a charging system's login: its lot and its
//! mailbox (`Held`), and the HTTP mode's sessions by token (`Tokens`: the
//! HTTP mode has no connection, so its `Session`, with its rate window and
//! resend memory, lives here between requests). A leaf.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onepark_bolink::Session;

use super::mailbox::Mailbox;
use crate::config::LotAccess;

/// One charging system's login.
#[derive(Default)]
pub struct Held {
    pub lot: Option<Arc<LotAccess>>,
    pub token: Option<String>,
    /// Its mailbox and the id it is attached under.
    pub attached: Option<(u64, Arc<Mailbox>)>,
    /// When the lot's heartbeat was last written (at most once a minute).
    pub beat: Option<Instant>,
}

/// An HTTP-mode login: its session and what it holds.
pub struct Polled {
    pub session: Session,
    pub held: Held,
    pub last: Instant,
}

/// HTTP-mode logins by token, and the bounds of a login's session.
#[derive(Default)]
pub struct Tokens {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Polled>>>>,
    session: onepark_bolink::session::Config,
    /// When idle logins were last swept (at most once a minute: the sweep reads every login).
    swept: Mutex<Option<Instant>>,
}

/// An HTTP login unused this long is forgotten (the SDK polls every 30 s).
pub const TOKEN_IDLE: Duration = Duration::from_secs(600);

impl Tokens {
    pub fn new(session: onepark_bolink::session::Config) -> Tokens {
        Tokens { map: Mutex::default(), session, swept: Mutex::default() }
    }

    /// A new login's session.
    pub fn session(&self, now: i64) -> Session {
        Session::new(self.session.clone(), now)
    }

    pub fn put(&self, token: &str, polled: Polled) -> Arc<tokio::sync::Mutex<Polled>> {
        let held = Arc::new(tokio::sync::Mutex::new(polled));
        if let Ok(mut map) = self.map.lock() {
            map.insert(token.to_owned(), held.clone());
        }
        held
    }

    pub fn get(&self, token: &str) -> Option<Arc<tokio::sync::Mutex<Polled>>> {
        self.map.lock().ok()?.get(token).cloned()
    }

    pub fn remove(&self, token: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(token);
        }
    }

    /// Logins idle past [`TOKEN_IDLE`]: removed, returned for detaching.
    /// Looked for at most once a minute, whoever calls.
    pub fn expire(&self) -> Vec<Arc<tokio::sync::Mutex<Polled>>> {
        if let Ok(mut swept) = self.swept.lock() {
            if swept.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
                return Vec::new();
            }
            *swept = Some(Instant::now());
        }
        let Ok(mut map) = self.map.lock() else { return Vec::new() };
        let idle: Vec<String> = map
            .iter()
            .filter(|(_, p)| p.try_lock().is_ok_and(|p| p.last.elapsed() > TOKEN_IDLE))
            .map(|(t, _)| t.clone())
            .collect();
        idle.iter().filter_map(|t| map.remove(t)).collect()
    }
}
