//! `onepark lot`: run a parking-lot gateway.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Command {
    /// Serve the lane API, deliver every record to the platform, apply its lists.
    Serve {
        /// TOML config (see examples/lot.toml).
        #[arg(long, env = "ONEPARK_LOT_CONFIG")]
        config: PathBuf,
    },
    /// Read a staff password on stdin, print its hash for `[[auth.staff]] password`.
    HashPassword,
}

pub fn run(command: Command) -> Result<ExitCode> {
    let config = match command {
        Command::Serve { config } => config,
        Command::HashPassword => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("reading the password")?;
            let password = password.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(!password.is_empty(), "empty password");
            println!("{}", onepark_lot::auth::hash_password(password)?);
            return Ok(ExitCode::SUCCESS);
        }
    };
    let config = onepark_lot::config::Config::load(&config).context("configuration")?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(onepark_lot::app::serve(config))?;
    Ok(ExitCode::SUCCESS)
}
