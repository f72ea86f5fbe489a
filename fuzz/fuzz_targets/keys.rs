//! The published test keys (crates/proto/tests/interop/keys), read once.

use std::sync::OnceLock;

use onepark_proto::{PrivateKey, PublicKey};

/// `own`'s private key and `peer`'s public key, e.g. ("platform", "lot").
pub fn pair(
    own: &str,
    peer: &str,
    cell: &'static OnceLock<(PrivateKey, PublicKey)>,
) -> &'static (PrivateKey, PublicKey) {
    cell.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/proto/tests/interop/keys/");
        let read = |name: String| std::fs::read_to_string(format!("{dir}{name}")).expect("test key");
        (
            PrivateKey::parse(&read(format!("{own}_private.b64"))).expect("private"),
            PublicKey::parse(&read(format!("{peer}_public.b64"))).expect("public"),
        )
    })
}
