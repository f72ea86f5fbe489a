//! `onepark bench ingest`: a load generator. Starts the platform in-process
//! on loopback, simulates N lots sending pre-sealed uploadCarInData,
//! uploadCarOutData and uploadPhoto over HTTP/1.1 keep-alive connections,
//! and reports records/s and latency next to the RSA-bound limit measured in
//! the same run (private-key block operations per second ÷ blocks per record).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Subcommand;
use onepark_platform::config::{Config, LotAccess};
use onepark_proto::form::UplinkForm;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Subcommand)]
pub enum Command {
    /// Measure the platform's ingest rate over HTTP on loopback.
    Ingest {
        /// Simulated lots (one keep-alive connection each).
        #[arg(long, default_value_t = 16)]
        lots: usize,
        /// Parking sessions per lot (each = entry + photo + exit).
        #[arg(long, default_value_t = 100)]
        sessions: usize,
        /// Database URL; default: a fresh SQLite file in a temp directory.
        #[arg(long)]
        database: Option<String>,
        /// Directory holding platform_private.b64, lot_private.b64 and their public halves.
        #[arg(long, default_value = "crates/proto/tests/interop/keys")]
        keys: PathBuf,
    },
    /// Lot gateway: barrier decision latency and backlog drain rate.
    Lot {
        /// Cars (each enters and leaves; the backlog is twice this).
        #[arg(long, default_value_t = 5000)]
        cars: usize,
        /// The lot's `platform.concurrency` (sessions in flight while draining).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value = "crates/proto/tests/interop/keys")]
        keys: PathBuf,
    },
    /// Ingest as connections grow: a platform child process, distinct
    /// uploadCarInData over many parking codes, at each connection count.
    Concurrency {
        /// Parking codes the records are spread over (1: every writer meets one lot's rows).
        #[arg(long, default_value_t = 200)]
        codes: usize,
        /// Connection counts, measured in this order.
        #[arg(long, value_delimiter = ',', default_values_t = [16, 64, 256])]
        connections: Vec<usize>,
        /// Distinct requests sent at each connection count.
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        /// Database URL; default: a fresh SQLite file. PostgreSQL runs in a schema of its own (needs `psql`).
        #[arg(long)]
        database: Option<String>,
        /// Another build's `onepark` to run as the platform (before/after in one run).
        #[arg(long)]
        platform_bin: Option<PathBuf>,
        #[arg(long, default_value = "crates/proto/tests/interop/keys")]
        keys: PathBuf,
        /// Also send signed cloud-API entries (enterNotify) at each connection
        /// count, right after Qingdao's, and print their ratio (docs/cloudpark.md).
        #[arg(long)]
        cloudpark: bool,
        /// Also send Bolink in_park messages over the platform's TCP door (one
        /// login per connection, the vendor's rate limit lifted) at each
        /// connection count, and print their ratio (docs/bolink.md).
        #[arg(long)]
        bolink: bool,
    },
    /// Online payment: the exit with a no-stop deduction beside a plain exit, and the driver page's fee round trip.
    Payments {
        /// Cars leaving (half signed up for no-stop deduction, interleaved with the others).
        #[arg(long, default_value_t = 1000)]
        cars: usize,
        /// Fee queries from the driver page (fee → uploadFee).
        #[arg(long, default_value_t = 300)]
        quotes: usize,
        #[arg(long, default_value = "crates/proto/tests/interop/keys")]
        keys: PathBuf,
    },
    /// The city overview (admin API and dashboard page) of a big city's day so far.
    Dashboard {
        #[arg(long, default_value_t = 1000)]
        lots: usize,
        /// Timed requests per page.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Database URL; default: a fresh SQLite file in a temp directory.
        #[arg(long)]
        database: Option<String>,
    },
    /// Broadcast one black-list entry to N lots connected to the embedded broker.
    Downlink {
        /// Simulated lots (one accessID and MQTT session each).
        #[arg(long, default_value_t = 1000)]
        lots: usize,
        /// Directory holding the test key pairs.
        #[arg(long, default_value = "crates/proto/tests/interop/keys")]
        keys: PathBuf,
        /// Then the parking cloud's MQ channel in the same platform: as many cloud
        /// lots, a `pay.querymonthcardlist` broadcast and a command to each.
        #[arg(long)]
        cloud: bool,
        /// One city-wide call (`POST /api/admin/lists/city`) instead of one per accessID.
        #[arg(long)]
        city: bool,
        /// Through an external broker (`mqtt://host:port`, e.g. Mosquitto) instead of the embedded one.
        #[arg(long)]
        mqtt_url: Option<String>,
    },
}

