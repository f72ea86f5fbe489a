//! The MQ channel's topics and login (seed §1.1, issue 24).
//!
//! Topics: each lot listens on `tcp/{parkCode}` (the vendor's, seen in a
//! real client; park codes contain `/`), every lot on the broadcast
//! `tcp/querymonthcard`, and publishes its reports and its answers on its
//! report topic, which the vendor does not publish: `pts/{parkCode}` by
//! default, configurable on both sides as a template ending in `{parkCode}`.
//!
//! Login (designed: the vendor's is not public): username = the lot's pid,
//! client id = one of its park codes, alone or followed by `_` and anything
//! (the vendor's `clientId` is `parkCode_workspaceIp`), password =
//! `cp1:{unix seconds}:{sign}`, the sign being the vendor's MD5 rule over
//! `clientId`, `pid` and `timestamp` with the lot's secret. A password is
//! accepted within ±[`LOGIN_WINDOW_SECS`] of the broker's clock and names
//! its client, so a captured one is useless elsewhere and minutes later.

use crate::sign::{matches, sign};

/// The broadcast topic of 3.7 (`pay.querymonthcardlist`), and its envelope's parkCode.
pub const BROADCAST_CODE: &str = "querymonthcard";
/// How far a login's timestamp may be from the broker's clock.
pub const LOGIN_WINDOW_SECS: i64 = 300;
const PLACEHOLDER: &str = "{parkCode}";

/// The topic templates of one deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    command: String,
    report: String,
}

impl Default for Topics {
    fn default() -> Topics {
        Topics { command: "tcp/{parkCode}".into(), report: "pts/{parkCode}".into() }
    }
}

impl Topics {
    /// Templates that end in `{parkCode}` after a non-empty prefix without
    /// wildcards, and that differ (a lot must never read its own reports as commands).
    pub fn new(command: &str, report: &str) -> Result<Topics, String> {
        for (name, t) in [("command_topic", command), ("report_topic", report)] {
            let prefix = t.strip_suffix(PLACEHOLDER).ok_or_else(|| format!("{name} must end in {{parkCode}}"))?;
            if prefix.is_empty() || prefix.contains(['+', '#']) || prefix.contains(PLACEHOLDER) {
                return Err(format!("{name}: a prefix without + or # must come before {{parkCode}}"));
            }
        }
        let (c, r) = (prefix(command), prefix(report));
        if c.starts_with(r) || r.starts_with(c) {
            return Err("command_topic and report_topic must not share a prefix".into());
        }
        Ok(Topics { command: command.to_owned(), report: report.to_owned() })
    }

    /// Where a lot hears its commands (and the answers to its reports).
    pub fn command(&self, park_code: &str) -> String {
        self.command.replace(PLACEHOLDER, park_code)
    }

    /// The broadcast every lot also hears.
    pub fn broadcast(&self) -> String {
        self.command(BROADCAST_CODE)
    }

    /// Where a lot publishes its reports and its answers.
    pub fn report(&self, park_code: &str) -> String {
        self.report.replace(PLACEHOLDER, park_code)
    }

    /// The platform's subscription: every lot's report topic.
    pub fn report_filter(&self) -> String {
        format!("{}#", prefix(&self.report))
    }

    /// The lot a report topic belongs to.
    pub fn report_code<'a>(&self, topic: &'a str) -> Option<&'a str> {
        topic.strip_prefix(prefix(&self.report)).filter(|c| !c.is_empty())
    }

    /// The lot a command topic belongs to (the broadcast's code for it).
    pub fn command_code<'a>(&self, topic: &'a str) -> Option<&'a str> {
        topic.strip_prefix(prefix(&self.command)).filter(|c| !c.is_empty())
    }
}

fn prefix(template: &str) -> &str {
    template.strip_suffix(PLACEHOLDER).unwrap_or(template)
}

/// Why a login is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("password is not `cp1:<unix seconds>:<sign>`")]
    Format,
    #[error("password timestamp is {skew} s from the broker's clock (allowed ±{LOGIN_WINDOW_SECS} s)")]
    Clock { skew: i64 },
    #[error("password sign does not match the pid's secret")]
    Sign,
    #[error("client id `{0}` is not one of the pid's park codes (alone or followed by `_…`)")]
    ClientId(String),
}

fn login_sign(pid: &str, client_id: &str, unix_secs: i64, secret: &str) -> String {
    let params = [
        ("clientId".to_owned(), client_id.to_owned()),
        ("pid".to_owned(), pid.to_owned()),
        ("timestamp".to_owned(), unix_secs.to_string()),
    ];
    sign(&params, secret)
}

/// Whether the password is of this protocol (a Qingdao one starts `v1:`).
pub fn is_login_password(password: &str) -> bool {
    password.starts_with("cp1:")
}

/// The password a lot presents at `unix_secs` (make a fresh one per connect).
pub fn login_password(pid: &str, client_id: &str, secret: &str, unix_secs: i64) -> String {
    format!("cp1:{unix_secs}:{}", login_sign(pid, client_id, unix_secs, secret))
}

