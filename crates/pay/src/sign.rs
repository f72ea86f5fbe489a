//! Notification and request signatures: HMAC-SHA256 over the exact body
//! bytes, hex, in the `x-onepark-signature` header (the shape of WeChat Pay
//! v3's and Alipay's callbacks, with a shared key instead of certificates).

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

pub const HEADER: &str = "x-onepark-signature";

/// Hex HMAC-SHA256 of `body` under `key`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mac = PKey::hmac(key)
        .and_then(|k| {
            let mut signer = Signer::new(MessageDigest::sha256(), &k)?;
            signer.update(body)?;
            signer.sign_to_vec()
        })
        .unwrap_or_default();
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time check of a received signature.
pub fn verify(key: &[u8], body: &[u8], signature: &str) -> bool {
    let expected = sign(key, body);
    expected.len() == signature.len() && openssl::memcmp::eq(expected.as_bytes(), signature.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        let mac = super::sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(super::verify(b"Jefe", b"what do ya want for nothing?", &mac));
        assert!(!super::verify(b"Jefe", b"what do ya want for nothing!", &mac));
    }
}
