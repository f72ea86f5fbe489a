//! Staff passwords: PBKDF2-SHA256 hashes in the config's format
//! (`pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`, made with `onepark
//! lot hash-password`), checked at start-up and at login.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const ITERATIONS: usize = 100_000;

/// A PBKDF2-SHA256 hash of `password` in the config's format.
pub fn hash_password(password: &str) -> Result<String, openssl::error::ErrorStack> {
    let mut salt = [0u8; 16];
    openssl::rand::rand_bytes(&mut salt)?;
    let mut hash = [0u8; 32];
    openssl::pkcs5::pbkdf2_hmac(
        password.as_bytes(),
        &salt,
        ITERATIONS,
        openssl::hash::MessageDigest::sha256(),
        &mut hash,
    )?;
    Ok(format!("pbkdf2-sha256${ITERATIONS}${}${}", STANDARD.encode(salt), STANDARD.encode(hash)))
}

/// Whether `encoded` is a well-formed hash (checked at start-up).
pub fn valid_hash(encoded: &str) -> bool {
    parse_hash(encoded).is_some()
}

fn parse_hash(encoded: &str) -> Option<(usize, Vec<u8>, Vec<u8>)> {
    let mut parts = encoded.split('$');
    (parts.next()? == "pbkdf2-sha256").then_some(())?;
    let iterations = parts.next()?.parse().ok().filter(|n| *n >= 1000)?;
    let salt = STANDARD.decode(parts.next()?).ok()?;
    let hash = STANDARD.decode(parts.next()?).ok().filter(|h| h.len() == 32)?;
    parts.next().is_none().then_some((iterations, salt, hash))
}

pub(crate) fn verify(password: &str, encoded: &str) -> bool {
    let Some((iterations, salt, hash)) = parse_hash(encoded) else { return false };
    let mut given = [0u8; 32];
    let digest = openssl::hash::MessageDigest::sha256();
    openssl::pkcs5::pbkdf2_hmac(password.as_bytes(), &salt, iterations, digest, &mut given).is_ok()
        && openssl::memcmp::eq(&given, &hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let h = hash_password("岗亭 secret").expect("hash");
        assert!(valid_hash(&h), "{h}");
        assert!(verify("岗亭 secret", &h));
        assert!(!verify("岗亭 Secret", &h));
        assert!(!verify("x", "pbkdf2-sha256$10$AAAA$AAAA"), "malformed hashes never verify");
        assert!(!valid_hash("plain text"));
    }
}