pub(crate) struct Request {
    pub(crate) path: String,
    pub(crate) body: String,
    pub(crate) blocks: usize,
    /// The stay (car) the record belongs to: a stay's records go in order.
    pub(crate) stay: u64,
}

/// A port free right now on loopback (for a child process to bind).
pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A key file's absolute path, for configs written into a temp directory.
pub(crate) fn key_path(keys: &std::path::Path, name: &str) -> Result<String> {
    Ok(std::fs::canonicalize(keys.join(name)).with_context(|| format!("key {name}"))?.display().to_string())
}

pub fn run(command: Command) -> Result<ExitCode> {
    let (lots, sessions, database, keys) = match command {
        Command::Ingest { lots, sessions, database, keys } => (lots, sessions, database, keys),
        Command::Downlink { lots, keys, cloud, city, mqtt_url } => {
            return crate::bench_downlink::run(crate::bench_downlink::Options { lots, keys, cloud, city, mqtt_url });
        }
        Command::Dashboard { lots, requests, database } => {
            return crate::bench_dashboard::run(lots, requests, database);
        }
        Command::Lot { cars, concurrency, keys } => return crate::bench_lot::run(cars, concurrency, keys),
        Command::Payments { cars, quotes, keys } => return crate::bench_payments::run(cars, quotes, keys),
        Command::Concurrency { codes, connections, requests, database, platform_bin, keys, cloudpark, bolink } => {
            let options = crate::bench_concurrency::Options {
                codes,
                connections,
                requests,
                database,
                platform_bin,
                keys,
                cloudpark,
                bolink,
            };
            return crate::bench_concurrency::run(options);
        }
    };
    if lots == 0 || sessions == 0 {
        bail!("--lots and --sessions must be at least 1");
    }
    let read = |name: &str| std::fs::read_to_string(keys.join(name)).with_context(|| format!("reading {name}"));
    let platform = PrivateKey::parse(&read("platform_private.b64")?)?;
    let lot = PrivateKey::parse(&read("lot_private.b64")?)?;
    let lot_pub = PublicKey::parse(&read("lot_public.b64")?)?;
    let dir = std::env::temp_dir().join(format!("onepark-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database = database.unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));

    eprintln!("sealing {} requests…", lots * sessions * 3);
    let work = seal_all(lots, sessions, &lot, &platform.public_key())?;
    let blocks: usize = work.iter().flatten().map(|r| r.blocks).sum();
    let records = lots * sessions * 3;

    let runtime = tokio::runtime::Runtime::new()?;
    let rsa_limit = rsa_ops_per_second(&platform, 2)?;
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database: database.clone(),
        zone: Default::default(),
        path_prefix: "/api/v1/cp".into(),
        photo_dir: dir.join("photos"),
        body_limit_bytes: onepark_platform::config::DEFAULT_BODY_LIMIT,
        private_key: Some(platform),
        lots: (0..lots)
            .map(|i| LotAccess::qdpark(&format!("b{i}"), lot_pub.clone(), Profile::Qingdao, vec![format!("B{i}")]))
            .collect(),
        admin_token: None,
        mqtt_url: None,
        mqtt_listen: None,
        downlink_retry: chrono::Duration::hours(24),
        metrics_listen: None,
        metrics_token: None,
        public_url: "http://127.0.0.1:8080".into(),
        // Ingest is measured, not the per-lot photo budget.
        limits: onepark_platform::config::Limits { photos_per_minute: 0, ..Default::default() },
        payments: Default::default(),
        dashboard: Default::default(),
        cloud_topics: Default::default(),
        bolink: Default::default(),
        node_name: "bench".into(),
    };
    let (elapsed, mut latencies) = runtime.block_on(drive(config, work))?;
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let rate = records as f64 / elapsed.as_secs_f64();
    let bound = rsa_limit / (blocks as f64 / records as f64);
    println!("database              {database}");
    println!("lots × sessions       {lots} × {sessions} (entry + photo + exit each)");
    println!("records               {records} in {:.2} s", elapsed.as_secs_f64());
    println!("records/s             {rate:.0}");
    println!("latency p50 / p99     {:.2} ms / {:.2} ms", ms(pct(0.50)), ms(pct(0.99)));
    println!(
        "RSA-bound limit       {bound:.0} records/s ({rsa_limit:.0} private-key block ops/s on 2 threads ÷ {:.2} blocks/record)",
        blocks as f64 / records as f64
    );
    println!("ratio to the limit    {:.2}", rate / bound);
    println!("peak RSS              {} MiB (client and platform, one process)", peak_rss_kib() / 1024);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sealing is the lots' cost, not the platform's: done before timing.
fn seal_all(lots: usize, sessions: usize, lot: &PrivateKey, platform: &PublicKey) -> Result<Vec<Vec<Request>>> {
    let keys = Keys { own: Some(lot), peer: Some(platform) };
    let jpeg = base64::engine::general_purpose::STANDARD.encode(fake_jpeg(40 * 1024));
    // Fresh uids per run, so a reused database measures inserts, not duplicates.
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() % 1_000_000);
    // Sealed now, sent within the platform's uploadTime window.
    let upload = onepark_domain::time::format_time(onepark_domain::time::Zone::default().local(chrono::Utc::now()));
    let mut all = Vec::with_capacity(lots);
    for l in 0..lots {
        let mut requests = Vec::with_capacity(sessions * 3);
        for s in 0..sessions {
            let (code, uid) = (format!("B{l}"), format!("R{run}B{l}x{s}"));
            let (h, m) = (8 + s / 60 % 12, s % 60);
            let entry = format!(
                r#"{{"data":{{"uid":"{uid}","arrivalID":"{s}","plateNo":"鲁B{:05}","carType":1,"parkingCode":"{code}","entryNum":"1","totalBerthNum":500,"openBerthNum":450,"freeBerthNum":200,"arriveTime":"2021-07-01 {h:02}:{m:02}:00","parkingType":1,"plateColor":1,"uploadTime":"{upload}"}}}}"#,
                s % 100000
            );
            let photo = format!(
                r#"{{"data":{{"uid":"{uid}","parkingCode":"{code}","photoID":"{uid}p","time":"2021-07-01 {h:02}:{m:02}:00","type":1,"name":"{uid}.jpg","uploadTime":"{upload}"}}}}"#
            );
            let exit = format!(
                r#"{{"data":{{"uid":"{uid}","exitID":"{s}","plateNo":"鲁B{:05}","carType":1,"parkingCode":"{code}","totalBerthNum":500,"openBerthNum":450,"freeBerthNum":201,"arriveTime":"2021-07-01 {h:02}:{m:02}:00","parkingType":1,"endTime":"2021-07-01 {:02}:{m:02}:00","entryNum":"1","outNum":"2","plateColor":1,"uploadTime":"{upload}","chargeFee":600,"shouldPay":600}}}}"#,
                s % 100000,
                h + 2,
            );
            for (path, text, file) in [
                ("/api/v1/cp/uploadCarInData", entry, None),
                ("/api/v1/cp/uploadPhoto", photo, Some(jpeg.clone())),
                ("/api/v1/cp/uploadCarOutData", exit, None),
            ] {
                let sealed = onepark_proto::seal(Profile::Qingdao, text.as_bytes(), keys)?;
                let blocks = text.len().div_ceil(platform.size() - 11);
                let body =
                    UplinkForm { access_id: format!("b{l}"), cipher: sealed.cipher, sign: sealed.sign, file }.encode();
                requests.push(Request { path: path.to_owned(), body, blocks, stay: s as u64 });
            }
        }
        all.push(requests);
    }
    Ok(all)
}

/// A JPEG-signed blob of `size` bytes (the platform checks the magic only).
fn fake_jpeg(size: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..size.saturating_sub(4)).map(|i| (i * 31 % 251) as u8));
    bytes
}

