//! `onepark keys`: make key pairs in the form platforms hand out.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use onepark_proto::PrivateKey;

#[derive(Subcommand)]
pub enum Command {
    /// Print a new RSA key pair as Base64 DER (PKCS#8 private, X.509 public).
    New {
        /// Key size; the spec's 117/128-byte blocks mean 1024.
        #[arg(long, default_value_t = 1024)]
        bits: u32,
        /// Write private_key.b64 and public_key.b64 into this directory instead.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(command: Command) -> Result<ExitCode> {
    let Command::New { bits, out } = command;
    if !(1024..=4096).contains(&bits) || bits % 8 != 0 {
        bail!("--bits must be a multiple of 8 between 1024 and 4096");
    }
    let private = PrivateKey::generate(bits)?;
    let private_b64 = private.to_base64_der();
    let public_b64 = private.public_key().to_base64_der();
    match out {
        None => {
            println!("private_key={private_b64}");
            println!("public_key={public_b64}");
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let private_path = dir.join("private_key.b64");
            let public_path = dir.join("public_key.b64");
            write_private(&private_path, &private_b64)?;
            std::fs::write(&public_path, format!("{public_b64}\n"))
                .with_context(|| format!("writing {}", public_path.display()))?;
            eprintln!("wrote {} and {}", private_path.display(), public_path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Private keys are created readable by the owner only.
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{text}").with_context(|| format!("writing {}", path.display()))
}
