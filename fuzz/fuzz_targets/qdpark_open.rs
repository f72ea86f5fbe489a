//! The envelope's open (signature check, then RSA decryption, then the
//! charset) with the test keys: any cipher and sign text, both profiles.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};

fn keys() -> &'static (PrivateKey, PublicKey) {
    static KEYS: OnceLock<(PrivateKey, PublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/proto/tests/interop/keys/");
        let read = |name: &str| std::fs::read_to_string(format!("{dir}{name}")).expect("test key");
        (
            PrivateKey::parse(&read("platform_private.b64")).expect("private"),
            PublicKey::parse(&read("lot_public.b64")).expect("public"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (cipher, sign) = text.split_once('\n').unwrap_or((text, ""));
    let (own, peer) = keys();
    for profile in [Profile::Qingdao, Profile::Hangzhou] {
        let _ = onepark_proto::open(profile, cipher, sign, Keys { own: Some(own), peer: Some(peer) });
    }
});
