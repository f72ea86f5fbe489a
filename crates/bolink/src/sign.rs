//! The vendor's sign: `upper(hex(MD5(D + "key=" + key)))`, `D` the `data`
//! JSON text exactly as sent (verified over the received bytes, never a
//! re-serialisation).

use md5::{Digest, Md5};

/// The sign of `data_text` with `key`.
pub fn sign(data_text: &str, key: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(data_text.as_bytes());
    md5.update(b"key=");
    md5.update(key.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02X}")).collect()
}

/// Whether `received` is the sign of `data_text` (case-insensitive hex, compared in constant time).
pub fn verify(data_text: &str, key: &str, received: &str) -> bool {
    let expected = sign(data_text, key);
    let received = received.trim().to_ascii_uppercase();
    expected.len() == received.len()
        && expected.bytes().zip(received.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_text_then_key_equals_then_the_key() {
        // docs/bolink.md's worked example; Python: hashlib.md5(b'{"park_id":"21835"}key=abc').hexdigest().upper()
        let s = sign(r#"{"park_id":"21835"}"#, "abc");
        assert_eq!(s, "9F004B599BA08DA4F32AE24F191255C2");
        assert!(verify(r#"{"park_id":"21835"}"#, "abc", &s.to_ascii_lowercase()));
        assert!(!verify(r#"{"park_id": "21835"}"#, "abc", &s), "another text of the same JSON is another sign");
        assert!(!verify(r#"{"park_id":"21835"}"#, "abd", &s));
    }
}
