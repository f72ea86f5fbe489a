//! The console's session settings and login throttles: a leaf the shared
//! state holds. Who a request comes from is `crate::http::caller`'s.

/// A session's life from its login.
pub(crate) const SESSION: std::time::Duration = std::time::Duration::from_secs(12 * 3600);
/// Login tries per client address per minute (a burst of as many), and the
/// keys remembered at most.
const LOGINS_PER_MINUTE: u32 = 10;
/// Login tries per account name per minute, from everywhere: enough that
/// one address's mistakes do not lock a person out, few enough that many
/// addresses cannot guess a password (an attacker keeping a name busy is
/// the price; the log says who tries).
const NAME_TRIES_PER_MINUTE: u32 = 30;
const MAX_LOGIN_KEYS: usize = 4096;
/// The console's session cookie: a random id, never a password or token.
pub(crate) const COOKIE: &str = "onepark_session";

/// The console's login throttles and cookie settings.
pub struct Guard {
    pub(crate) logins: crate::rate::Rate,
    pub(crate) names: crate::rate::Rate,
    pub(crate) secure_cookie: bool,
}

impl Guard {
    pub fn new(config: &crate::config::Dashboard) -> Guard {
        Guard {
            logins: crate::rate::Rate::bounded(LOGINS_PER_MINUTE, MAX_LOGIN_KEYS),
            names: crate::rate::Rate::bounded(NAME_TRIES_PER_MINUTE, MAX_LOGIN_KEYS),
            secure_cookie: config.secure_cookie,
        }
    }
}
