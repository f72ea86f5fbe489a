//! Secrets compared, made and digested: admin and API tokens, session ids,
//! nonces.

/// Length-and-content comparison that does not stop at the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

/// `bytes` random bytes from OpenSSL, as hex.
pub fn random_hex(bytes: usize) -> Result<String, openssl::error::ErrorStack> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Lower-case hex SHA-256 of a secret: how session ids and API tokens are
/// kept (they are random and long, so no slow hash is needed).
pub fn digest(secret: &str) -> String {
    openssl::sha::sha256(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new integration token (shown once) and the digest kept of it.
pub fn new_token() -> Result<(String, String), openssl::error::ErrorStack> {
    let token = format!("opk_{}", random_hex(32)?);
    let hash = digest(&token);
    Ok((token, hash))
}
