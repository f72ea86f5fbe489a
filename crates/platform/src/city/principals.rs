//! Who may call the parking cloud's API: integrators (acting on the lots
//! they are given) and lots of that protocol (their own codes). One rule set
//! for the command line, the admin API and the dashboard.

use crate::store::{Principal, PrincipalKind, Store, StoreError};

/// A principal to register, validated. `secret` absent: a new random one
/// (32 upper-case hex characters, like the vendor's example key).
pub fn new_principal(
    pid: &str,
    secret: Option<&str>,
    name: &str,
    kind: &str,
    park_codes: Vec<String>,
    now: &str,
) -> Result<Principal, String> {
    let pid = pid.trim();
    if pid.is_empty() || pid.len() > 20 || !pid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("pid: 1 to 20 letters, digits, `-` or `_`".into());
    }
    let secret = match secret.map(str::trim) {
        Some(s) if s.len() < 16 || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err("secret: 16 to 64 printable ASCII characters without spaces".into());
        }
        Some(s) => s.to_owned(),
        None => crate::secret::random_hex(16).map_err(|e| format!("secret: {e}"))?.to_ascii_uppercase(),
    };
    let kind = PrincipalKind::parse(kind).ok_or("kind: `integrator` or `lot`")?;
    let mut codes: Vec<String> = Vec::new();
    for code in park_codes.iter().map(|c| c.trim()) {
        if code.is_empty() || code.chars().count() > 50 || code.contains(',') || code.chars().any(char::is_whitespace) {
            return Err(format!("parkCode `{code}`: 1 to 50 characters, no spaces or commas"));
        }
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_owned());
        }
    }
    if codes.is_empty() {
        return Err("parkCode: at least one".into());
    }
    if name.chars().count() > 50 {
        return Err("name: at most 50 characters".into());
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
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores a principal; a lot's parkCode may belong to one lot pid only.
pub async fn register(store: &Store, p: &Principal) -> Result<(), RegisterError> {
    if p.kind == PrincipalKind::Lot {
        for code in &p.park_codes {
            if let Some(other) = store.cloud_lot_of(code).await?.filter(|o| o.pid != p.pid) {
                return Err(RegisterError::Invalid(format!(
                    "parkCode {code} already belongs to lot pid {}",
                    other.pid
                )));
            }
        }
    }
    store.put_principal(p).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_validated() {
        let codes = || vec!["TEST/1P1".to_owned(), " TEST/1P1 ".to_owned()];
        let p = new_principal("123456", None, "物业", "integrator", codes(), "2026-12-04 12:00:00").expect("valid");
        assert_eq!(p.secret.len(), 32);
        assert_eq!(p.park_codes, ["TEST/1P1"]);
        assert!(new_principal("", None, "", "integrator", codes(), "").is_err());
        assert!(new_principal("a b", None, "", "integrator", codes(), "").is_err());
        assert!(new_principal("1", Some("short"), "", "integrator", codes(), "").is_err());
        assert!(new_principal("1", None, "", "vendor", codes(), "").is_err());
        assert!(new_principal("1", None, "", "lot", vec![], "").is_err());
        assert!(new_principal("1", None, "", "lot", vec!["A,B".into()], "").is_err());
    }
}