/// The park code a client id names: itself, or what comes before its last `_`.
pub fn client_park_code<'a>(client_id: &'a str, park_codes: &'a [String]) -> Option<&'a str> {
    park_codes
        .iter()
        .map(String::as_str)
        .find(|code| client_id == *code || client_id.strip_prefix(code).is_some_and(|rest| rest.starts_with('_')))
}

/// Checks a login of `pid` (its `secret`, its park codes) at `now_unix`.
pub fn verify_login(
    pid: &str,
    client_id: &str,
    password: &str,
    secret: &str,
    park_codes: &[String],
    now_unix: i64,
) -> Result<(), LoginError> {
    let mut parts = password.trim().splitn(3, ':');
    let (Some("cp1"), Some(ts), Some(received)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(LoginError::Format);
    };
    let ts: i64 = ts.parse().map_err(|_| LoginError::Format)?;
    if ts.abs_diff(now_unix) > LOGIN_WINDOW_SECS.unsigned_abs() {
        return Err(LoginError::Clock { skew: ts.saturating_sub(now_unix) });
    }
    if !matches(&login_sign(pid, client_id, ts, secret), received) {
        return Err(LoginError::Sign);
    }
    if client_park_code(client_id, park_codes).is_none() {
        return Err(LoginError::ClientId(client_id.to_owned()));
    }
    Ok(())
}

/// What a lot of `park_codes` may do on the broker: subscribe to its own
/// command topics and the broadcast, publish on its own report topics. Exact
/// topics only: a wildcard would reach other lots.
pub fn may_subscribe(topics: &Topics, filter: &str, park_codes: &[String]) -> bool {
    filter == topics.broadcast() || park_codes.iter().any(|c| topics.command(c) == filter)
}

pub fn may_publish(topics: &Topics, topic: &str, park_codes: &[String]) -> bool {
    park_codes.iter().any(|c| topics.report(c) == topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_carry_park_codes_with_slashes() {
        let t = Topics::default();
        assert_eq!(t.command("TDZN/307P2862"), "tcp/TDZN/307P2862");
        assert_eq!(t.broadcast(), "tcp/querymonthcard");
        assert_eq!(t.report_filter(), "pts/#");
        assert_eq!(t.report_code("pts/TDZN/307P2862"), Some("TDZN/307P2862"));
        assert_eq!(t.report_code("tcp/TDZN/307P2862"), None);
        assert!(Topics::new("tcp/{parkCode}", "tcp/up/{parkCode}").is_err(), "a shared prefix");
        assert!(Topics::new("tcp/+/{parkCode}", "pts/{parkCode}").is_err());
        assert!(Topics::new("{parkCode}", "pts/{parkCode}").is_err());
        assert!(Topics::new("down/{parkCode}", "up/{parkCode}").is_ok());
    }

    #[test]
    fn logins_are_signed_timed_and_bound_to_a_park_code() {
        let codes = vec!["TEST/1P1".to_owned()];
        let secret = "45DC1F8604F940829E75D6A76595C299";
        let p = login_password("123456", "TEST/1P1_192.168.0.2", secret, 1_000_000);
        assert!(is_login_password(&p));
        assert_eq!(verify_login("123456", "TEST/1P1_192.168.0.2", &p, secret, &codes, 1_000_100), Ok(()));
        assert_eq!(
            verify_login("123456", "TEST/1P1_192.168.0.2", &p, secret, &codes, 1_000_400),
            Err(LoginError::Clock { skew: -400 })
        );
        assert_eq!(verify_login("123456", "TEST/1P1_other", &p, secret, &codes, 1_000_000), Err(LoginError::Sign));
        assert_eq!(
            verify_login("654321", "TEST/1P1_192.168.0.2", &p, secret, &codes, 1_000_000),
            Err(LoginError::Sign)
        );
        let foreign = login_password("123456", "TEST/1P10", secret, 1_000_000);
        assert!(matches!(
            verify_login("123456", "TEST/1P10", &foreign, secret, &codes, 1_000_000),
            Err(LoginError::ClientId(_))
        ));
        assert_eq!(verify_login("123456", "x", "v1:1:abc", secret, &codes, 1), Err(LoginError::Format));
        assert!(verify_login("1", "x", &format!("cp1:{}:AB", i64::MIN), secret, &codes, 1).is_err());
    }

    #[test]
    fn a_lot_reaches_only_its_own_topics() {
        let t = Topics::default();
        let codes = vec!["TEST/1P1".to_owned()];
        assert!(may_subscribe(&t, "tcp/TEST/1P1", &codes));
        assert!(may_subscribe(&t, "tcp/querymonthcard", &codes));
        for other in ["tcp/TEST/1P2", "tcp/#", "tcp/TEST/+", "pts/TEST/1P1", "#"] {
            assert!(!may_subscribe(&t, other, &codes), "{other}");
        }
        assert!(may_publish(&t, "pts/TEST/1P1", &codes));
        for other in ["pts/TEST/1P2", "tcp/TEST/1P1", "tcp/querymonthcard", "pts/#"] {
            assert!(!may_publish(&t, other, &codes), "{other}");
        }
    }
}
