//! What a lot reads from the broker: the downlink envelope's JSON, its
//! signature and its cipher (the lot's keys), for both profiles.
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
            PrivateKey::parse(&read("lot_private.b64")).expect("private"),
            PublicKey::parse(&read("platform_public.b64")).expect("public"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    let (own, peer) = keys();
    for profile in [Profile::Qingdao, Profile::Hangzhou] {
        let _ = onepark_proto::downlink::open(profile, Keys { own: Some(own), peer: Some(peer) }, json);
    }
    let _ = onepark_proto::interface::Topic::parse(json);
});
