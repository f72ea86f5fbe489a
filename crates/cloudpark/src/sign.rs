//! The vendor's sign (5.1.2): every parameter except `sign` whose value is
//! not empty, names in ASCII order, `name=value` joined with `&`, then
//! `&key=` and the secret; MD5 over the UTF-8 bytes, upper-case hex.
//!
//! The parameter list is never hard-coded: what the request carries is what
//! is signed, so parameters the vendor adds later are covered too.

use md5::{Digest, Md5};

/// The string the sign is the MD5 of, with the key left out: what an
/// integrator compares against when their sign is refused. The key itself is
/// never echoed.
pub fn canonical_without_key(params: &[(String, String)]) -> String {
    let mut signed: Vec<&(String, String)> = params.iter().filter(|(n, v)| n != "sign" && !v.is_empty()).collect();
    signed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (name, value) in signed {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The full string to sign: the canonical parameters, then `&key=` + secret.
pub fn string_to_sign(params: &[(String, String)], key: &str) -> String {
    format!("{}&key={key}", canonical_without_key(params))
}

/// The sign of these parameters under `key`.
pub fn sign(params: &[(String, String)], key: &str) -> String {
    md5_upper(string_to_sign(params, key).as_bytes())
}

/// MD5 as 32 upper-case hex characters.
pub fn md5_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let digest = Md5::digest(bytes);
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Compares a received sign with the expected one without an early exit, and
/// case-insensitively (some clients send lower-case hex).
pub fn matches(expected: &str, received: &str) -> bool {
    if expected.len() != received.len() {
        return false;
    }
    expected.bytes().zip(received.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b.to_ascii_uppercase())) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    /// The vendor's worked example (5.1.2), byte for byte.
    #[test]
    fn the_vendors_worked_example() {
        let key = "45DC1F8604F940829E75D6A76595C299";
        let p = params(&[
            ("pid", "123456"),
            ("serviceName", "enterNotify"),
            ("timestamp", "1539571096"),
            ("bizContent", r#"{"enterTime":"2018-01-01 11:00:00","parkCode":"TEST/1P1","plateNum":"粤B12345"}"#),
            ("sign", "ignored"),
        ]);
        assert_eq!(
            string_to_sign(&p, key),
            r#"bizContent={"enterTime":"2018-01-01 11:00:00","parkCode":"TEST/1P1","plateNum":"粤B12345"}&pid=123456&serviceName=enterNotify&timestamp=1539571096&key=45DC1F8604F940829E75D6A76595C299"#
        );
        assert_eq!(sign(&p, key), "EE454BE0DE3D211559865DA33745E589");
    }

    #[test]
    fn empty_values_are_left_out_and_new_parameters_are_signed() {
        let with_empty = params(&[("b", "2"), ("a", "1"), ("c", "")]);
        assert_eq!(canonical_without_key(&with_empty), "a=1&b=2");
        // ASCII order: upper case before lower case.
        let mixed = params(&[("pid", "1"), ("Zeta", "z"), ("bizContent", "{}"), ("version", "2")]);
        assert_eq!(canonical_without_key(&mixed), "Zeta=z&bizContent={}&pid=1&version=2");
    }

    #[test]
    fn sign_comparison() {
        assert!(matches("EE454BE0DE3D211559865DA33745E589", "ee454be0de3d211559865da33745e589"));
        assert!(!matches("EE454BE0DE3D211559865DA33745E589", "EE454BE0DE3D211559865DA33745E58"));
        assert!(!matches("EE454BE0DE3D211559865DA33745E589", "EE454BE0DE3D211559865DA33745E580"));
    }
}
