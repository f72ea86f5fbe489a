//! Who may do what on the downlink broker: the lot login (D-12) and the
//! topic permissions (§2.2.2, D-10, D-11).
//!
//! The spec says lots log in "with the accessID and the private key" but
//! defines no credential, and a private key must never leave the lot. So the
//! password is a short-lived proof of possession:
//!
//! ```text
//! username = accessID or accessID_N
//! password = v1:{unix seconds}:{Base64 SHA256withRSA over "onepark-mqtt-login\n{username}\n{unix seconds}"}
//! ```
//!
//! The broker verifies it with the public key registered for the accessID
//! and accepts it within [`LOGIN_WINDOW_SECS`] of its own clock, so a
//! captured password is useless after a few minutes and names its user.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::sign::{Signer, Verifier};

use crate::envelope::decode_base64;
use crate::interface::{AccessId, Downlink};
use crate::key::{PrivateKey, PublicKey};

/// How far the password's timestamp may be from the broker's clock.
pub const LOGIN_WINDOW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("password is not `v1:<unix seconds>:<Base64 signature>`")]
    Format,
    #[error("password timestamp is {skew} s from the broker's clock (allowed ±{LOGIN_WINDOW_SECS} s)")]
    Clock { skew: i64 },
    #[error("password signature does not verify with the public key registered for the accessID")]
    Signature,
    #[error("signing failed: {0}")]
    Sign(String),
}

impl LoginError {
    pub fn zh(&self) -> String {
        match self {
            LoginError::Format => "密码格式应为 v1:<Unix 秒>:<Base64 签名>".into(),
            LoginError::Clock { skew } => {
                format!("密码时间戳与服务器时钟相差 {skew} 秒（允许 ±{LOGIN_WINDOW_SECS} 秒）")
            }
            LoginError::Signature => "密码签名无法用该 accessID 登记的公钥验证".into(),
            LoginError::Sign(e) => format!("签名失败：{e}"),
        }
    }
}

fn signed_text(username: &str, unix_secs: i64) -> String {
    format!("onepark-mqtt-login\n{username}\n{unix_secs}")
}

/// The password a lot presents at `unix_secs` (make a fresh one per connect).
pub fn login_password(key: &PrivateKey, username: &str, unix_secs: i64) -> Result<String, LoginError> {
    let sign = |key: &PrivateKey| -> Result<Vec<u8>, openssl::error::ErrorStack> {
        Signer::new(MessageDigest::sha256(), &key.pkey)?
            .sign_oneshot_to_vec(signed_text(username, unix_secs).as_bytes())
    };
    let signature = sign(key).map_err(|e| LoginError::Sign(e.to_string()))?;
    Ok(format!("v1:{unix_secs}:{}", STANDARD.encode(signature)))
}

/// Checks a lot's password against its registered key at `now_unix`.
pub fn verify_login(key: &PublicKey, username: &str, password: &str, now_unix: i64) -> Result<(), LoginError> {
    let mut parts = password.trim().splitn(3, ':');
    let (Some("v1"), Some(ts), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(LoginError::Format);
    };
    let ts: i64 = ts.parse().map_err(|_| LoginError::Format)?;
    let signature = decode_base64(sig).ok_or(LoginError::Format)?;
    // abs_diff: a crafted i64::MIN must neither overflow nor pass the window.
    if ts.abs_diff(now_unix) > LOGIN_WINDOW_SECS.unsigned_abs() {
        return Err(LoginError::Clock { skew: ts.saturating_sub(now_unix) });
    }
    let ok = Verifier::new(MessageDigest::sha256(), &key.pkey)
        .and_then(|mut v| v.verify_oneshot(&signature, signed_text(username, ts).as_bytes()))
        .unwrap_or(false);
    if ok { Ok(()) } else { Err(LoginError::Signature) }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclDenied {
    #[error("`{0}` is not a downlink topic filter (qdpark/v1/{{interface|+}}/{{accessID}}/{{parkingCode|+|#}})")]
    NotDownlink(String),
    #[error("`{filter}` belongs to accessID `{owner}`, not to `{user}`")]
    ForeignAccess { filter: String, owner: String, user: String },
    #[error("parkingCode `{0}` is not registered for this accessID")]
    ForeignParkingCode(String),
    #[error("lots do not publish on the broker; uplink goes over HTTP")]
    Publish,
}

/// Whether the lot logged in as `user` may subscribe to `filter`: only its
/// own topics (`qdpark/v1/{interface|+}/{user}/{code}` for one of its
/// parking codes, or `+`/`#` there for platform-level docking), with or
/// without the general section's leading `/` (D-10). Node `234_1` may also
/// take the base `234` topics: the key pair, hence the login, is the base's.
pub fn may_subscribe(user: &AccessId, filter: &str, parking_codes: &[String]) -> Result<(), AclDenied> {
    let not_downlink = || AclDenied::NotDownlink(filter.to_owned());
    let mut parts = filter.strip_prefix('/').unwrap_or(filter).split('/');
    let (Some("qdpark"), Some("v1"), Some(interface), Some(owner), Some(code), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(not_downlink());
    };
    if interface != "+" && Downlink::from_name(interface).is_none() {
        return Err(not_downlink());
    }
    if owner != user.to_string() && owner != user.base {
        return Err(AclDenied::ForeignAccess {
            filter: filter.to_owned(),
            owner: owner.to_owned(),
            user: user.to_string(),
        });
    }
    if code == "+" || code == "#" || parking_codes.iter().any(|c| c == code) {
        Ok(())
    } else {
        Err(AclDenied::ForeignParkingCode(code.to_owned()))
    }
}

/// `mqtt://[user:password@]host[:port]` (or `tcp://`), as both sides configure a broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerUrl {
    pub login: Option<(String, String)>,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    pub fn parse(url: &str) -> Result<BrokerUrl, String> {
        let rest = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")).ok_or_else(|| {
            format!("`{}` is not mqtt://host:port (TLS is not built in; put a TLS terminator in front)", redact(url))
        })?;
        let rest = rest.trim_end_matches('/');
        let (login, address) = match rest.rsplit_once('@') {
            Some((login, address)) => {
                let (user, password) = login.split_once(':').unwrap_or((login, ""));
                (Some((user.to_owned(), password.to_owned())), address)
            }
            None => (None, rest),
        };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') => {
                (host, port.parse::<u16>().map_err(|_| format!("bad port in `{}`", redact(url)))?)
            }
            _ => (address, 1883),
        };
        if host.is_empty() {
            return Err(format!("no host in `{}`", redact(url)));
        }
        Ok(BrokerUrl { login, host: host.trim_start_matches('[').trim_end_matches(']').to_owned(), port })
    }
}

