//! Who may call the parking cloud's API: integrators (acting on the lots
//! they are given) and lots of that protocol (their own codes). One rule set
//! for the command line, the admin API and the dashboard.

use crate::access::Who;
use crate::city::audit::Change;
use crate::store::{Principal, PrincipalKind, Store, StoreError};

/// A park code no lot may have: the cloud's MQ broadcast takes it as its
/// topic's and envelope's (checked equal to the wire's in `link::cloudpark::channel`).
pub const RESERVED: &str = "querymonthcard";

/// What is wrong with a principal to register (English; `zh` for pages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    #[error("pid: 1 to 20 letters, digits, `-` or `_`")]
    Pid,
    #[error("secret: 16 to 64 printable ASCII characters without spaces")]
    Secret,
    #[error("secret: no random source ({0})")]
    Random(String),
    #[error("kind: `integrator` or `lot`")]
    Kind,
    #[error(
        "parkCode `{0}`: 1 to 50 characters, no spaces, commas, `+`, `#` or control characters, not `querymonthcard` (the MQ broadcast)"
    )]
    ParkCode(String),
    #[error("parkCode: at least one")]
    NoParkCode,
    #[error("name: at most 50 characters")]
    Name,
}

impl PrincipalError {
    pub fn zh(&self) -> String {
        match self {
            PrincipalError::Pid => "pid 须为 1 至 20 个字母、数字、- 或 _".into(),
            PrincipalError::Secret => "密钥须为 16 至 64 个可见 ASCII 字符，不含空格".into(),
            PrincipalError::Random(e) => format!("无法生成密钥：{e}"),
            PrincipalError::Kind => "类型须为对接方或车场".into(),
            PrincipalError::ParkCode(c) => format!(
                "车场编号 {c} 须为 1 至 50 个字符，不含空格、逗号、+、# 或控制字符，且不能是 querymonthcard（MQ 广播）"
            ),
            PrincipalError::NoParkCode => "至少填写一个车场编号".into(),
            PrincipalError::Name => "名称最多 50 个字符".into(),
        }
    }
}

/// A principal to register, validated exactly as given (the admin API's
/// document says the same; forms trim before). `secret` absent: a new random one
/// (32 upper-case hex characters, like the vendor's example key).
pub fn new_principal(
    pid: &str,
    secret: Option<&str>,
    name: &str,
    kind: &str,
    park_codes: Vec<String>,
    now: &str,
) -> Result<Principal, PrincipalError> {
    if pid.is_empty() || pid.len() > 20 || !pid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(PrincipalError::Pid);
    }
    let secret = match secret {
        Some(s) if s.len() < 16 || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(PrincipalError::Secret);
        }
        Some(s) => s.to_owned(),
        None => crate::secret::random_hex(16).map_err(|e| PrincipalError::Random(e.to_string()))?.to_ascii_uppercase(),
    };
    let kind = PrincipalKind::parse(kind).ok_or(PrincipalError::Kind)?;
    let mut codes: Vec<String> = Vec::new();
    for code in park_codes.iter().map(String::as_str) {
        if code.is_empty()
            || code.chars().count() > 50
            || code.contains([',', '+', '#'])
            || code == RESERVED
            || code.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(PrincipalError::ParkCode(code.to_owned()));
        }
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_owned());
        }
    }
    if codes.is_empty() {
        return Err(PrincipalError::NoParkCode);
    }
    if name.chars().count() > 50 {
        return Err(PrincipalError::Name);
    }
    Ok(Principal {
        pid: pid.to_owned(),
        secret,
        kind,
        name: name.trim().to_owned(),
        park_codes: codes,
        created_at: now.to_owned(),
    })
}

/// Why a principal could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A lot's parkCode belongs to another lot pid (`code`, `other`).
    #[error("parkCode {0} already belongs to lot pid {1}")]
    Taken(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores a principal, audited as `who`'s change at `now`; a lot's
/// parkCode may belong to one lot pid only.
pub async fn register(store: &Store, who: &Who, now: &str, p: &Principal) -> Result<(), RegisterError> {
    let before = store.principal(&p.pid).await?;
    let change = Change::new("integrator", "", &p.pid).old(before.as_ref().map(described)).new_value(described(p));
    let pending = crate::city::audit::begin(store, who, now, change).await?;
    let result = put(store, p).await;
    pending.finish(store, &result).await;
    result
}

async fn put(store: &Store, p: &Principal) -> Result<(), RegisterError> {
    if p.kind == PrincipalKind::Lot {
        for code in &p.park_codes {
            if let Some(other) = store.cloud_lot_of(code).await?.filter(|o| o.pid != p.pid) {
                return Err(RegisterError::Taken(code.clone(), other.pid));
            }
        }
    }
    store.put_principal(p).await?;
    Ok(())
}

/// Removes a principal, audited; false if there was none.
pub async fn remove(store: &Store, who: &Who, now: &str, pid: &str) -> Result<bool, StoreError> {
    let before = store.principal(pid).await?;
    let change = Change::new("integrator", "", pid).old(before.as_ref().map(described));
    let pending = crate::city::audit::begin(store, who, now, change).await?;
    let result = store.remove_principal(pid).await;
    match &result {
        Ok(false) => pending.finish_with(store, "failed", "no such pid", None).await,
        _ => pending.finish(store, &result).await,
    }
    result
}

/// What the audit trail keeps of a principal (never its secret).
fn described(p: &Principal) -> serde_json::Value {
    serde_json::json!({ "kind": p.kind.as_str(), "name": p.name, "parkCodes": p.park_codes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_validated() {
        let codes = || vec!["TEST/1P1".to_owned(), "TEST/1P1".to_owned()];
        let p = new_principal("123456", None, "物业", "integrator", codes(), "2026-12-04 12:00:00").expect("valid");
        assert_eq!(p.secret.len(), 32);
        assert_eq!(p.park_codes, ["TEST/1P1"]);
        assert!(new_principal("", None, "", "integrator", codes(), "").is_err());
        assert!(new_principal("a b", None, "", "integrator", codes(), "").is_err());
        assert!(new_principal("1", Some("short"), "", "integrator", codes(), "").is_err());
        assert!(new_principal("1", None, "", "vendor", codes(), "").is_err());
        assert!(new_principal("1", None, "", "lot", vec![], "").is_err());
        assert!(new_principal("1", None, "", "lot", vec!["A,B".into()], "").is_err());
        for topic_breaking in ["A/#", "A/+", "querymonthcard"] {
            assert!(new_principal("1", None, "", "lot", vec![topic_breaking.into()], "").is_err());
        }
    }
}
