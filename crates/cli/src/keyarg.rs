//! Key options: inline Base64/PEM text or a path to a file holding it.

use std::path::Path;

use anyhow::{Context, Result};
use onepark_platform::config::read_key_text;
use onepark_proto::{PrivateKey, PublicKey};

fn text(arg: &str) -> Result<String> {
    read_key_text(arg, Path::new(".")).map_err(anyhow::Error::msg)
}

pub fn public(arg: &str, what: &str) -> Result<PublicKey> {
    PublicKey::parse(&text(arg)?)
        .with_context(|| format!("{what}: not a usable key (inline Base64/PEM or a file path)"))
}

pub fn private(arg: &str, what: &str) -> Result<PrivateKey> {
    PrivateKey::parse(&text(arg)?)
        .with_context(|| format!("{what}: not a usable key (inline Base64/PEM or a file path)"))
}
