//! `onepark sim`: the traffic simulator's commands. `city` writes a
//! simulated city's lots as lot-gateway configurations (one accessID,
//! database and port each) and prints how to register them on a platform;
//! `run` drives those gateways' lane APIs with the city's traffic.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use onepark_sim::{City, CityParams};

use crate::city::{Link, lot_config};

#[derive(Subcommand)]
pub enum Command {
    /// Write a simulated city's lots as lot-gateway configurations.
    City(CityOptions),
    /// Drive the lane APIs of a city's gateways (written by `city`) with its traffic.
    Run(crate::sim_drive::Options),
}

#[derive(clap::Args)]
pub struct CityOptions {
    /// How many lots.
    #[arg(long, default_value_t = 8)]
    lots: usize,
    /// The seed that names the city (the same seed, the same city).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Directory for the `<parkingCode>.toml` files (created).
    #[arg(long)]
    out: PathBuf,
    /// The platform's uplink URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/api/v1/cp")]
    platform_url: String,
    /// The platform's MQTT broker (black/white lists).
    #[arg(long, default_value = "mqtt://127.0.0.1:1884")]
    mqtt_url: String,
    /// accessID of the first lot; the others count up from it.
    #[arg(long, default_value_t = 9001)]
    first_access_id: u64,
    /// Lane API port of the first lot; the others count up from it.
    #[arg(long, default_value_t = 8101)]
    first_port: u16,
    /// The lots' private key and the platform's public key (Base64 DER or PEM files).
    #[arg(long, default_value = "crates/proto/tests/interop/keys/lot_private.b64")]
    lot_key: PathBuf,
    #[arg(long, default_value = "crates/proto/tests/interop/keys/platform_public.b64")]
    platform_key: PathBuf,
}

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::City(options) => city(options),
        Command::Run(options) => crate::sim_drive::run(options),
    }
}

fn city(options: CityOptions) -> Result<ExitCode> {
    let CityOptions { lots, seed, out, platform_url, mqtt_url, first_access_id, first_port, lot_key, platform_key } =
        options;
    if lots == 0 || lots > 10_000 {
        bail!("--lots must be 1 to 10000");
    }
    if usize::from(first_port) + lots > 65_536 {
        bail!("--first-port {first_port} leaves no port for {lots} lots");
    }
    let absolute = |path: &PathBuf| -> Result<String> {
        Ok(std::fs::canonicalize(path).with_context(|| format!("key file {}", path.display()))?.display().to_string())
    };
    let (lot_key, platform_key) = (absolute(&lot_key)?, absolute(&platform_key)?);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // The platform registers the lots by their public key: written beside the configs.
    let private = std::fs::read_to_string(&lot_key).with_context(|| format!("reading {lot_key}"))?;
    let public = onepark_proto::PrivateKey::parse(&private).context("--lot-key")?.public_key().to_base64_der();
    let public_path = out.join("lot_public.b64");
    std::fs::write(&public_path, public).with_context(|| format!("writing {}", public_path.display()))?;
    let city = City::generate(&CityParams { lots, seed, ..CityParams::default() });
    for (i, spec) in city.lots.iter().enumerate() {
        let access_id = (first_access_id + i as u64).to_string();
        let listen = format!("127.0.0.1:{}", usize::from(first_port) + i);
        let database = format!("sqlite://{}.db", spec.parking_code);
        let link = Link {
            listen: &listen,
            database: &database,
            platform_url: &platform_url,
            access_id: &access_id,
            private_key: &lot_key,
            platform_public_key: &platform_key,
            mqtt_url: Some(&mqtt_url),
        };
        let path = out.join(format!("{}.toml", spec.parking_code));
        std::fs::write(&path, lot_config(spec, &link)).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "{}  {}  {}  {}  {} berths  {} lanes  accessID {access_id}  {listen}",
            spec.parking_code,
            spec.name,
            spec.district,
            spec.kind.zh(),
            spec.berths,
            spec.entry_lanes.len() + spec.exit_lanes.len(),
        );
    }
    println!("\nRegister them on the platform (its config directory), one accessID each:");
    for (i, spec) in city.lots.iter().enumerate() {
        println!(
            "  onepark platform lots --config platform.toml add --access-id {} --public-key {} --parking-code {}",
            first_access_id + i as u64,
            public_path.display(),
            spec.parking_code
        );
    }
    println!("Start each: onepark lot serve --config {}/<parkingCode>.toml", out.display());
    Ok(ExitCode::SUCCESS)
}
