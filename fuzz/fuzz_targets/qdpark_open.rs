//! The envelope's open (signature check, then RSA decryption, then the
//! charset) with the test keys: any cipher and sign text, both profiles.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};

#[path = "keys.rs"]
mod keys;

fn keys() -> &'static (PrivateKey, PublicKey) {
    static KEYS: OnceLock<(PrivateKey, PublicKey)> = OnceLock::new();
    keys::pair("platform", "lot", &KEYS)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (cipher, sign) = text.split_once('\n').unwrap_or((text, ""));
    let (own, peer) = keys();
    for profile in [Profile::Qingdao, Profile::Hangzhou] {
        let _ = onepark_proto::open(profile, cipher, sign, Keys { own: Some(own), peer: Some(peer) });
    }
});