/// Serves `config` and plays every lot's requests on its own connection, all at once.
pub(crate) async fn drive(config: Config, work: Vec<Vec<Request>>) -> Result<(Duration, Vec<Duration>)> {
    let addr = onepark_platform::app::spawn(config).await?.http;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for requests in work {
        tasks.push(tokio::spawn(async move { lot_client(addr, requests).await }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.context("client task")??);
    }
    Ok((started.elapsed(), latencies))
}

/// One lot as its gateway's outbox sends: up to `concurrency` stays at
/// once over as many keep-alive connections, each stay's records in order,
/// stays taken in the order their first record was made.
pub(crate) async fn lot_stays_client(
    addr: std::net::SocketAddr,
    requests: Vec<Request>,
    concurrency: usize,
) -> Result<Vec<Duration>> {
    if concurrency <= 1 {
        return lot_client(addr, requests).await;
    }
    let mut stays: Vec<Vec<Request>> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for r in requests {
        let i = *index.entry(r.stay).or_insert_with(|| {
            stays.push(Vec::new());
            stays.len() - 1
        });
        stays[i].push(r);
    }
    let queue = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(stays)));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut connection = Connection::open(addr).await?;
                loop {
                    let next = queue.lock().map_err(|_| anyhow::anyhow!("queue poisoned"))?.pop_front();
                    let Some(stay) = next else { break };
                    connection.send(&stay, &mut latencies).await?;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.context("lot worker")??);
    }
    Ok(latencies)
}

