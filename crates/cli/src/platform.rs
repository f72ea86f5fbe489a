//! `onepark platform`: run the city platform service and manage its lots.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use onepark_platform::access::{Role, Who};
use onepark_platform::city::accounts::{self, AccountError};
use onepark_platform::city::audit::{self, Change};
use onepark_platform::config::{Config, LotAccess, read_key_text};
use onepark_platform::state::AppState;
use onepark_platform::store::{Store, StoredLot};

#[derive(Subcommand)]
pub enum Command {
    /// Serve the lot → platform HTTP API on embedded SQLite (or PostgreSQL).
    Serve {
        /// TOML config; ONEPARK_LISTEN, ONEPARK_DATABASE, ONEPARK_TIMEZONE and
        /// ONEPARK_PRIVATE_KEY override it.
        #[arg(long, env = "ONEPARK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print a Mosquitto ACL file for every lot (config and database): each
    /// lot may read only its own downlink topics; the publisher may write them.
    MqttAcl {
        #[arg(long, env = "ONEPARK_CONFIG")]
        config: Option<PathBuf>,
        /// The platform publisher's MQTT username (the user in mqtt_url).
        #[arg(long, default_value = "onepark")]
        publisher: String,
        /// Also write entries for nodes accessID_1 … accessID_N (D-11).
        #[arg(long, default_value_t = 0)]
        nodes: u32,
    },
    /// Integrators and lots of the parking cloud's open API: pid, secret, parkCodes.
    Integrators {
        #[arg(long, env = "ONEPARK_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: IntegratorsCommand,
    },
    /// A Bolink lot's lane QR code (no-plate entry, or pay-to-exit with --exit):
    /// prints the page's address, and writes the code as SVG or PNG with --out.
    Qr {
        #[arg(long, env = "ONEPARK_CONFIG")]
        config: Option<PathBuf>,
        /// The lot's park_id.
        #[arg(long)]
        park_id: String,
        /// The lane's id, as the lot's charging system names it.
        #[arg(long)]
        lane: String,
        /// The exit's code (pay and leave) instead of the entrance's.
        #[arg(long)]
        exit: bool,
        /// Write the code here: `*.png` (a PNG), otherwise SVG.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// People who log in to the console: name, role, lots, password (docs/operations.md, "Accounts").
    Users {
        #[arg(long, env = "ONEPARK_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Integrations' bearer tokens for /api/admin/…, each with a role (and lots).
    Tokens {
        #[arg(long, env = "ONEPARK_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// A consistent copy of the database while the platform runs: SQLite's
    /// `VACUUM INTO` (a file to restore by copying it back while stopped),
    /// or `pg_dump --format=custom` for PostgreSQL (restore with
    /// `pg_restore`). Photos are files: copy `photo_dir` (docs/deploy.md).
    Backup {
        #[arg(long, env = "ONEPARK_CONFIG")]
        config: Option<PathBuf>,
        /// Where to write it (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Lots registered at run time (stored in the database, no restart needed).
    Lots {
        #[arg(long, env = "ONEPARK_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: LotsCommand,
    },
}

#[derive(Subcommand)]
pub enum IntegratorsCommand {
    /// Register or replace a pid of the cloud API (docs/cloudpark.md).
    Add {
        #[arg(long)]
        pid: String,
        /// Its secret key (the MD5 sign's); default: a new random one, printed once.
        #[arg(long, env = "ONEPARK_CLOUDPARK_SECRET")]
        secret: Option<String>,
        /// Who it is, for people.
        #[arg(long, default_value = "")]
        name: String,
        /// `integrator` (acts on the lots given) or `lot` (a lot speaking this protocol).
        #[arg(long, default_value = "integrator")]
        kind: String,
        /// A parkCode it may act on (repeat for several).
        #[arg(long = "park-code", required = true)]
        park_codes: Vec<String>,
    },
    /// List the pids (never their secrets).
    List,
    /// Remove a pid.
    Remove {
        #[arg(long)]
        pid: String,
    },
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add an account. The password is read from standard input when it is
    /// not a terminal (one line), else made for you and printed once.
    Add {
        name: String,
        /// admin (the whole city), operator (its lots), auditor (reads everything), booth (one lot).
        #[arg(long)]
        role: String,
        /// A lot of an operator or booth (repeat for several; a booth has one).
        #[arg(long = "lot")]
        lots: Vec<String>,
    },
    /// List the accounts (never their passwords).
    List,
    /// Remove an account; its sessions end.
    Remove { name: String },
    /// Set an account's password (standard input, or made and printed once); its sessions end.
    Passwd { name: String },
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Make an integration's token; printed once (only its hash is kept).
    Add {
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long = "lot")]
        lots: Vec<String>,
    },
    /// List the tokens (never the tokens themselves).
    List,
    /// Revoke a token.
    Remove { name: String },
}

#[derive(Subcommand)]
pub enum LotsCommand {
    /// Register or replace a lot.
    Add {
        /// `qdpark` (the Qingdao interface) or `bolink` (a charging system
        /// speaking Bolink's SDK wire; its park_id is the access id).
        #[arg(long, default_value = "qdpark")]
        protocol: String,
        /// The lot's login: Qingdao's accessID, Bolink's park_id.
        #[arg(long, alias = "park-id")]
        access_id: String,
        /// Qingdao: the lot's public key, inline Base64/PEM or a file path.
        #[arg(long)]
        public_key: Option<String>,
        #[arg(long, default_value = "qingdao")]
        profile: String,
        /// Bolink: the key the lot's SDK signs with; default a new random one, printed once.
        #[arg(long, env = "ONEPARK_BOLINK_KEY")]
        key: Option<String>,
        /// Bolink: the lot's berths (its records carry only the free count).
        #[arg(long, default_value_t = 0)]
        berths: i64,
        /// A parkingCode this lot may report (repeat for several; Bolink: one,
        /// default its park_id).
        #[arg(long = "parking-code")]
        parking_codes: Vec<String>,
    },
    /// List lots from the config file and the database.
    List,
    /// Remove a lot registered at run time.
    Remove {
        #[arg(long)]
        access_id: String,
    },
}

fn load(config: Option<PathBuf>) -> Result<Config> {
    Config::load(config.as_deref(), |k| std::env::var(k).ok()).context("configuration")
}

pub fn run(command: Command) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    match command {
        Command::Serve { config } => {
            let config = load(config)?;
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmqtt=warn,rmqtt_net=warn")),
                )
                .init();
            runtime.block_on(onepark_platform::app::serve(config))?;
        }
        Command::Lots { config, command } => {
            let config = load(config)?;
            runtime.block_on(lots(&config, command))?;
        }
        Command::Integrators { config, command } => {
            let config = load(config)?;
            runtime.block_on(integrators(&config, command))?;
        }
        Command::Users { config, command } => {
            let config = load(config)?;
            runtime.block_on(users(&config, command))?;
        }
        Command::Tokens { config, command } => {
            let config = load(config)?;
            runtime.block_on(tokens(&config, command))?;
        }
        Command::Qr { config, park_id, lane, exit, out } => {
            let config = load(config)?;
            runtime.block_on(qr(&config, &park_id, &lane, exit, out.as_deref()))?;
        }
        Command::MqttAcl { config, publisher, nodes } => {
            let config = load(config)?;
            print!("{}", runtime.block_on(mqtt_acl(&config, &publisher, nodes))?);
        }
        Command::Backup { config, out } => {
            let config = load(config)?;
            runtime.block_on(backup(&config, &out))?;
            println!("backup written to {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn backup(config: &Config, out: &std::path::Path) -> Result<()> {
    if out.exists() {
        bail!("--out {}: already exists (a backup never overwrites)", out.display());
    }
    if config.database.starts_with("sqlite:") {
        let store = Store::connect(&config.database).await.context("database")?;
        store.backup_sqlite(out).await.with_context(|| format!("writing {}", out.display()))?;
        return Ok(());
    }
    // PostgreSQL: its own tool, the custom format pg_restore reads (--clean, a table at a time).
    let status = std::process::Command::new("pg_dump")
        // Which nodes ran and who held a job's lease is not the city's data (a restored copy
        // would otherwise hold nodes that are gone).
        .args(["--format=custom", "--no-owner", "--exclude-table-data=nodes", "--exclude-table-data=leases"])
        .arg("--file")
        .arg(out)
        .arg(&config.database)
        .status()
        .context("running pg_dump (Debian: apt-get install postgresql-client)")?;
    if !status.success() {
        let _ = std::fs::remove_file(out);
        bail!("pg_dump failed ({status}); nothing written");
    }
    Ok(())
}

async fn lots(config: &Config, command: LotsCommand) -> Result<()> {
    let store = Store::connect(&config.database).await.context("database")?;
    match command {
        LotsCommand::Add { protocol, access_id, public_key, profile, key, berths, parking_codes } => {
            let protocol = onepark_domain::record::Protocol::parse(&protocol)
                .filter(|p| *p != onepark_domain::record::Protocol::Cloudpark)
                .with_context(|| format!("--protocol {protocol}: qdpark or bolink (cloud API lots: `platform integrators add --kind lot`)"))?;
            if access_id.is_empty() || access_id.contains('_') || access_id.chars().any(char::is_whitespace) {
                bail!("--access-id must be non-empty, without `_` or spaces");
            }
            let (stored, shown_key) = match protocol {
                onepark_domain::record::Protocol::Bolink => {
                    let parking_codes = if parking_codes.is_empty() { vec![access_id.clone()] } else { parking_codes };
                    if parking_codes.len() != 1 {
                        bail!("--parking-code: a Bolink lot reports under one parking code");
                    }
                    if !(0..=1_000_000).contains(&berths) {
                        bail!("--berths must be between 0 and 1000000");
                    }
                    let generated = key.is_none();
                    let key = match key {
                        Some(k) => k,
                        None => onepark_platform::secret::random_hex(16).map_err(anyhow::Error::msg)?,
                    };
                    if key.len() < 6 || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                        bail!("--key must be at least 6 characters, without spaces");
                    }
                    let stored = StoredLot {
                        protocol,
                        access_id,
                        public_key: String::new(),
                        profile: "bolink".into(),
                        parking_codes,
                        secret: Some(key.clone()),
                        berths: Some(berths),
                    };
                    (stored, generated.then_some(key))
                }
                _ => {
                    let public_key = public_key.context("--public-key is required for a Qingdao lot")?;
                    if parking_codes.is_empty() {
                        bail!("--parking-code: list at least one parkingCode this accessID may report");
                    }
                    let key = read_key_text(&public_key, std::path::Path::new(".")).map_err(anyhow::Error::msg)?;
                    let stored = StoredLot {
                        protocol,
                        access_id,
                        public_key: key,
                        profile,
                        parking_codes,
                        secret: None,
                        berths: None,
                    };
                    (stored, None)
                }
            };
            // Refuse what the platform could not use, before storing it.
            LotAccess::try_from(stored.clone())
                .map_err(anyhow::Error::msg)
                .context("--public-key / --profile / --key")?;
            if let Some(p) = store.principal(&stored.access_id).await? {
                bail!("{} is already a pid of the cloud API ({}); a lot has one login", p.pid, p.kind.as_str());
            }
            // Replacing a lot's key is fine; turning it into another protocol's lot is a mistake to refuse.
            if let Some(existing) = store.lot(&stored.access_id).await?
                && existing.protocol != stored.protocol
            {
                bail!(
                    "{} is registered as a {} lot: remove it first to register it as {}",
                    stored.access_id,
                    existing.protocol,
                    stored.protocol
                );
            }
            let now = onepark_domain::time::format_time(config.zone.local(chrono::Utc::now()));
            let change = Change::new("lot", stored.parking_codes.first().map_or("", String::as_str), &stored.access_id)
                .new_value(
                    serde_json::json!({ "protocol": stored.protocol.as_str(), "parkingCodes": stored.parking_codes }),
                );
            let pending = audit::begin(&store, &Who::cli(), &now, change).await?;
            let result = store.add_lot(&stored, &now).await;
            pending.finish(&store, &result).await;
            result?;
            println!("added {} ({}) for {}", stored.access_id, stored.protocol, stored.parking_codes.join(","));
            if let Some(key) = shown_key {
                println!("key: {key} (shown once; configure it in the lot's SDK)");
            }
        }
        LotsCommand::List => {
            for lot in &config.lots {
                let profile = match &lot.link {
                    onepark_platform::config::LotLink::Qdpark { profile, .. } => profile.to_string(),
                    onepark_platform::config::LotLink::Cloudpark { .. } => "cloudpark".into(),
                    onepark_platform::config::LotLink::Bolink { .. } => "bolink".into(),
                };
                println!("{}\t{}\t{}\tconfig", lot.access_id, profile, lot.parking_codes.join(","));
            }
            for lot in store.lots().await? {
                println!("{}\t{}\t{}\tdatabase", lot.access_id, lot.profile, lot.parking_codes.join(","));
            }
        }
        LotsCommand::Remove { access_id } => {
            let now = onepark_domain::time::format_time(config.zone.local(chrono::Utc::now()));
            let before = store.lot(&access_id).await?;
            let change = Change::new(
                "lot",
                before.as_ref().and_then(|l| l.parking_codes.first()).map_or("", String::as_str),
                &access_id,
            )
            .old(
                before
                    .as_ref()
                    .map(|l| serde_json::json!({ "protocol": l.protocol.as_str(), "parkingCodes": l.parking_codes })),
            );
            let pending = audit::begin(&store, &Who::cli(), &now, change).await?;
            let result = store.remove_lot(&access_id).await;
            pending.finish(&store, &result).await;
            if !result? {
                bail!("no lot {access_id} registered in the database (lots in the config file are removed there)");
            }
            println!("removed {access_id}");
        }
    }
    Ok(())
}

fn role(text: &str) -> Result<Role> {
    Role::ALL
        .into_iter()
        .find(|r| r.as_str() == text)
        .with_context(|| format!("--role {text}: admin, operator, auditor or booth"))
}

/// A password from standard input (piped: one line), else a new one to print.
fn password_in() -> Result<(String, bool)> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        return Ok((made_password()?, true));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() { Ok((made_password()?, true)) } else { Ok((line, false)) }
}

/// A password made for someone (shown once).
pub fn made_password() -> Result<String> {
    Ok(onepark_serve::password::made_password()?)
}

fn said(e: AccountError) -> anyhow::Error {
    anyhow::Error::msg(e.to_string())
}

async fn users(config: &Config, command: UsersCommand) -> Result<()> {
    let store = Store::connect(&config.database).await.context("database")?;
    let state = AppState::new(config, store.clone());
    let cli = Who::cli();
    match command {
        UsersCommand::Add { name, role: r, lots } => {
            let (password, made) = password_in()?;
            let a = accounts::add(&state, &cli, &name, role(&r)?, &lots, &password).await.map_err(said)?;
            println!("added {} ({}) {}", a.name, a.role.as_str(), a.lots.join(","));
            if made {
                println!("password: {password} (shown once)");
            }
        }
        UsersCommand::List => {
            for a in store.accounts().await? {
                println!("{}\t{}\t{}\t{}", a.name, a.role.as_str(), a.lots.join(","), a.changed_at);
            }
        }
        UsersCommand::Remove { name } => {
            accounts::remove(&state, &cli, &name).await.map_err(said)?;
            println!("removed {name}");
        }
        UsersCommand::Passwd { name } => {
            let (password, made) = password_in()?;
            accounts::set_password(&state, &cli, &name, &password, None).await.map_err(said)?;
            println!("password of {name} set; its sessions ended");
            if made {
                println!("password: {password} (shown once)");
            }
        }
    }
    Ok(())
}

async fn tokens(config: &Config, command: TokensCommand) -> Result<()> {
    let store = Store::connect(&config.database).await.context("database")?;
    let state = AppState::new(config, store.clone());
    let cli = Who::cli();
    match command {
        TokensCommand::Add { name, role: r, lots } => {
            let (t, token) = accounts::add_token(&state, &cli, &name, role(&r)?, &lots).await.map_err(said)?;
            println!("added {} ({}) {}", t.name, t.role.as_str(), t.lots.join(","));
            println!("token: {token} (shown once; send it as `Authorization: Bearer …`)");
        }
        TokensCommand::List => {
            for t in store.tokens().await? {
                println!("{}\t{}\t{}\t{}", t.name, t.role.as_str(), t.lots.join(","), t.created_at);
            }
        }
        TokensCommand::Remove { name } => {
            accounts::remove_token(&state, &cli, &name).await.map_err(said)?;
            println!("removed {name}");
        }
    }
    Ok(())
}

async fn qr(config: &Config, park_id: &str, lane: &str, exit: bool, out: Option<&std::path::Path>) -> Result<()> {
    let store = Store::connect(&config.database).await.context("database")?;
    let lot = store.lot(park_id).await?.with_context(|| format!("no lot {park_id} registered"))?;
    if lot.protocol != onepark_domain::record::Protocol::Bolink {
        bail!("{park_id} is a {} lot: lane codes are for Bolink lots", lot.protocol);
    }
    if lane.is_empty() || lane.chars().count() > 24 || lane.chars().any(char::is_control) {
        bail!("--lane: 1 to 24 characters");
    }
    let url = onepark_platform::http::dashboard::qr::lane_url(&config.public_url, park_id, lane, exit);
    if let Some(path) = out {
        let png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
        let bytes = onepark_platform::http::dashboard::qr::lane_code(&url, png).map_err(anyhow::Error::msg)?;
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("{url}\nwritten to {}", path.display());
    } else {
        println!("{url}");
    }
    Ok(())
}

async fn integrators(config: &Config, command: IntegratorsCommand) -> Result<()> {
    let store = Store::connect(&config.database).await.context("database")?;
    match command {
        IntegratorsCommand::Add { pid, secret, name, kind, park_codes } => {
            let principal = onepark_platform::city::principals::new_principal(
                &pid,
                secret.as_deref(),
                &name,
                &kind,
                park_codes,
                &onepark_domain::time::format_time(config.zone.local(chrono::Utc::now())),
            )
            .map_err(anyhow::Error::msg)?;
            let now = onepark_domain::time::format_time(config.zone.local(chrono::Utc::now()));
            let cli = onepark_platform::access::Who::cli();
            onepark_platform::city::principals::register(&store, &cli, &now, &principal).await?;
            println!("added {} ({}) for {}", principal.pid, principal.kind.as_str(), principal.park_codes.join(","));
            if secret.is_none() {
                println!("secret: {} (shown once; keep it with the integrator)", principal.secret);
            }
        }
        IntegratorsCommand::List => {
            for p in store.principals().await? {
                println!("{}\t{}\t{}\t{}\t{}", p.pid, p.kind.as_str(), p.park_codes.join(","), p.name, p.created_at);
            }
        }
        IntegratorsCommand::Remove { pid } => {
            let now = onepark_domain::time::format_time(config.zone.local(chrono::Utc::now()));
            let cli = onepark_platform::access::Who::cli();
            if !onepark_platform::city::principals::remove(&store, &cli, &now, &pid).await? {
                bail!("no pid {pid} registered");
            }
            println!("removed {pid}");
        }
    }
    Ok(())
}

/// The same rule as the embedded broker (`onepark_proto::mqtt::may_subscribe`),
/// spelled out per user for Mosquitto's `acl_file`.
async fn mqtt_acl(config: &Config, publisher: &str, nodes: u32) -> Result<String> {
    let store = Store::connect(&config.database).await.context("database")?;
    let mut lots: Vec<(String, Vec<String>)> =
        config.lots.iter().map(|l| (l.access_id.clone(), l.parking_codes.clone())).collect();
    for stored in store.lots().await? {
        if !lots.iter().any(|(id, _)| *id == stored.access_id) {
            lots.push((stored.access_id, stored.parking_codes));
        }
    }
    let mut out = String::from("# Generated by `onepark platform mqtt-acl`: regenerate after adding lots.\n");
    let topics = &config.cloud_topics;
    out.push_str(&format!(
        "\nuser {publisher}\ntopic write qdpark/v1/#\ntopic write {}\ntopic read {}\n",
        topics.command("#"),
        topics.report_filter()
    ));
    for (access_id, codes) in &lots {
        let users = std::iter::once(access_id.clone()).chain((1..=nodes).map(|n| format!("{access_id}_{n}")));
        for user in users {
            out.push_str(&format!("\nuser {user}\n"));
            let owners =
                if user == *access_id { vec![access_id.clone()] } else { vec![user.clone(), access_id.clone()] };
            for owner in &owners {
                for code in codes {
                    out.push_str(&format!(
                        "topic read qdpark/v1/+/{owner}/{code}\ntopic read /qdpark/v1/+/{owner}/{code}\n"
                    ));
                }
            }
        }
    }
    // Cloud lots: their command topics and the broadcast to read, their report topics to write.
    for lot in store.principals().await?.into_iter().filter(|p| p.kind == onepark_platform::store::PrincipalKind::Lot) {
        out.push_str(&format!("\nuser {}\ntopic read {}\n", lot.pid, topics.broadcast()));
        for code in &lot.park_codes {
            out.push_str(&format!("topic read {}\ntopic write {}\n", topics.command(code), topics.report(code)));
        }
    }
    Ok(out)
}
