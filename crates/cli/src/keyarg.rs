//! Key options: inline Base64/PEM text or a path to a file holding it.

use std::path::Path;

use anyhow::{Context, Result};
use onepark_proto::{PrivateKey, PublicKey};

fn text(arg: &str) -> Result<String> {
    let trimmed = arg.trim();
    if !trimmed.starts_with("-----BEGIN") && Path::new(trimmed).is_file() {
        return std::fs::read_to_string(trimmed).with_context(|| format!("reading key file {trimmed}"));
    }
    Ok(trimmed.to_owned())
}

pub fn public(arg: &str, what: &str) -> Result<PublicKey> {
    PublicKey::parse(&text(arg)?)
        .with_context(|| format!("{what}: not a usable key (inline Base64/PEM or a file path)"))
}

pub fn private(arg: &str, what: &str) -> Result<PrivateKey> {
    PrivateKey::parse(&text(arg)?)
        .with_context(|| format!("{what}: not a usable key (inline Base64/PEM or a file path)"))
}