/// The URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((login, address)) => {
            let (scheme, login) = login.split_once("//").unwrap_or(("", login));
            let user = login.split(':').next().unwrap_or_default();
            format!("{scheme}//{user}:***@{address}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (PrivateKey, PublicKey) {
        let key = PrivateKey::generate(1024).expect("key");
        let public = key.public_key();
        (key, public)
    }

    #[test]
    fn login_round_trip_and_failures_name_the_cause() {
        let (key, public) = keys();
        let password = login_password(&key, "234_1", 1_800_000_000).expect("password");
        assert_eq!(verify_login(&public, "234_1", &password, 1_800_000_100), Ok(()));
        // Bound to the username: node 2 cannot reuse node 1's password.
        assert_eq!(verify_login(&public, "234_2", &password, 1_800_000_000), Err(LoginError::Signature));
        assert_eq!(verify_login(&public, "234_1", &password, 1_800_000_301), Err(LoginError::Clock { skew: -301 }));
        let other = PrivateKey::generate(1024).expect("key").public_key();
        assert_eq!(verify_login(&other, "234_1", &password, 1_800_000_000), Err(LoginError::Signature));
        for extreme in [i64::MIN, i64::MAX] {
            let forged = login_password(&key, "234_1", extreme).expect("password");
            assert!(matches!(verify_login(&public, "234_1", &forged, 1_800_000_000), Err(LoginError::Clock { .. })));
        }
        for bad in ["", "secret", "v1:x:AAAA", "v2:1800000000:AAAA", "v1:1800000000:***"] {
            assert_eq!(verify_login(&public, "234_1", bad, 1_800_000_000), Err(LoginError::Format), "{bad}");
        }
    }

    #[test]
    fn broker_urls() {
        let url = BrokerUrl::parse("mqtt://onepark:p@ss@broker:1884").expect("url");
        assert_eq!(url.login, Some(("onepark".into(), "p@ss".into())));
        assert_eq!((url.host.as_str(), url.port), ("broker", 1884));
        assert_eq!(BrokerUrl::parse("tcp://10.0.0.1").map(|u| u.port), Ok(1883));
        assert!(BrokerUrl::parse("mqtts://broker:8883").is_err());
        assert!(BrokerUrl::parse("mqtt://broker:x").is_err());
        assert_eq!(redact("mqtt://onepark:secret@broker:1883"), "mqtt://onepark:***@broker:1883");
        assert!(!BrokerUrl::parse("mqtt://u:secret@broker:x").expect_err("bad port").contains("secret"));
    }

    #[test]
    fn subscriptions_stay_within_the_lot() {
        let user = AccessId::parse("234");
        let codes = vec!["1001".to_owned()];
        for ok in
            ["qdpark/v1/specialCar/234/1001", "/qdpark/v1/+/234/1001", "qdpark/v1/calfee/234/#", "qdpark/v1/+/234/+"]
        {
            assert_eq!(may_subscribe(&user, ok, &codes), Ok(()), "{ok}");
        }
        assert!(matches!(may_subscribe(&user, "qdpark/v1/+/235/1001", &codes), Err(AclDenied::ForeignAccess { .. })));
        assert!(matches!(may_subscribe(&user, "qdpark/v1/+/234_1/1001", &codes), Err(AclDenied::ForeignAccess { .. })));
        assert!(matches!(may_subscribe(&user, "qdpark/v1/+/2345/1001", &codes), Err(AclDenied::ForeignAccess { .. })));
        assert_eq!(
            may_subscribe(&user, "qdpark/v1/+/234/1002", &codes),
            Err(AclDenied::ForeignParkingCode("1002".into()))
        );
        for bad in ["#", "qdpark/#", "qdpark/v1/+/+/1001", "qdpark/v1/+/234", "qdpark/v1/other/234/1001"] {
            assert!(may_subscribe(&user, bad, &codes).is_err(), "{bad}");
        }
        let node = AccessId::parse("234_2");
        assert_eq!(may_subscribe(&node, "qdpark/v1/+/234_2/#", &codes), Ok(()));
        assert_eq!(may_subscribe(&node, "qdpark/v1/+/234/1001", &codes), Ok(()));
        assert!(may_subscribe(&node, "qdpark/v1/+/234_3/1001", &codes).is_err());
    }
}