/// One lot: its requests in order on one keep-alive connection.
pub(crate) async fn lot_client(addr: std::net::SocketAddr, requests: Vec<Request>) -> Result<Vec<Duration>> {
    let mut connection = Connection::open(addr).await?;
    let mut latencies = Vec::with_capacity(requests.len());
    connection.send(&requests, &mut latencies).await?;
    Ok(latencies)
}

/// A keep-alive connection of the load generator.
struct Connection {
    read: BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Connection {
    async fn open(addr: std::net::SocketAddr) -> Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        Ok(Connection { read: BufReader::new(read), write })
    }

    /// Sends `requests` one after another, each answered 200 before the next.
    async fn send(&mut self, requests: &[Request], latencies: &mut Vec<Duration>) -> Result<()> {
        for r in requests {
            let t = Instant::now();
            let head = format!(
                "POST {} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
                r.path,
                r.body.len()
            );
            // One write per request, as a real client sends a small one.
            let mut request = head.into_bytes();
            request.extend_from_slice(r.body.as_bytes());
            self.write.write_all(&request).await?;
            let body = read_response(&mut self.read).await?;
            if !body.contains("\"resultCode\":\"200\"") {
                bail!("{} was not accepted: {body}", r.path);
            }
            latencies.push(t.elapsed());
        }
        Ok(())
    }
}

async fn read_response(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Result<String> {
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            bail!("connection closed");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("content-length")?;
        }
    }
    let mut body = vec![0u8; length];
    read.read_exact(&mut body).await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// One-block opens per second on `threads` threads for one second: a
/// private-key block decryption plus its (cheap, ~2 %) signature check.
pub(crate) fn rsa_ops_per_second(key: &PrivateKey, threads: usize) -> Result<f64> {
    let public = key.public_key();
    let keys = Keys { own: Some(key), peer: Some(&public) };
    let one = onepark_proto::seal(Profile::Qingdao, &[b'x'; 100], keys)?;
    Ok(per_second(threads, || {
        let _ = onepark_proto::open(Profile::Qingdao, &one.cipher, &one.sign, keys);
    }))
}

/// How many times a second `threads` threads together can run `work`,
/// each for one second, with nothing else of this process running.
pub(crate) fn per_second(threads: usize, work: impl Fn() + Sync) -> f64 {
    let window = Duration::from_secs(1);
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let start = Instant::now();
                    let mut n = 0u64;
                    while start.elapsed() < window {
                        work();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    counts.iter().sum::<u64>() as f64 / window.as_secs_f64()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().trim_end_matches(" kB").trim().to_owned()))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
