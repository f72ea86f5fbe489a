//! The dashboard's sessions (a random id in the cookie, only its hash kept,
//! 12 hours from login) and its login throttle per client address.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A session's life from its login.
pub(crate) const SESSION: std::time::Duration = std::time::Duration::from_secs(12 * 3600);
/// Sessions kept at most (each a login with the admin token); the oldest
/// makes room.
const MAX_SESSIONS: usize = 1024;
/// Login tries per client address per minute (a burst of as many), and the
/// addresses remembered at most.
const LOGINS_PER_MINUTE: u32 = 10;
const MAX_LOGIN_CLIENTS: usize = 4096;

/// The dashboard's server-side state: live sessions and the login throttle.
pub struct Guard {
    /// SHA-256 of each session id → when it expires.
    sessions: Mutex<HashMap<[u8; 32], Instant>>,
    pub(crate) logins: crate::rate::Rate,
    pub(crate) secure_cookie: bool,
}

impl Guard {
    pub fn new(config: &crate::config::Dashboard) -> Guard {
        Guard {
            sessions: Mutex::default(),
            logins: crate::rate::Rate::bounded(LOGINS_PER_MINUTE, MAX_LOGIN_CLIENTS),
            secure_cookie: config.secure_cookie,
        }
    }

    /// A new session; its id goes in the cookie, only its hash is kept.
    pub(crate) fn open(&self, now: Instant) -> Option<String> {
        let id = crate::secret::random_hex(32).ok()?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, expires| *expires > now);
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions.iter().min_by_key(|(_, expires)| **expires).map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(digest(&id), now + SESSION);
        Some(id)
    }

    pub(crate) fn valid(&self, id: &str, now: Instant) -> bool {
        let key = digest(id);
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(&key) {
            Some(expires) if *expires > now => true,
            Some(_) => {
                sessions.remove(&key);
                false
            }
            None => false,
        }
    }

    pub(crate) fn close(&self, id: &str) {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(&digest(id));
    }
}

fn digest(id: &str) -> [u8; 32] {
    openssl::sha::sha256(id.as_bytes())
}
