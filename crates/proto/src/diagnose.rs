//! Explains why an envelope did not open, in terms an integrator can act on.
//!
//! Debugging a rejected signature is the biggest time sink of every
//! integration, so this looks inside the signature: recovering the PKCS#1
//! DigestInfo with the peer's public key tells which key signed, with which
//! hash, and (by comparing digests) over which text.

use openssl::hash::{MessageDigest, hash};
use openssl::rsa::Padding;

use crate::envelope::{Keys, OpenError, Profile, decode_base64, decode_cipher, decrypt_blocks};
use crate::key::PublicKey;

const SHA1_PREFIX: &[u8] = &[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14];
const MD5_PREFIX: &[u8] =
    &[0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10];
const SHA256_PREFIX: &[u8] =
    &[0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

pub(crate) fn explain(profile: Profile, cipher: &str, sign: &str, keys: Keys<'_>, error: &OpenError) -> Vec<String> {
    let mut hints = Vec::new();
    if cipher.contains('%') || sign.contains('%') {
        hints.push(
            "cipher/sign contain `%`: the form was URL-encoded twice (encode once, or let the HTTP client do it)"
                .into(),
        );
    }
    match error {
        OpenError::MissingKey { role, .. } => {
            hints.push(format!("profile {profile} needs the {role:?} key; pass it (as Base64 DER, PEM or a file path)"))
        }
        OpenError::SignBase64 | OpenError::CipherBase64 => hints.push(
            "Base64 damaged in transit: send the fields URL-encoded in the form body so `+`, `/` and `=` survive".into(),
        ),
        OpenError::Signature { .. } => signature_hints(profile, cipher, sign, keys, &mut hints),
        OpenError::BlockLength { len, block } => {
            let other = [128usize, 256, 384, 512].into_iter().find(|k| k != block && len % k == 0);
            hints.push(match other {
                Some(k) => format!(
                    "{len} bytes is a whole number of {k}-byte blocks: it was encrypted with an RSA-{} key, not the {}-bit key expected here",
                    k * 8,
                    block * 8
                ),
                None => "the Base64 was truncated or damaged on the way (check length limits of the HTTP client, proxy or logger)".into(),
            })
        }
        OpenError::Decrypt { .. } | OpenError::Charset => hints.push(match profile {
            Profile::Qingdao => "the signature is good but the cipher does not decrypt: it was encrypted with a key other than the platform public key (keys swapped, an old key, or the lot's own public key)".into(),
            Profile::Hangzhou => "the signature is good but the cipher does not decrypt with the lot public key: the hangzhou profile encrypts with the lot PRIVATE key; check the profile".into(),
        }),
        OpenError::EmptyCipher | OpenError::EmptySign => {
            hints.push("the request must carry accessID, cipher and sign (form body or query string)".into())
        }
    }
    hints
}

fn signature_hints(profile: Profile, cipher: &str, sign: &str, keys: Keys<'_>, hints: &mut Vec<String>) {
    let Some(peer) = keys.peer else { return };
    let Some(signature) = decode_base64(sign) else { return };
    if signature.len() != peer.size() {
        hints.push(format!(
            "sign is {} bytes but the lot public key is RSA-{}: signed with a different key",
            signature.len(),
            peer.bits()
        ));
        return;
    }
    let Some((algorithm, digest)) = recover(peer, &signature) else {
        let swapped = keys.own.map(|own| own.public_key()).and_then(|p| recover(&p, &signature));
        hints.push(if swapped.is_some() {
            "sign was made with the PLATFORM private key: the lot and platform keys are swapped".into()
        } else {
            "sign was not made with the private key matching this lot public key (wrong key pair, or the platform has an old public key for this accessID)".into()
        });
        return;
    };
    let expected = profile.signature_name();
    if algorithm.name != expected {
        let other = if algorithm.name == "MD5withRSA" { " (that is the hangzhou profile)" } else { "" };
        hints.push(format!(
            "sign uses {}{other}, but this accessID is configured for the {profile} profile ({expected})",
            algorithm.name
        ));
    }
    let stripped: String = cipher.chars().filter(|c| !c.is_whitespace()).collect();
    let mut candidates: Vec<(&str, Vec<u8>)> = vec![
        ("cipher as received", cipher.as_bytes().to_vec()),
        ("cipher without line breaks", stripped.into_bytes()),
        ("cipher with spaces turned back into `+`", cipher.replace(' ', "+").into_bytes()),
    ];
    if let Some(raw) = decode_base64(cipher) {
        candidates.push(("the raw ciphertext bytes", raw));
    }
    if let Some(plain) = keys.own.and_then(|own| decrypt_for_diagnosis(own, cipher)) {
        candidates.push(("the decrypted JSON (plaintext)", plain));
    }
    let found = candidates
        .iter()
        .find(|(_, data)| hash(algorithm.digest, data).map(|d| d.as_ref() == digest.as_slice()).unwrap_or(false));
    hints.push(match found {
        Some((what, _)) if *what == "cipher as received" => {
            format!("the signature itself is fine ({}); check the configured profile", algorithm.name)
        }
        Some((what, _)) => format!(
            "sign was made over {what}, but the spec signs the cipher text exactly as sent (UTF-8 bytes of the Base64 string)"
        ),
        None => "sign was made with the right key but over a text that is not the cipher received: the cipher was changed after signing (re-encoded, re-wrapped, trimmed or truncated by a proxy or the HTTP client)".into(),
    });
}

struct Algorithm {
    name: &'static str,
    digest: MessageDigest,
}

/// Recovers (algorithm, digest) from a PKCS#1 v1.5 signature, or `None` when
/// the peer's key did not make it.
fn recover(peer: &PublicKey, signature: &[u8]) -> Option<(Algorithm, Vec<u8>)> {
    let mut out = vec![0u8; peer.size()];
    let n = peer.rsa.public_decrypt(signature, &mut out, Padding::PKCS1).ok()?;
    let info = &out[..n];
    let known = [
        (SHA1_PREFIX, "SHA1withRSA", MessageDigest::sha1()),
        (MD5_PREFIX, "MD5withRSA", MessageDigest::md5()),
        (SHA256_PREFIX, "SHA256withRSA", MessageDigest::sha256()),
    ];
    for (prefix, name, digest) in known {
        if let Some(d) = info.strip_prefix(prefix) {
            return Some((Algorithm { name, digest }, d.to_vec()));
        }
    }
    // A bare digest without DigestInfo (NONEwithRSA over a hash).
    let digest = match n {
        20 => MessageDigest::sha1(),
        16 => MessageDigest::md5(),
        _ => {
            return Some((
                Algorithm { name: "an unknown signature scheme", digest: MessageDigest::sha1() },
                info.to_vec(),
            ));
        }
    };
    Some((Algorithm { name: "a bare digest without DigestInfo (NONEwithRSA)", digest }, info.to_vec()))
}

/// The plaintext, if the cipher decrypts with our key at all (diagnosis only:
/// the signature did not verify, so nothing here is trusted).
fn decrypt_for_diagnosis(own: &crate::key::PrivateKey, cipher: &str) -> Option<Vec<u8>> {
    let (raw, _) = decode_cipher(cipher, own.size())?;
    if raw.is_empty() || raw.len() % own.size() != 0 {
        return None;
    }
    decrypt_blocks(&raw, own.size(), &|b, out| own.rsa.private_decrypt(b, out, Padding::PKCS1)).ok()
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use openssl::sign::Signer;

    use super::*;
    use crate::envelope::{open, seal, tests::pair};

    fn sign_with(key: &crate::key::PrivateKey, md: MessageDigest, data: &[u8]) -> String {
        let mut s = Signer::new(md, &key.pkey).expect("signer");
        STANDARD.encode(s.sign_oneshot_to_vec(data).expect("sign"))
    }

    fn hints_for(sign: impl Fn(&crate::key::PrivateKey, &crate::key::PrivateKey, &str) -> String) -> String {
        let (lot, lot_pub) = pair(1024);
        let (platform, platform_pub) = pair(1024);
        let plain = b"{\"data\":{}}";
        let sealed = seal(Profile::Qingdao, plain, Keys { own: Some(&lot), peer: Some(&platform_pub) }).expect("seal");
        let sign = sign(&lot, &platform, &sealed.cipher);
        let keys = Keys { own: Some(&platform), peer: Some(&lot_pub) };
        let err = open(Profile::Qingdao, &sealed.cipher, &sign, keys).expect_err("must fail");
        explain(Profile::Qingdao, &sealed.cipher, &sign, keys, &err).join("\n")
    }

    #[test]
    fn names_swapped_keys() {
        let h = hints_for(|_, platform, cipher| sign_with(platform, MessageDigest::sha1(), cipher.as_bytes()));
        assert!(h.contains("swapped"), "{h}");
    }

    #[test]
    fn names_wrong_algorithm() {
        let h = hints_for(|lot, _, cipher| sign_with(lot, MessageDigest::md5(), cipher.as_bytes()));
        assert!(h.contains("MD5withRSA") && h.contains("hangzhou"), "{h}");
        let h = hints_for(|lot, _, cipher| sign_with(lot, MessageDigest::sha256(), cipher.as_bytes()));
        assert!(h.contains("SHA256withRSA"), "{h}");
    }

    #[test]
    fn names_wrong_text() {
        let h = hints_for(|lot, _, _| sign_with(lot, MessageDigest::sha1(), b"{\"data\":{}}"));
        assert!(h.contains("decrypted JSON"), "{h}");
        let h = hints_for(|lot, _, _| sign_with(lot, MessageDigest::sha1(), b"something else"));
        assert!(h.contains("changed after signing"), "{h}");
    }

    #[test]
    fn names_foreign_key_size() {
        let (lot, lot_pub) = pair(1024);
        let (platform, _) = pair(2048);
        let (_, small_pub) = pair(1024);
        let sealed = seal(Profile::Qingdao, b"{}", Keys { own: Some(&lot), peer: Some(&small_pub) }).expect("seal");
        let keys = Keys { own: Some(&platform), peer: Some(&lot_pub) };
        let err = open(Profile::Qingdao, &sealed.cipher, &sealed.sign, keys).expect_err("wrong key");
        assert_eq!(err, OpenError::BlockLength { len: 128, block: 256 });
        let h = explain(Profile::Qingdao, &sealed.cipher, &sealed.sign, keys, &err).join("\n");
        assert!(h.contains("RSA-1024"), "{h}");
    }
}
