//! RSA keys in every form integrators hand around: Base64 DER (X.509
//! SubjectPublicKeyInfo / PKCS#8, what platforms issue), PEM, and PKCS#1.
//!
//! Parsing takes text, never a path: reading files is the caller's business.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{which} key is empty")]
    Empty { which: &'static str },
    #[error("{which} key is neither PEM nor Base64 DER")]
    NotBase64 { which: &'static str },
    #[error("{which} key is not an RSA {which} key in X.509/PKCS#8/PKCS#1 form ({detail})")]
    NotRsa { which: &'static str, detail: &'static str },
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("{which} key is only {bits} bits; at least {MIN_BITS} are required")]
    TooSmall { which: &'static str, bits: usize },
}

/// Runs of Base64 at least this long are taken for key material: a key's
/// Base64 or each line of a PEM (64 characters) is longer, a path or a
/// word is not (`.`, `_`, `-` and spaces end a run).
const KEY_RUN: usize = 40;

/// `text` as it may be shown in an error or a log: every run of
/// [`KEY_RUN`] or more Base64 characters (an inline key, a line of a PEM, a
/// long token) is replaced by its length. Errors that echo what a
/// configuration said (a TOML error's line, a "file not found" path that was
/// really inline key text) go through this, so no key is ever printed.
pub fn redact(text: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    let mut out = String::with_capacity(text.len().min(256));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= KEY_RUN {
            out.push_str(&format!("<{} characters hidden>", run.chars().count()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_b64(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Smallest key accepted: below it the PKCS#1 padding (11 bytes) leaves no
/// room for data, and no deployed system uses less.
pub const MIN_BITS: usize = 512;

/// An RSA public key (a peer's: the lot's on the platform, the platform's on a lot).
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) rsa: Rsa<Public>,
    pub(crate) pkey: PKey<Public>,
}

/// An RSA private key (our own).
#[derive(Clone)]
pub struct PrivateKey {
    pub(crate) rsa: Rsa<Private>,
    pub(crate) pkey: PKey<Private>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(RSA-{})", self.bits())
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(RSA-{})", self.bits())
    }
}

fn der_from_text(text: &str, which: &'static str) -> Result<Vec<u8>, KeyError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(KeyError::Empty { which });
    }
    STANDARD.decode(compact.as_bytes()).map_err(|_| KeyError::NotBase64 { which })
}

impl PublicKey {
    /// Parses PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`) or Base64 DER (SPKI or PKCS#1).
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        const WHICH: &str = "public";
        let text = text.trim();
        let rsa = if text.starts_with("-----BEGIN") {
            PKey::public_key_from_pem(text.as_bytes())
                .ok()
                .and_then(|k| k.rsa().ok())
                .or_else(|| Rsa::public_key_from_pem_pkcs1(text.as_bytes()).ok())
                .ok_or(KeyError::NotRsa { which: WHICH, detail: "PEM did not parse" })?
        } else {
            let der = der_from_text(text, WHICH)?;
            PKey::public_key_from_der(&der)
                .ok()
                .and_then(|k| k.rsa().ok())
                .or_else(|| Rsa::public_key_from_der_pkcs1(&der).ok())
                .ok_or(KeyError::NotRsa { which: WHICH, detail: "DER did not parse" })?
        };
        Self::from_rsa(rsa)
    }

    fn from_rsa(rsa: Rsa<Public>) -> Result<PublicKey, KeyError> {
        if (rsa.size() as usize) * 8 < MIN_BITS {
            return Err(KeyError::TooSmall { which: "public", bits: rsa.size() as usize * 8 });
        }
        let pkey =
            PKey::from_rsa(rsa.clone()).map_err(|_| KeyError::NotRsa { which: "public", detail: "unusable key" })?;
        Ok(PublicKey { rsa, pkey })
    }

    /// Modulus size in bytes: the ciphertext block size `k`.
    pub fn size(&self) -> usize {
        self.rsa.size() as usize
    }

    pub fn bits(&self) -> usize {
        self.size() * 8
    }

    /// Base64 of the X.509 SubjectPublicKeyInfo DER, the form platforms hand out.
    pub fn to_base64_der(&self) -> String {
        STANDARD.encode(self.pkey.public_key_to_der().unwrap_or_default())
    }

    pub fn same_as(&self, other: &PublicKey) -> bool {
        self.rsa.n() == other.rsa.n() && self.rsa.e() == other.rsa.e()
    }
}

impl PrivateKey {
    /// Parses PEM (`PRIVATE KEY` or `RSA PRIVATE KEY`) or Base64 DER (PKCS#8 or PKCS#1).
    pub fn parse(text: &str) -> Result<PrivateKey, KeyError> {
        const WHICH: &str = "private";
        let text = text.trim();
        let rsa = if text.starts_with("-----BEGIN") {
            PKey::private_key_from_pem(text.as_bytes())
                .ok()
                .and_then(|k| k.rsa().ok())
                .ok_or(KeyError::NotRsa { which: WHICH, detail: "PEM did not parse" })?
        } else {
            let der = der_from_text(text, WHICH)?;
            PKey::private_key_from_der(&der)
                .ok()
                .and_then(|k| k.rsa().ok())
                .or_else(|| Rsa::private_key_from_der(&der).ok())
                .ok_or(KeyError::NotRsa { which: WHICH, detail: "DER did not parse" })?
        };
        Self::from_rsa(rsa)
    }

    /// A fresh key pair. Java and the spec expect 1024 bits; 2048 also works.
    pub fn generate(bits: u32) -> Result<PrivateKey, KeyError> {
        let rsa = Rsa::generate(bits).map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_rsa(rsa)
    }

    fn from_rsa(rsa: Rsa<Private>) -> Result<PrivateKey, KeyError> {
        if (rsa.size() as usize) * 8 < MIN_BITS {
            return Err(KeyError::TooSmall { which: "private", bits: rsa.size() as usize * 8 });
        }
        let pkey =
            PKey::from_rsa(rsa.clone()).map_err(|_| KeyError::NotRsa { which: "private", detail: "unusable key" })?;
        Ok(PrivateKey { rsa, pkey })
    }

    pub fn size(&self) -> usize {
        self.rsa.size() as usize
    }

    pub fn bits(&self) -> usize {
        self.size() * 8
    }

    pub fn public_key(&self) -> PublicKey {
        let rsa = Rsa::from_public_components(
            self.rsa.n().to_owned().expect("copying a bignum"),
            self.rsa.e().to_owned().expect("copying a bignum"),
        )
        .expect("public half of a valid private key");
        PublicKey::from_rsa(rsa).expect("public half of a valid private key")
    }

    /// Base64 of the PKCS#8 DER, the form Java's `PKCS8EncodedKeySpec` reads.
    pub fn to_base64_der(&self) -> String {
        STANDARD.encode(self.pkey.private_key_to_pkcs8().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_key_text_and_keeps_paths() {
        let key = PrivateKey::generate(1024).expect("key").to_base64_der();
        let shown = redact(&format!("line 3: private_key = \"{key}\" is not a file"));
        assert!(!shown.contains(&key[100..140]), "{shown}");
        assert!(
            shown.starts_with("line 3: private_key = \"<") && shown.ends_with("characters hidden>\" is not a file")
        );
        let path = "/etc/onepark/keys/lot_private.b64 not found";
        assert_eq!(redact(path), path);
    }

    #[test]
    fn every_form_parses_to_the_same_key() {
        let private = PrivateKey::generate(1024).expect("generate");
        let public = private.public_key();
        let pkcs1_pub = STANDARD.encode(public.rsa.public_key_to_der_pkcs1().expect("der"));
        let pem_pub = String::from_utf8(public.pkey.public_key_to_pem().expect("pem")).expect("utf8");
        let pem_pub_pkcs1 = String::from_utf8(public.rsa.public_key_to_pem_pkcs1().expect("pem")).expect("utf8");
        for text in [public.to_base64_der(), pkcs1_pub, pem_pub, pem_pub_pkcs1] {
            let parsed = PublicKey::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert!(parsed.same_as(&public));
        }
        let pkcs1_priv = STANDARD.encode(private.rsa.private_key_to_der().expect("der"));
        let pem_priv = String::from_utf8(private.pkey.private_key_to_pem_pkcs8().expect("pem")).expect("utf8");
        let pem_priv_pkcs1 = String::from_utf8(private.rsa.private_key_to_pem().expect("pem")).expect("utf8");
        // Base64 as some tools print it: wrapped at 64 columns.
        let wrapped: String = private
            .to_base64_der()
            .as_bytes()
            .chunks(64)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect();
        for text in [private.to_base64_der(), pkcs1_priv, pem_priv, pem_priv_pkcs1, wrapped] {
            let parsed = PrivateKey::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert!(parsed.public_key().same_as(&public));
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(matches!(PublicKey::parse("  "), Err(KeyError::Empty { which: "public" })));
        assert!(matches!(PublicKey::parse("not base64!"), Err(KeyError::NotBase64 { .. })));
        assert!(matches!(PrivateKey::parse("AAAA"), Err(KeyError::NotRsa { .. })));
        let private = PrivateKey::generate(1024).expect("generate");
        let n = openssl::bn::BigNum::from_hex_str(&"F".repeat(64)).expect("n");
        let e = openssl::bn::BigNum::from_u32(65537).expect("e");
        let tiny = Rsa::from_public_components(n, e).expect("tiny key");
        let tiny = STANDARD.encode(tiny.public_key_to_der_pkcs1().expect("der"));
        assert!(matches!(PublicKey::parse(&tiny), Err(KeyError::TooSmall { bits: 256, .. })));
        // A private key where a public one belongs is refused, not misread.
        assert!(PublicKey::parse(&private.to_base64_der()).is_err());
    }
}
