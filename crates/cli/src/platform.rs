//! `onepark platform`: run the city platform service.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use onepark_platform::config::Config;

#[derive(Subcommand)]
pub enum Command {
    /// Serve the lot → platform HTTP API on embedded SQLite (or PostgreSQL).
    Serve {
        /// TOML config; ONEPARK_LISTEN, ONEPARK_DATABASE, ONEPARK_TIMEZONE and
        /// ONEPARK_PRIVATE_KEY override it.
        #[arg(long, env = "ONEPARK_CONFIG")]
        config: Option<PathBuf>,
    },
}

pub fn run(command: Command) -> Result<ExitCode> {
    let Command::Serve { config } = command;
    let config = Config::load(config.as_deref(), |k| std::env::var(k).ok()).context("configuration")?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(onepark_platform::app::serve(config))?;
    Ok(ExitCode::SUCCESS)
}
