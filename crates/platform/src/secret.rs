//! Secrets compared and made: admin and dashboard tokens, session ids,
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
