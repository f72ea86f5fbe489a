//! One test per failure class of opening an envelope: each is refused with
//! the step that failed, nothing panics.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use onepark_proto::envelope::{KeyRole, OpenError};
use onepark_proto::msg::{DecodeError, decode, record::CarIn};
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};

struct World {
    lot: PrivateKey,
    lot_pub: PublicKey,
    platform: PrivateKey,
    platform_pub: PublicKey,
}

fn world() -> World {
    let lot = PrivateKey::generate(1024).expect("lot");
    let platform = PrivateKey::generate(1024).expect("platform");
    World { lot_pub: lot.public_key(), platform_pub: platform.public_key(), lot, platform }
}

/// SHA1withRSA over `text`, as a client signs, for envelopes we build by hand.
fn sign(key: &PrivateKey, text: &str) -> String {
    let der = STANDARD.decode(key.to_base64_der()).expect("der");
    let pkey = openssl::pkey::PKey::private_key_from_der(&der).expect("pkey");
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha1(), &pkey).expect("signer");
    STANDARD.encode(signer.sign_oneshot_to_vec(text.as_bytes()).expect("sign"))
}

fn open(w: &World, cipher: &str, sign: &str) -> Result<onepark_proto::Opened, OpenError> {
    onepark_proto::open(Profile::Qingdao, cipher, sign, Keys { own: Some(&w.platform), peer: Some(&w.lot_pub) })
}

fn sealed(w: &World, text: &str) -> onepark_proto::Sealed {
    onepark_proto::seal(Profile::Qingdao, text.as_bytes(), Keys { own: Some(&w.lot), peer: Some(&w.platform_pub) })
        .expect("seal")
}

#[test]
fn empty_fields() {
    let w = world();
    assert_eq!(open(&w, "", "x").err(), Some(OpenError::EmptyCipher));
    assert_eq!(open(&w, "x", " ").err(), Some(OpenError::EmptySign));
}

#[test]
fn missing_key() {
    let w = world();
    let s = sealed(&w, "{}");
    let err = onepark_proto::open(Profile::Qingdao, &s.cipher, &s.sign, Keys { own: None, peer: Some(&w.lot_pub) });
    assert_eq!(err.err(), Some(OpenError::MissingKey { profile: Profile::Qingdao, role: KeyRole::OwnPrivate }));
}

#[test]
fn sign_not_base64() {
    let w = world();
    let s = sealed(&w, "{}");
    assert_eq!(open(&w, &s.cipher, "!!not base64!!").err(), Some(OpenError::SignBase64));
}

#[test]
fn tampered_cipher_fails_the_signature_before_decryption() {
    let w = world();
    let s = sealed(&w, "{\"a\":1}");
    let mut bytes = s.cipher.into_bytes();
    bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
    let cipher = String::from_utf8(bytes).expect("ascii");
    assert!(matches!(open(&w, &cipher, &s.sign), Err(OpenError::Signature { .. })));
}

#[test]
fn signed_by_someone_else() {
    let w = world();
    let s = sealed(&w, "{}");
    let stranger = PrivateKey::generate(1024).expect("stranger");
    assert!(matches!(open(&w, &s.cipher, &sign(&stranger, &s.cipher)), Err(OpenError::Signature { .. })));
}

#[test]
fn cipher_not_base64_but_signed() {
    let w = world();
    let cipher = "this is not base64 ***";
    assert_eq!(open(&w, cipher, &sign(&w.lot, cipher)).err(), Some(OpenError::CipherBase64));
}

#[test]
fn block_length_not_a_multiple_of_the_key() {
    let w = world();
    let s = sealed(&w, "{}");
    let mut raw = STANDARD.decode(&s.cipher).expect("b64");
    raw.truncate(100);
    let cipher = STANDARD.encode(&raw);
    assert_eq!(open(&w, &cipher, &sign(&w.lot, &cipher)).err(), Some(OpenError::BlockLength { len: 100, block: 128 }));
}

#[test]
fn encrypted_for_another_key_never_yields_a_message() {
    let w = world();
    // The lot encrypted with its own public key instead of the platform's.
    let wrong = onepark_proto::seal(
        Profile::Qingdao,
        br#"{"data":{"uid":"1"}}"#,
        Keys { own: Some(&w.lot), peer: Some(&w.lot_pub) },
    )
    .expect("seal");
    // OpenSSL 3.0 reports the bad padding; ≥ 3.2 returns random bytes
    // (implicit rejection), which then fail as text or as JSON.
    match open(&w, &wrong.cipher, &wrong.sign) {
        Err(OpenError::Decrypt { index: 0, blocks: 1 }) | Err(OpenError::Charset) => {}
        Ok(opened) => assert!(matches!(decode::<CarIn>(&opened.text), Err(DecodeError::Json(_)))),
        Err(other) => panic!("unexpected {other}"),
    }
}

#[test]
fn valid_envelope_invalid_json_and_invalid_fields() {
    let w = world();
    let s = sealed(&w, "{not json");
    let text = open(&w, &s.cipher, &s.sign).expect("opens").text;
    assert!(matches!(decode::<CarIn>(&text), Err(DecodeError::Json(_))));
    let s = sealed(&w, r#"{"data":{"uid":"a b"}}"#);
    let text = open(&w, &s.cipher, &s.sign).expect("opens").text;
    let Err(DecodeError::Invalid(problems)) = decode::<CarIn>(&text) else { panic!("invalid") };
    assert!(problems.errors().count() >= 10, "{problems}");
    assert!(problems.zh().contains("缺少必填字段 plateNo"), "{}", problems.zh());
}

#[test]
fn garbage_never_panics() {
    let w = world();
    for (cipher, sign) in [("=", "="), ("====", "AAAA"), ("\u{0}", "\u{0}"), ("鲁", "鲁"), ("A", "%2B")] {
        assert!(open(&w, cipher, sign).is_err());
    }
}
