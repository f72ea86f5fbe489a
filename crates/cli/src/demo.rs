//! `onepark demo`: a live city in one command. The platform (embedded
//! SQLite and MQTT broker), K lot gateways in this process (each its own
//! SQLite, accessID and key pair) and the simulator driving their lane
//! APIs. Everything lives in one data directory, created on first run:
//! `demo.json` (the city's seed, the admin token, how far virtual time
//! got), keys, generated configs, databases, photos and the log. A second
//! run resumes the same city: the gateways' open sessions join the model
//! as cars inside, and the time since the last run is caught up at
//! `--speed` before the city runs live.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDateTime;
use onepark_domain::time::{Zone, format_time, parse_time};
use onepark_lot::app::LotState;
use onepark_lot::store::{SessionQuery, SessionState};
use onepark_sim::{City, CityParams, Sim, TrafficParams};
use serde::{Deserialize, Serialize};

use crate::city::{Link, lot_config};
use crate::sim_drive::{Clock, Driver};

#[derive(clap::Args)]
pub struct Options {
    /// The demo's data directory (created on first run, resumed after).
    #[arg(long, default_value = "onepark-demo")]
    data: PathBuf,
    /// Lots of the city (first run only; a resumed city keeps its own).
    #[arg(long, default_value_t = 8)]
    lots: usize,
    /// The seed that names the city (first run only).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// The platform's HTTP address: uplink, admin API, dashboard.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The platform's embedded MQTT broker.
    #[arg(long, default_value = "127.0.0.1:1884")]
    mqtt_listen: String,
    /// The first lot's HTTP port (lane API, booth page); the others count up.
    #[arg(long, default_value_t = 8101)]
    first_port: u16,
    /// Virtual seconds per wall second while the city catches up with the
    /// clock (the morning of a first run, the gap since the last run).
    #[arg(long, default_value_t = 1200.0)]
    speed: f64,
    /// Demand as a multiple of the lots' drawn traffic.
    #[arg(long, default_value_t = 1.0)]
    demand: f64,
}

/// `demo.json`: what makes a later run the same city.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    seed: u64,
    lots: usize,
    admin_token: String,
    /// Runs so far (each draws its own traffic over the same city).
    runs: u64,
    /// Virtual time up to which every event was sent.
    clock: Option<String>,
}

const FIRST_ACCESS_ID: u64 = 9001;

