//! The published test keys of the interop fixtures
//! (`crates/proto/tests/interop/keys`): a lot's pair and the platform's.

use std::path::{Path, PathBuf};

use onepark_proto::{PrivateKey, PublicKey};

/// The directory of the test keys.
pub fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys")
}

/// The file of test key `name` (e.g. `lot_private.b64`).
pub fn key_path(name: &str) -> PathBuf {
    keys_dir().join(name)
}

/// The text (Base64 DER) of test key `name`.
pub fn key(name: &str) -> String {
    std::fs::read_to_string(key_path(name)).expect("test key")
}

/// The lot's private key (`lot_private.b64`).
pub fn lot_private() -> PrivateKey {
    PrivateKey::parse(&key("lot_private.b64")).expect("lot private key")
}

/// The lot's public key (`lot_public.b64`).
pub fn lot_public() -> PublicKey {
    PublicKey::parse(&key("lot_public.b64")).expect("lot public key")
}

/// The platform's private key (`platform_private.b64`).
pub fn platform_private() -> PrivateKey {
    PrivateKey::parse(&key("platform_private.b64")).expect("platform private key")
}

/// The platform's public key (`platform_public.b64`).
pub fn platform_public() -> PublicKey {
    PublicKey::parse(&key("platform_public.b64")).expect("platform public key")
}
