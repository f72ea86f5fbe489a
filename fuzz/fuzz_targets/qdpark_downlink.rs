//! What a lot reads from the broker: the downlink envelope's JSON, its
//! signature and its cipher (the lot's keys), for both profiles.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};

#[path = "keys.rs"]
mod keys;

fn keys() -> &'static (PrivateKey, PublicKey) {
    static KEYS: OnceLock<(PrivateKey, PublicKey)> = OnceLock::new();
    keys::pair("lot", "platform", &KEYS)
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    let (own, peer) = keys();
    for profile in [Profile::Qingdao, Profile::Hangzhou] {
        let _ = onepark_proto::downlink::open(profile, Keys { own: Some(own), peer: Some(peer) }, json);
    }
    let _ = onepark_proto::interface::Topic::parse(json);
});
