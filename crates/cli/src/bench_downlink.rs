//! `onepark bench downlink`: N simulated lots connect to a real platform
//! (the `onepark platform serve` binary, a child process, with its embedded
//! broker); one specialCar entry is broadcast to all of them; reports the
//! time until every lot has confirmed, and the platform's memory per lot.
//! `--cloud` then runs the parking cloud's MQ channel the same way, on a
//! fresh platform process of the same build (`crate::bench_cloudmq`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{free_port, key_path};
use onepark_lot::downlink::Received;
use onepark_lot::subscriber::{Applied, Apply, Settings, Stats, Subscriber};
use onepark_lot::uplink::{Client, Identity};
use onepark_proto::{PrivateKey, Profile, PublicKey};
use serde_json::{Value, json};

struct Platform {
    child: Child,
    http: u16,
    mqtt: u16,
    /// The broker the lots connect to (the embedded one's address, or `--mqtt-url`).
    broker: String,
    /// The lots' accessIDs are `{prefix}{i}` (unique per run on a shared external broker).
    prefix: String,
}

/// How the broadcast is made and carried.
pub struct Options {
    pub lots: usize,
    pub keys: PathBuf,
    pub cloud: bool,
    /// One city-wide call (`POST /api/admin/lists/city`) instead of one per accessID.
    pub city: bool,
    /// An external broker instead of the embedded one.
    pub mqtt_url: Option<String>,
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Platform {
    /// Resident memory of the platform process (VmRSS), KiB.
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").trim().to_owned()))
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn start_platform(dir: &Path, keys: &Path, lots: usize, sessions: usize, external: Option<&str>) -> Result<Platform> {
    let (http, mqtt) = (free_port()?, free_port()?);
    let absolute = |name: &str| key_path(keys, name);
    let (broker, prefix, broker_line) = match external {
        Some(url) => (
            url.to_owned(),
            format!("L{}x", std::process::id()),
            format!("mqtt_url = \"{url}\"\nmqtt_listen = \"off\""),
        ),
        None => (format!("mqtt://127.0.0.1:{mqtt}"), "L".to_owned(), format!("mqtt_listen = \"127.0.0.1:{mqtt}\"")),
    };
    let mut toml = format!(
        "listen = \"127.0.0.1:{http}\"\n{broker_line}\ndatabase = \"sqlite://{}\"\n\
         admin_token = \"bench\"\n[limits]\nmqtt_max_sessions = {sessions}\nmqtt_max_pending = {pending}\n\
         mqtt_max_pending_per_ip = {pending}\nmax_connections_per_ip = {http_per_ip}\nmax_connections = {http_max}\n[keys]\nprivate_key = \"{}\"\n",
        dir.join("platform.db").display(),
        absolute("platform_private.b64")?,
        // A city of `sessions` lots, one session each (the default holds 10,000).
        sessions = sessions.max(10_000),
        // Every simulated lot connects at once from 127.0.0.1: one address
        // that is not one attacker (the defaults would refuse most of them
        // and measure the lots' reconnect backoff).
        pending = (sessions / 2).max(1024),
        // Their confirms too: a broadcast's 10,000 answers come at once, from one address here;
        // with an external broker the platform's descriptors are free for all of them at once
        // (beyond max_connections they wait in a backlog of 4,096 and the rest retransmit SYNs).
        http_per_ip = sessions.max(512),
        http_max = if external.is_some() { (sessions + 1024).max(4096) } else { 4096 },
    );
    let lot_public = absolute("lot_public.b64")?;
    for i in 0..lots {
        toml.push_str(&format!(
            "[[lots]]\naccess_id = \"{prefix}{i}\"\npublic_key = \"{lot_public}\"\nparking_codes = [\"P{i}\"]\n"
        ));
    }
    let config = dir.join("platform.toml");
    std::fs::write(&config, toml)?;
    let log = std::fs::File::create(dir.join("platform.log"))?;
    let child = Command::new(std::env::current_exe()?)
        .args(["platform", "serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting the platform")?;
    let platform = Platform { child, http, mqtt, broker, prefix };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
        if Instant::now() > deadline {
            bail!("the platform did not start; see {}", dir.join("platform.log").display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(platform)
}

/// Counts applied messages.
#[derive(Clone)]
struct Count(Arc<AtomicU64>);

impl Apply for Count {
    async fn apply(&mut self, _: &Received) -> Applied {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    }
}

pub fn run(o: Options) -> Result<ExitCode> {
    let Options { lots, keys, cloud, city, mqtt_url } = o;
    if lots == 0 {
        bail!("--lots must be at least 1");
    }
    let dir = std::env::temp_dir().join(format!("onepark-bench-downlink-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let platform = start_platform(&dir, &keys, lots, lots, mqtt_url.as_deref())?;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut result = runtime.block_on(measure(&platform, &keys, lots, city));
    drop(platform);
    if cloud && result.is_ok() {
        // A fresh platform of the same build for the cloud's lots: 2 × 10,000 sockets on
        // either side would pass a default descriptor limit (and the broker keeps a
        // closed session's socket until it expires, docs/mqtt.md).
        let cloud_dir = dir.join("cloud");
        std::fs::create_dir_all(&cloud_dir)?;
        let platform = start_platform(&cloud_dir, &keys, 0, lots, None)?;
        let cloud = crate::bench_cloudmq::measure(platform.http, platform.mqtt, lots, || platform.rss_kib());
        if let Err(e) = runtime.block_on(cloud) {
            result = Err(e);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(platform: &Platform, keys: &Path, lots: usize, city: bool) -> Result<ExitCode> {
    let prefix = &platform.prefix;
    let read = |name: &str| std::fs::read_to_string(keys.join(name)).with_context(|| format!("reading {name}"));
    let lot_key = PrivateKey::parse(&read("lot_private.b64")?)?;
    let platform_public = PublicKey::parse(&read("platform_public.b64")?)?;
    let floor = crypto_floor(&PrivateKey::parse(&read("platform_private.b64")?)?, &lot_key)?;
    let idle_kib = platform.rss_kib();

    let connecting = Instant::now();
    let applied = Arc::new(AtomicU64::new(0));
    let mut stats = Vec::with_capacity(lots);
    let mut tasks = Vec::with_capacity(lots);
    let identity = |i: usize| Identity {
        access_id: format!("{prefix}{i}"),
        key: lot_key.clone(),
        platform_public: platform_public.clone(),
        profile: Profile::Qingdao,
    };
    // One pool for every lot: building a client per lot would load the TLS roots a thousand times.
    let pool =
        Client::new(&format!("http://127.0.0.1:{}/api/v1/cp", platform.http), identity(0), Duration::from_secs(30))?;
    for i in 0..lots {
        let uplink = pool.with_identity(identity(i));
        let settings = Settings {
            broker_url: platform.broker.clone(),
            username: format!("{prefix}{i}"),
            parking_codes: vec![format!("P{i}")],
            password: None,
        };
        let subscriber = Subscriber::new(settings, uplink);
        stats.push(subscriber.stats());
        let count = Count(applied.clone());
        tasks.push(tokio::spawn(subscriber.run(count)));
    }
    let sum = |f: fn(&Stats) -> &AtomicU64| stats.iter().map(|s| Stats::get(f(s))).sum::<u64>();
    wait(Duration::from_secs(120), || sum(|s| &s.subscribed) >= lots as u64).await.context("lots subscribing")?;
    let connected_in = connecting.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let connected_kib = platform.rss_kib();
    let http = reqwest::Client::new();
    // Connections the broker's door closed at once (the lots reconnected with backoff).
    let metrics = http.get(format!("http://127.0.0.1:{}/metrics", platform.http)).send().await?.text().await?;
    let refused: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("onepark_mqtt_refused_"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();

    // One entry, sent to every lot: one admin call per accessID, or one for the city.
    let admin = format!("http://127.0.0.1:{}/api/admin", platform.http);
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    for i in 0..if city { 1 } else { lots } {
        let (http, gate) = (http.clone(), gate.clone());
        let mut body = json!({ "plateNo": "鲁B99999", "list": "black", "operate": "add",
            "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00" });
        let url = if city {
            format!("{admin}/lists/city")
        } else {
            body["accessId"] = json!(format!("{prefix}{i}"));
            format!("{admin}/lists")
        };
        calls.spawn(async move {
            let _permit = gate.acquire().await;
            let response = http
                .post(url)
                .bearer_auth("bench")
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "admin POST: {}", response.text().await?);
            Ok(())
        });
    }
    while let Some(call) = calls.join_next().await {
        call??;
    }
    let queued_in = started.elapsed();
    wait(Duration::from_secs(300), || sum(|s| &s.confirmed) >= lots as u64).await.context("confirms")?;
    let all_confirmed = started.elapsed();
    let after_kib = platform.rss_kib();

    let mut confirm_ms = Vec::with_capacity(lots);
    for i in 0..lots {
        let url = format!("{admin}/downlinks?parkingCode=P{i}&limit=1");
        let body: Value = serde_json::from_str(&http.get(url).bearer_auth("bench").send().await?.text().await?)?;
        if let Some(ms) = body["items"][0]["confirmMs"].as_i64() {
            confirm_ms.push(ms);
        }
    }
    confirm_ms.sort_unstable();
    let pct = |p: f64| confirm_ms.get(((confirm_ms.len() as f64 * p) as usize).min(confirm_ms.len().saturating_sub(1)));
    let broker = if platform.prefix == "L" { "the embedded broker".to_owned() } else { platform.broker.clone() };
    println!(
        "lots                      {lots} (one accessID, one MQTT session each, on {broker}; platform = child process)"
    );
    println!(
        "all subscribed in         {:.2} s ({refused} connections refused at the MQTT door)",
        connected_in.as_secs_f64()
    );
    let calls = if city { "one city-wide list change" } else { "one list change per accessID, 32 in flight" };
    println!("admin calls done in       {:.2} s ({calls})", queued_in.as_secs_f64());
    println!("all confirmed after       {:.2} s", all_confirmed.as_secs_f64());
    let floor_s = lots as f64 / floor.lots_per_second;
    println!(
        "crypto floor              {floor_s:.2} s ({lots} × one lot's seal, open, seal, open on 2 threads with nothing \
         else running: {:.0} lots/s; {} private-key operations a lot, {} of them the platform's: {:.2} s alone)",
        floor.lots_per_second,
        floor.private_ops,
        floor.platform_ops,
        floor_s * floor.platform_ops as f64 / floor.private_ops as f64
    );
    println!(
        "created → confirmed       p50 {} ms, p99 {} ms, max {} ms ({} messages)",
        pct(0.50).copied().unwrap_or(0),
        pct(0.99).copied().unwrap_or(0),
        confirm_ms.last().copied().unwrap_or(0),
        confirm_ms.len()
    );
    println!("lots applied / rejected   {} / {}", applied.load(Ordering::Relaxed), sum(|s| &s.rejected));
    println!(
        "confirm calls given up    {} (after 3 s of retries; those messages came again at their deadline)",
        sum(|s| &s.confirm_failed)
    );
    println!(
        "platform RSS              idle {} MiB, {lots} lots connected {} MiB, after broadcast {} MiB",
        idle_kib / 1024,
        connected_kib / 1024,
        after_kib / 1024
    );
    println!("per connected lot         {:.1} KiB", (connected_kib.saturating_sub(idle_kib)) as f64 / lots as f64);
    // Their sockets closed: the next part has the descriptors.
    for task in tasks {
        task.abort();
    }
    Ok(ExitCode::SUCCESS)
}

/// What the crypto alone allows: one lot's round is the platform sealing a
/// list message (a signature), the lot opening it (a private-key operation
/// per 128-byte block), the lot sealing its confirm, which echoes the message's
/// params (a signature), and the platform opening that. Whatever else the
/// platform and the lots do comes on top; on a machine where both share
/// the cores this is the least the broadcast can take.
struct Floor {
    lots_per_second: f64,
    private_ops: usize,
    /// The message's signature and the confirm's blocks.
    platform_ops: usize,
}

fn crypto_floor(platform_key: &PrivateKey, lot_key: &PrivateKey) -> Result<Floor> {
    use onepark_proto::Keys;
    let (platform_public, lot_public) = (platform_key.public_key(), lot_key.public_key());
    let platform = Keys { own: Some(platform_key), peer: Some(&lot_public) };
    let lot = Keys { own: Some(lot_key), peer: Some(&platform_public) };
    // The entry the measurement broadcasts, as `specialCar` carries it.
    let params = json!({ "parkingCode": "P9999", "plateNo": "鲁B99999", "carType": 0, "operateType": 0,
        "operate": 0, "operateTime": "2026-12-05 08:00:00", "startTime": "2026-01-01 00:00:00",
        "endTime": "2027-01-01 00:00:00" });
    let message = params.to_string();
    // As the lot's uplink client sends it.
    let confirm = json!({ "data": { "success": true, "requestId": 1_000_000_000_i64, "params": params } }).to_string();
    // PKCS#1 v1.5: 11 bytes of each block are padding.
    let blocks = |text: &str, key: &PrivateKey| text.len().div_ceil(key.size().saturating_sub(11).max(1));
    let platform_ops = 1 + blocks(&confirm, platform_key);
    let private_ops = platform_ops + blocks(&message, lot_key) + 1;
    let round = || -> Result<()> {
        let sealed = onepark_proto::seal(Profile::Qingdao, message.as_bytes(), platform)?;
        onepark_proto::open(Profile::Qingdao, &sealed.cipher, &sealed.sign, lot)?;
        let sealed = onepark_proto::seal(Profile::Qingdao, confirm.as_bytes(), lot)?;
        onepark_proto::open(Profile::Qingdao, &sealed.cipher, &sealed.sign, platform)?;
        Ok(())
    };
    round().context("the crypto floor's round")?;
    let lots_per_second = crate::bench::per_second(2, || {
        let _ = round();
    });
    Ok(Floor { lots_per_second, private_ops, platform_ops })
}

async fn wait(limit: Duration, done: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            bail!("not done within {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
