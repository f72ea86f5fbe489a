//! People's passwords, hashed for storage: Argon2id (RustCrypto's `argon2`,
//! OWASP's parameters: 19 MiB, 2 passes, 1 lane) in the PHC string format
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). Hashes made by onepark
//! before (`pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`, PBKDF2 via
//! OpenSSL) still verify, so a lot's configured staff keep working.
//!
//! Hashing and verifying take tens of milliseconds on purpose: callers on an
//! async runtime run them on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("no random salt: {0}")]
    Random(#[from] openssl::error::ErrorStack),
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
}

fn argon2() -> Argon2<'static> {
    // OWASP's first choice; the crate's defaults, spelled out so an upgrade
    // of the crate cannot change what new hashes cost.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// An Argon2id hash of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    openssl::rand::rand_bytes(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hash)?;
    let hash = argon2().hash_password(password.as_bytes(), &salt).map_err(PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// Whether `encoded` is a hash this module can verify (checked at start-up).
pub fn valid_hash(encoded: &str) -> bool {
    if encoded.starts_with("$argon2") {
        return PasswordHash::new(encoded).is_ok();
    }
    parse_pbkdf2(encoded).is_some()
}

/// Whether `password` is the one `encoded` was made from. A malformed hash
/// verifies nothing.
pub fn verify(password: &str, encoded: &str) -> bool {
    if encoded.starts_with("$argon2") {
        // The parameters are the hash's own, so older hashes keep verifying.
        return PasswordHash::new(encoded)
            .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok());
    }
    let Some((iterations, salt, hash)) = parse_pbkdf2(encoded) else { return false };
    let mut given = [0u8; 32];
    let digest = openssl::hash::MessageDigest::sha256();
    openssl::pkcs5::pbkdf2_hmac(password.as_bytes(), &salt, iterations, digest, &mut given).is_ok()
        && openssl::memcmp::eq(&given, &hash)
}

/// An Argon2id hash of a random password nobody knows: what an unknown
/// account name is checked against, so timing tells no names.
pub const DUMMY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0gqSN4hXqzsgZ6aFGOJVvxmrpN0NeT3K9xHXe7OaSfM";

/// A password made for someone: 16 characters nobody will mistype (no 0/O, 1/l/I).
pub fn made_password() -> Result<String, PasswordError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect())
}

fn parse_pbkdf2(encoded: &str) -> Option<(usize, Vec<u8>, Vec<u8>)> {
    let mut parts = encoded.split('$');
    (parts.next()? == "pbkdf2-sha256").then_some(())?;
    let iterations = parts.next()?.parse().ok().filter(|n| *n >= 1000)?;
    let salt = STANDARD.decode(parts.next()?).ok()?;
    let hash = STANDARD.decode(parts.next()?).ok().filter(|h| h.len() == 32)?;
    parts.next().is_none().then_some((iterations, salt, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let h = hash_password("岗亭 secret").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(valid_hash(&h), "{h}");
        assert!(verify("岗亭 secret", &h));
        assert!(!verify("岗亭 Secret", &h));
        assert_ne!(hash_password("岗亭 secret").expect("hash"), h, "a fresh salt each time");
        assert!(!verify("x", "pbkdf2-sha256$10$AAAA$AAAA"), "malformed hashes never verify");
        assert!(!verify("x", "$argon2id$garbage"));
        assert!(!valid_hash("plain text"));
    }

    #[test]
    fn hashes_made_before_argon2_still_verify() {
        // `onepark lot hash-password` of "booth-pass" before this module used Argon2.
        let mut salt = [7u8; 16];
        salt[0] = 1;
        let mut hash = [0u8; 32];
        let digest = openssl::hash::MessageDigest::sha256();
        openssl::pkcs5::pbkdf2_hmac(b"booth-pass", &salt, 100_000, digest, &mut hash).expect("pbkdf2");
        let old = format!("pbkdf2-sha256$100000${}${}", STANDARD.encode(salt), STANDARD.encode(hash));
        assert!(valid_hash(&old));
        assert!(verify("booth-pass", &old));
        assert!(!verify("booth-Pass", &old));
    }
}