pub fn run(o: Options) -> Result<ExitCode> {
    if o.speed.is_nan() || o.speed < 1.0 || o.demand.is_nan() || o.demand <= 0.0 {
        bail!("--speed ≥ 1 and --demand > 0");
    }
    if o.lots == 0 || o.lots > 200 || usize::from(o.first_port) + o.lots > 65_536 {
        bail!("--lots must be 1 to 200, with ports for all from --first-port");
    }
    std::fs::create_dir_all(&o.data).with_context(|| format!("creating {}", o.data.display()))?;
    let data = std::fs::canonicalize(&o.data).with_context(|| format!("{}", o.data.display()))?;
    let saved_path = data.join("demo.json");
    let mut saved = match std::fs::read_to_string(&saved_path) {
        Ok(text) => serde_json::from_str::<Saved>(&text).with_context(|| format!("{}", saved_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Saved { seed: o.seed, lots: o.lots, admin_token: random_hex(16)?, runs: 0, clock: None }
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", saved_path.display())),
    };
    saved.runs += 1;
    save(&saved_path, &saved)?;
    log_to(&data.join("demo.log"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(demo(&o, &data, &saved_path, saved))
}

async fn demo(o: &Options, data: &Path, saved_path: &Path, mut saved: Saved) -> Result<ExitCode> {
    let zone = Zone::default();
    let city = City::generate(&CityParams { lots: saved.lots, seed: saved.seed, ..CityParams::default() });
    let keys = data.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| format!("creating {}", keys.display()))?;
    let platform_public = key_pair(&keys, "platform")?;
    let access_ids: Vec<String> = (0..city.lots.len()).map(|i| (FIRST_ACCESS_ID + i as u64).to_string()).collect();
    let mut lot_keys = Vec::new();
    for id in &access_ids {
        lot_keys.push(key_pair(&keys, &format!("lot_{id}"))?);
    }

    let platform_toml = data.join("platform.toml");
    std::fs::write(&platform_toml, platform_config(o, data, &saved, &city, &access_ids))
        .with_context(|| format!("writing {}", platform_toml.display()))?;
    let config = onepark_platform::config::Config::load(Some(&platform_toml), |k| std::env::var(k).ok())
        .context("the generated platform.toml")?;
    let first_password = demo_account(&config).await?;
    let platform = onepark_platform::app::spawn(config).await.context("starting the platform (is --listen free?)")?;
    let mqtt = platform.mqtt.as_ref().map(|m| m.addr).context("the embedded broker did not start")?;

    let lots_dir = data.join("lots");
    std::fs::create_dir_all(&lots_dir).with_context(|| format!("creating {}", lots_dir.display()))?;
    let (platform_url, mqtt_url) = (format!("http://{}/api/v1/cp", platform.http), format!("mqtt://{mqtt}"));
    let mut gateways: Vec<LotState> = Vec::new();
    let mut urls = Vec::new();
    for (i, spec) in city.lots.iter().enumerate() {
        let listen = format!("127.0.0.1:{}", usize::from(o.first_port) + i);
        let database = format!("sqlite://{}", lots_dir.join(format!("{}.db", spec.parking_code)).display());
        let private = keys.join(format!("lot_{}_private.b64", access_ids[i])).display().to_string();
        let link = Link {
            listen: &listen,
            database: &database,
            platform_url: &platform_url,
            access_id: &access_ids[i],
            private_key: &private,
            platform_public_key: &platform_public,
            mqtt_url: Some(&mqtt_url),
        };
        let path = lots_dir.join(format!("{}.toml", spec.parking_code));
        std::fs::write(&path, lot_config(spec, &link)).with_context(|| format!("writing {}", path.display()))?;
        let config = onepark_lot::config::Config::load(&path).with_context(|| format!("{}", path.display()))?;
        let (state, addr) = onepark_lot::app::spawn(config)
            .await
            .with_context(|| format!("starting lot {} on {listen} (is --first-port free?)", spec.parking_code))?;
        gateways.push(state);
        urls.push(format!("http://{addr}"));
    }

    let wall = || zone.local(chrono::Utc::now());
    let now = wall();
    let start = match saved.clock.as_deref().map(parse_time) {
        // A day at most is caught up: longer gaps would keep the city busy
        // with the past for minutes.
        Some(Ok(clock)) => clock.clamp(now - chrono::Duration::hours(24), now),
        // A first run starts at midnight (at least three hours back), so
        // the day's charts have a morning.
        _ => midnight(now).min(now - chrono::Duration::hours(3)),
    };
    let resumed = saved.clock.is_some();
    println!(
        "onepark demo: {} lots of a simulated Qingdao, {} ({})",
        city.lots.len(),
        data.display(),
        if resumed { format!("run {}, resumed", saved.runs) } else { "first run".to_owned() }
    );
    println!("  dashboard  http://{}/login", platform.http);
    match &first_password {
        Some(password) => println!("             user {DEMO_USER}, password {password} (shown this once)"),
        None => println!(
            "             user {DEMO_USER} (its password was shown on the first run; a new one: \
             onepark platform users passwd {DEMO_USER} --config {})",
            platform_toml.display()
        ),
    }
    println!("  API token  {} (Authorization: Bearer, for /api/admin/…)", saved.admin_token);
    println!("  drivers    http://{}/pay", platform.http);
    println!(
        "  booths     {}/booth … {}/booth",
        urls.first().map_or("", String::as_str),
        urls.last().map_or("", String::as_str)
    );
    println!("  log        {}", data.join("demo.log").display());
    println!(
        "  catching up from {} at ×{}, then live. Ctrl-C stops; run again to resume.",
        format_time(start),
        o.speed
    );

    let mut params = TrafficParams::starting(start);
    params.demand = o.demand;
    params.seed = saved.runs;
    let mut driver =
        Driver::new(Sim::new(city.clone(), params), urls, false)?.with_payments(format!("http://{}", platform.http));
    driver.load_cards(start).await?;
    let mut adopted = 0;
    for (lot, gateway) in gateways.iter().enumerate() {
        let query = SessionQuery { state: Some(SessionState::Open), limit: 1_000_000, ..SessionQuery::default() };
        for row in gateway.store().sessions(&query).await? {
            let entered = parse_time(&row.session.entry_time).unwrap_or(start);
            driver.adopt(lot, &row.session, entered);
            adopted += 1;
        }
    }
    if adopted > 0 {
        println!("  {adopted} cars are still parked from the last run");
    }

    let bar = crate::sim_drive::spinner("{spinner} {msg}");
    let clock = Clock { start, began: Instant::now(), speed: o.speed, zone };
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    let mut saved_at = Instant::now();
    loop {
        let until = clock.now();
        driver.step(until).await;
        let (entries, exits) = driver.totals();
        let pace = if wall() - until > chrono::Duration::seconds(5) { "catching up" } else { "live" };
        bar.set_message(format!("{} {pace}  {entries} entries  {exits} exits this run", format_time(until)));
        bar.tick();
        if saved_at.elapsed() > Duration::from_secs(5) {
            saved.clock = Some(format_time(driver.sim().now()));
            save(saved_path, &saved)?;
            saved_at = Instant::now();
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    bar.finish_and_clear();
    saved.clock = Some(format_time(driver.sim().now()));
    save(saved_path, &saved)?;
    println!("stopping: delivering what the gateways still hold (at most 10 s)…");
    let deadline = Instant::now() + Duration::from_secs(10);
    for gateway in &gateways {
        while Instant::now() < deadline && gateway.store().backlog("qdpark").await.is_ok_and(|(pending, _)| pending > 0)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    driver.table();
    println!(
        "stopped at {}; `onepark demo --data {}` resumes this city",
        format_time(driver.sim().now()),
        data.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The demo city's administrator.
const DEMO_USER: &str = "admin";

/// Makes the demo's administrator on the first run: its password, to show once.
async fn demo_account(config: &onepark_platform::config::Config) -> Result<Option<String>> {
    let store = onepark_platform::store::Store::connect(&config.database).await.context("database")?;
    if store.has_admin().await? {
        return Ok(None);
    }
    let state = onepark_platform::state::AppState::new(config, store);
    let password = crate::platform::made_password()?;
    let who = onepark_platform::access::Who::cli();
    let role = onepark_platform::access::Role::Admin;
    onepark_platform::city::accounts::add(&state, &who, DEMO_USER, role, &[], &password)
        .await
        .map_err(|e| anyhow::Error::msg(e.to_string()))?;
    Ok(Some(password))
}

fn midnight(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_hms_opt(0, 0, 0).unwrap_or(t)
}

/// The platform's configuration, regenerated at each run from `demo.json`
/// (edit the options, not the file). Paths are absolute.
fn platform_config(o: &Options, data: &Path, saved: &Saved, city: &City, access_ids: &[String]) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    let mut toml = String::from("# Generated by `onepark demo` at each start.\n");
    toml.push_str(&format!("listen = {}\n", text(&o.listen)));
    toml.push_str(&format!("database = {}\n", text(&format!("sqlite://{}", data.join("platform.db").display()))));
    toml.push_str("timezone = \"Asia/Shanghai\"\n");
    toml.push_str(&format!("photo_dir = {}\n", text(&data.join("photos").display().to_string())));
    toml.push_str(&format!("admin_token = {}\n", text(&saved.admin_token)));
    toml.push_str(&format!("mqtt_listen = {}\n", text(&o.mqtt_listen)));
    // The demo's drivers pay with play money, and say so on every page.
    toml.push_str("\n[payments]\nchannel = \"sandbox\"\n");
    toml.push_str(&format!(
        "\n[keys]\nprivate_key = {}\n",
        text(&data.join("keys/platform_private.b64").display().to_string())
    ));
    for (spec, id) in city.lots.iter().zip(access_ids) {
        let public = data.join(format!("keys/lot_{id}_public.b64")).display().to_string();
        toml.push_str(&format!(
            "\n[[lots]]\naccess_id = {}\npublic_key = {}\nprofile = \"qingdao\"\nparking_codes = [{}]\n",
            text(id),
            text(&public),
            text(&spec.parking_code)
        ));
    }
    toml
}

/// `<name>_private.b64` and `<name>_public.b64` in `dir`, made on first
/// use. Returns the public key's path.
fn key_pair(dir: &Path, name: &str) -> Result<String> {
    let (private, public) = (dir.join(format!("{name}_private.b64")), dir.join(format!("{name}_public.b64")));
    if !private.exists() || !public.exists() {
        let key = onepark_proto::PrivateKey::generate(1024)?;
        crate::keys::write_private(&private, &key.to_base64_der())?;
        std::fs::write(&public, format!("{}\n", key.public_key().to_base64_der()))
            .with_context(|| format!("writing {}", public.display()))?;
    }
    Ok(public.display().to_string())
}

fn save(path: &Path, saved: &Saved) -> Result<()> {
    // Written aside and renamed: a crash mid-write must not lose the city.
    let aside = path.with_extension("json.new");
    std::fs::write(&aside, serde_json::to_string_pretty(saved)?)
        .with_context(|| format!("writing {}", aside.display()))?;
    std::fs::rename(&aside, path).with_context(|| format!("writing {}", path.display()))
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The services' logs go to a file: the terminal keeps the URLs and the
/// progress line. `RUST_LOG` sets the level (default info).
fn log_to(path: &Path) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmqtt=warn,rmqtt_net=warn")),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .init();
    Ok(())
}
