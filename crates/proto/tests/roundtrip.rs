//! Property tests of the envelope: whatever is sealed opens to the same text.

use std::sync::OnceLock;

use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use proptest::prelude::*;

struct Pair {
    private: PrivateKey,
    public: PublicKey,
}

fn pair(bits: u32) -> &'static (Pair, Pair) {
    static K1024: OnceLock<(Pair, Pair)> = OnceLock::new();
    static K2048: OnceLock<(Pair, Pair)> = OnceLock::new();
    let make = || {
        let make_pair = || {
            let private = PrivateKey::generate(bits).expect("generate");
            let public = private.public_key();
            Pair { private, public }
        };
        (make_pair(), make_pair())
    };
    if bits == 2048 { K2048.get_or_init(make) } else { K1024.get_or_init(make) }
}

fn round_trip(profile: Profile, bits: u32, text: &str) -> String {
    let (lot, platform) = pair(bits);
    let sealed =
        onepark_proto::seal(profile, text.as_bytes(), Keys { own: Some(&lot.private), peer: Some(&platform.public) })
            .expect("seal");
    onepark_proto::open(
        profile,
        &sealed.cipher,
        &sealed.sign,
        Keys { own: Some(&platform.private), peer: Some(&lot.public) },
    )
    .expect("open")
    .text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_utf8_round_trips(text in "\\PC{0,600}", hangzhou in any::<bool>()) {
        let profile = if hangzhou { Profile::Hangzhou } else { Profile::Qingdao };
        prop_assert_eq!(round_trip(profile, 1024, &text), text);
    }

    #[test]
    fn multibyte_characters_straddling_a_block_boundary(ascii in 100usize..130, cjk in "[\\u{4e00}-\\u{9fff}]{1,20}") {
        let text = format!("{}{cjk}", "a".repeat(ascii));
        prop_assert_eq!(round_trip(Profile::Qingdao, 1024, &text), text);
    }

    #[test]
    fn any_utf8_round_trips_with_2048_bit_keys(text in "\\PC{0,800}") {
        prop_assert_eq!(round_trip(Profile::Qingdao, 2048, &text), text);
    }
}

#[test]
fn empty_and_100_kib_payloads() {
    assert_eq!(round_trip(Profile::Qingdao, 1024, ""), "");
    let big: String = "停车场A1".chars().cycle().take(100 * 1024 / 2).collect();
    assert!(big.len() >= 100 * 1024);
    assert_eq!(round_trip(Profile::Qingdao, 1024, &big), big);
    assert_eq!(round_trip(Profile::Qingdao, 2048, &big), big);
}
