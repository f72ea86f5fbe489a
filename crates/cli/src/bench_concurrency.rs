//! `onepark bench concurrency`: does ingest hold up as a city's lots connect
//! at once? The platform runs as a child process (`platform serve`, or
//! another build's binary with `--platform-bin`, for before/after in one
//! run); this process replays distinct pre-sealed uploadCarInData spread
//! over `--codes` parking codes at each connection count in turn (closed
//! loop: every connection sends its next request when the last is
//! answered), and reports requests/s, latency and every non-200. With
//! `--cloudpark` each level also sends as many distinct signed cloud-API
//! entries (enterNotify, the same store path behind another front door) and
//! prints their rate over Qingdao's; with `--bolink`, as many distinct
//! signed Bolink `in_park` messages over the platform's TCP door, one login
//! per connection (the vendor's 100 messages per 10 s per login lifted: the
//! bench measures the door and the store, not the policy).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use onepark_proto::form::UplinkForm;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::bench::{free_port, key_path};

pub struct Options {
    pub codes: usize,
    pub connections: Vec<usize>,
    pub requests: usize,
    pub database: Option<String>,
    pub platform_bin: Option<PathBuf>,
    pub keys: PathBuf,
    pub cloudpark: bool,
    pub bolink: bool,
}

/// The bench's Bolink key (a marked test key).
const BOLINK_KEY: &str = "TEST-ONLY-BENCH-BOLINK";

/// The bench's cloud-API pid and its secret (a marked test secret).
const PID: &str = "bench";
const SECRET: &str = "TEST-ONLY-BENCH-SECRET-0001";

/// A front door: its path, body type and how its success reads.
#[derive(Clone, Copy)]
struct Door {
    path: &'static str,
    content_type: &'static str,
    ok: &'static str,
}

const QDPARK: Door = Door {
    path: "/api/v1/cp/uploadCarInData",
    content_type: "application/x-www-form-urlencoded",
    ok: "\"resultCode\":\"200\"",
};
const CLOUDPARK: Door =
    Door { path: "/cloudparkapi/api/enterNotify", content_type: "application/json", ok: "\"code\":200" };

pub fn run(o: Options) -> Result<ExitCode> {
    if o.codes == 0 || o.requests == 0 || o.connections.contains(&0) {
        bail!("--codes, --requests and every --connections value must be at least 1");
    }
    let dir = std::env::temp_dir().join(format!("onepark-bench-conc-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&o, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(o: &Options, dir: &Path) -> Result<ExitCode> {
    let read = |name: &str| std::fs::read_to_string(o.keys.join(name)).with_context(|| format!("reading {name}"));
    let lot = PrivateKey::parse(&read("lot_private.b64")?)?;
    let platform_public = PublicKey::parse(&read("platform_public.b64")?)?;
    let codes: Vec<String> = (0..o.codes).map(|i| format!("C{i}")).collect();
    let (database, schema) = database(o, dir)?;
    let port = free_port()?;
    let bolink_port = free_port()?;
    let config = dir.join("platform.toml");
    let code_list = codes.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\nmqtt_listen = \"off\"\ndatabase = \"{database}\"\nphoto_dir = \"{photos}\"\n\
             [keys]\nprivate_key = \"{pk}\"\n[[lots]]\naccess_id = \"c1\"\npublic_key = \"{lp}\"\nparking_codes = [{code_list}]\n",
            photos = dir.join("photos").display(),
            pk = key_path(&o.keys, "platform_private.b64")?,
            lp = key_path(&o.keys, "lot_public.b64")?,
        ) + &if o.bolink {
            format!("[bolink]\nlisten = \"127.0.0.1:{bolink_port}\"\nmessages_per_10s = 100000000\n")
        } else {
            String::new()
        },
    )?;
    let bin = match &o.platform_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?,
    };
    eprintln!("sealing {} requests…", o.requests * o.connections.len());
    let levels: Vec<Vec<String>> = (0..o.connections.len())
        .map(|level| seal(level, o.requests, &codes, &lot, &platform_public))
        .collect::<Result<_>>()?;
    let cloud_levels: Vec<Vec<String>> = if o.cloudpark {
        let mut add = std::process::Command::new(&bin);
        add.args(["platform", "integrators", "add", "--pid", PID, "--secret", SECRET, "--kind", "lot", "--config"])
            .arg(&config);
        for code in &codes {
            add.args(["--park-code", code]);
        }
        let out = add.output().context("registering the bench's pid")?;
        if !out.status.success() {
            bail!("integrators add: {}", String::from_utf8_lossy(&out.stderr));
        }
        (0..o.connections.len()).map(|level| sign(level, o.requests, &codes)).collect()
    } else {
        Vec::new()
    };
    let bolink_levels: Vec<Vec<(String, String)>> = if o.bolink {
        for (i, code) in codes.iter().enumerate() {
            let out = std::process::Command::new(&bin)
                .args([
                    "platform",
                    "lots",
                    "add",
                    "--protocol",
                    "bolink",
                    "--park-id",
                    &format!("B{i}"),
                    "--key",
                    BOLINK_KEY,
                ])
                .args(["--parking-code", &format!("B{code}"), "--berths", "500", "--config"])
                .arg(&config)
                .output()
                .context("registering the bench's Bolink lots")?;
            if !out.status.success() {
                bail!("lots add: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        (0..o.connections.len()).map(|level| bolink_sign(level, o.requests)).collect()
    } else {
        Vec::new()
    };
    let mut child = std::process::Command::new(&bin)
        .args(["platform", "serve", "--config"])
        .arg(&config)
        // The platform's own log level (info, as operators run it); it logs to stdout.
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(dir.join("platform.log"))?)
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let outcome = runtime.block_on(async {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
        wait_port(addr).await?;
        println!("platform   {}", bin.display());
        println!("database   {}", database.split('?').next().unwrap_or_default());
        println!("codes      {} parking codes, {} distinct uploadCarInData per level", o.codes, o.requests);
        // The bound, measured here while the platform idles: what two
        // threads of this machine can open, divided by the blocks a request needs.
        let rsa = crate::bench::rsa_ops_per_second(&lot, 2)?;
        let blocks = levels.iter().flatten().map(|r| blocks_of(r)).sum::<usize>() as f64
            / levels.iter().map(Vec::len).sum::<usize>().max(1) as f64;
        let bound = rsa / blocks;
        println!(
            "RSA bound  {bound:.0} req/s ({rsa:.0} one-block private-key opens/s on 2 threads ÷ {blocks:.2} blocks/request)"
        );
        println!(
            "{:>11} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9}",
            "connections", "req/s", "p50 ms", "p99 ms", "non-200", "errors", "unsent", "ratio", "client %", "peak MiB"
        );
        let mut cloud_levels = cloud_levels.into_iter();
        let mut bolink_levels = bolink_levels.into_iter();
        let bolink_addr: std::net::SocketAddr = format!("127.0.0.1:{bolink_port}").parse()?;
        if o.bolink {
            wait_port(bolink_addr).await?;
        }
        for (connections, requests) in o.connections.iter().zip(levels) {
            let (client, server) = (cpu_seconds(None), cpu_seconds(Some(child.id())));
            let mut r = level(addr, QDPARK, *connections, requests).await;
            let (client, server) = (cpu_seconds(None) - client, cpu_seconds(Some(child.id())) - server);
            r.ratio = Some(r.rate / bound);
            r.client_share = Some(client / (client + server).max(f64::MIN_POSITIVE));
            r.peak_mib = Some(peak_rss_kib(child.id()) as f64 / 1024.0);
            print_level(&format!("{connections}"), &r);
            if let Some(signed) = bolink_levels.next() {
                let b = bolink_level(bolink_addr, *connections, o.codes, signed).await;
                print_level(&format!("{connections} bolink"), &b);
                println!("            bolink / Qingdao: {:.2}", b.rate / r.rate.max(f64::MIN_POSITIVE));
            }
            if let Some(signed) = cloud_levels.next() {
                let c = level(addr, CLOUDPARK, *connections, signed).await;
                print_level(&format!("{connections} cloud"), &c);
                println!("            cloud / Qingdao: {:.2}", c.rate / r.rate.max(f64::MIN_POSITIVE));
            }
        }
        anyhow::Ok(())
    });
    stop(&mut child);
    if let Some(schema) = schema {
        drop_schema(o.database.as_deref().unwrap_or_default(), &schema);
    }
    let log = std::fs::read_to_string(dir.join("platform.log")).unwrap_or_default();
    let deadlocks = log.matches("deadlock").count();
    let conflicts = log.matches("write conflict").count();
    println!("platform log: {deadlocks} lines mention a deadlock, {conflicts} retried conflicts");
    outcome?;
    Ok(ExitCode::SUCCESS)
}

/// Stops the platform as an operator would (SIGTERM: it finishes what it
/// holds and exits; a profiler around it writes its output), then for good.
fn stop(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// SQLite in the temp directory, or PostgreSQL in a schema of its own (made
/// and dropped with `psql`) so runs never see each other's rows.
fn database(o: &Options, dir: &Path) -> Result<(String, Option<String>)> {
    let Some(url) = &o.database else {
        return Ok((format!("sqlite://{}", dir.join("bench.db").display()), None));
    };
    if !url.starts_with("postgres") {
        return Ok((url.clone(), None));
    }
    let schema = format!("onepark_bench_{}", std::process::id());
    let made = std::process::Command::new("psql")
        .args([url.as_str(), "-qc", &format!("CREATE SCHEMA {schema}")])
        .status()
        .context("psql (to make a schema for the run)")?;
    if !made.success() {
        bail!("psql could not create schema {schema}");
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok((format!("{url}{sep}options=-c%20search_path%3D{schema}"), Some(schema)))
}

fn drop_schema(url: &str, schema: &str) {
    let _ = std::process::Command::new("psql")
        .args([url, "-qc", &format!("DROP SCHEMA {schema} CASCADE")])
        .env("PGOPTIONS", "--client-min-messages=warning")
        .status();
}

fn print_level(label: &str, r: &Level) {
    let opt = |v: Option<f64>, digits: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"));
    println!(
        "{label:>11} {:>9.0} {:>9.2} {:>9.2} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9}",
        r.rate,
        r.p50,
        r.p99,
        r.rejected,
        r.errors,
        r.unsent,
        opt(r.ratio, 2),
        opt(r.client_share.map(|s| s * 100.0), 1),
        opt(r.peak_mib, 1),
    );
    if let Some(sample) = &r.sample {
        println!("            first non-200: {sample}");
    }
}

/// Distinct Bolink in_park messages: (data text, sign); the token goes in at send time.
fn bolink_sign(level: usize, n: usize) -> Vec<(String, String)> {
    let now = chrono::Utc::now().timestamp() - 5;
    let run = std::process::id();
    (0..n)
        .map(|i| {
            let data = serde_json::json!({ "car_number": format!("鲁B{:05}", i % 100_000), "in_time": now,
                "order_id": format!("K{run}B{level}N{i}"), "empty_plot": 200, "in_channel_id": "1", "car_cost_type": 1 })
            .to_string();
            let sign = onepark_bolink::sign::sign(&data, BOLINK_KEY);
            (data, sign)
        })
        .collect()
}

/// One level over the Bolink door: each connection logs in as lot
/// `B{c % codes}` and sends its messages one after another.
async fn bolink_level(
    addr: std::net::SocketAddr,
    connections: usize,
    codes: usize,
    messages: Vec<(String, String)>,
) -> Level {
    let mut slices: Vec<Vec<(String, String)>> = (0..connections).map(|_| Vec::new()).collect();
    for (i, m) in messages.into_iter().enumerate() {
        slices[i % connections].push(m);
    }
    let started = Instant::now();
    let deadline = started + LEVEL_BUDGET;
    let tasks: Vec<_> = slices
        .into_iter()
        .enumerate()
        .map(|(c, s)| tokio::spawn(bolink_connection(addr, format!("B{}", c % codes), s, deadline)))
        .collect();
    gather(started, tasks).await
}

async fn bolink_connection(
    addr: std::net::SocketAddr,
    park_id: String,
    messages: Vec<(String, String)>,
    deadline: Instant,
) -> Connection {
    let mut c = Connection { latencies: Vec::new(), rejected: 0, errors: 0, unsent: 0, sample: None };
    let Ok(stream) = TcpStream::connect(addr).await else {
        c.errors = messages.len();
        return c;
    };
    let _ = stream.set_nodelay(true);
    let mut s = BufReader::new(stream);
    let login = onepark_bolink::Envelope::build("login", None, &serde_json::json!({ "park_id": park_id }), BOLINK_KEY);
    let token = match bolink_exchange(&mut s, &login).await {
        Ok(reply) => serde_json::from_str::<serde_json::Value>(&reply)
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_owned))
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    if token.is_empty() {
        c.errors = messages.len();
        return c;
    }
    for (i, (data, sign)) in messages.iter().enumerate() {
        if Instant::now() >= deadline {
            c.unsent = messages.len() - i;
            break;
        }
        let line = format!(r#"{{"service_name":"in_park","sign":"{sign}","token":"{token}","data":{data}}}"#);
        let t = Instant::now();
        match tokio::time::timeout(Duration::from_secs(10), bolink_exchange(&mut s, &line)).await {
            Ok(Ok(reply)) if reply.contains("\"state\":1") => c.latencies.push(t.elapsed()),
            Ok(Ok(reply)) => {
                c.rejected += 1;
                c.sample.get_or_insert_with(|| reply.chars().take(200).collect());
            }
            Ok(Err(_)) | Err(_) => {
                c.errors += messages.len() - i;
                break;
            }
        }
    }
    c
}

/// One line out, the next answer in (the platform ends its lines with `\r`).
async fn bolink_exchange(s: &mut BufReader<TcpStream>, line: &str) -> Result<String> {
    s.get_mut().write_all(line.as_bytes()).await?;
    s.get_mut().write_all(b"\n").await?;
    loop {
        let mut buf = Vec::new();
        if tokio::io::AsyncBufReadExt::read_until(s, b'\r', &mut buf).await? == 0 {
            bail!("connection closed");
        }
        let text = String::from_utf8_lossy(&buf).trim().to_owned();
        if !text.is_empty() {
            return Ok(text);
        }
    }
}

/// Distinct signed enterNotify requests, signed now (good for ±300 s).
fn sign(level: usize, n: usize, codes: &[String]) -> Vec<String> {
    let zone = onepark_domain::time::Zone::default();
    let now = chrono::Utc::now();
    let enter = onepark_domain::time::format_time(zone.local(now) - chrono::Duration::seconds(5));
    let run = std::process::id();
    (0..n)
        .map(|i| {
            let biz = serde_json::json!({ "parkCode": codes[i % codes.len()], "recordNo": format!("K{run}C{level}N{i}"),
                "plateNum": format!("鲁B{:05}", i % 100_000), "enterTime": enter, "carType": 9, "carSubType": 91,
                "inChannelid": "1", "totalParkNum": 500, "remainParkNum": 200 });
            onepark_cloudpark::build_request(PID, "enterNotify", now.timestamp(), &biz.to_string(), SECRET)
        })
        .collect()
}

fn seal(level: usize, n: usize, codes: &[String], lot: &PrivateKey, platform: &PublicKey) -> Result<Vec<String>> {
    let keys = Keys { own: Some(lot), peer: Some(platform) };
    let zone = onepark_domain::time::Zone::default();
    let now = zone.local(chrono::Utc::now());
    let upload = onepark_domain::time::format_time(now);
    let arrive = onepark_domain::time::format_time(now - chrono::Duration::seconds(5));
    let run = std::process::id();
    (0..n)
        .map(|i| {
            let code = &codes[i % codes.len()];
            let data = serde_json::json!({ "data": {
                "uid": format!("K{run}L{level}N{i}"), "arrivalID": "1", "plateNo": format!("鲁B{:05}", i % 100_000),
                "carType": 1, "parkingCode": code, "entryNum": "1", "totalBerthNum": 500, "openBerthNum": 450,
                "freeBerthNum": 200, "arriveTime": arrive, "parkingType": 1, "plateColor": 1, "uploadTime": upload } });
            let sealed = onepark_proto::seal(Profile::Qingdao, data.to_string().as_bytes(), keys)?;
            Ok(UplinkForm { access_id: "c1".into(), cipher: sealed.cipher, sign: sealed.sign, file: None }.encode())
        })
        .collect()
}

struct Level {
    rate: f64,
    p50: f64,
    p99: f64,
    rejected: usize,
    errors: usize,
    /// Not sent within [`LEVEL_BUDGET`].
    unsent: usize,
    sample: Option<String>,
    /// Requests/s over the RSA bound.
    ratio: Option<f64>,
    /// This process's share of the CPU time the level took (client + platform).
    client_share: Option<f64>,
    /// The platform's peak resident memory so far (VmHWM).
    peak_mib: Option<f64>,
}

/// A level stops sending after this long: a platform stalled by lock waits
/// would otherwise take hours (every request waiting out its 10 s timeout).
const LEVEL_BUDGET: Duration = Duration::from_secs(60);

async fn level(addr: std::net::SocketAddr, door: Door, connections: usize, requests: Vec<String>) -> Level {
    let mut slices: Vec<Vec<String>> = (0..connections).map(|_| Vec::new()).collect();
    for (i, r) in requests.into_iter().enumerate() {
        slices[i % connections].push(r);
    }
    let started = Instant::now();
    let deadline = started + LEVEL_BUDGET;
    let tasks: Vec<_> = slices.into_iter().map(|s| tokio::spawn(connection(addr, door, s, deadline))).collect();
    gather(started, tasks).await
}

/// A level's figures from its connections' tasks.
async fn gather(started: Instant, tasks: Vec<tokio::task::JoinHandle<Connection>>) -> Level {
    let (mut latencies, mut rejected, mut errors, mut sample, mut unsent) = (Vec::new(), 0, 0, None, 0);
    for task in tasks {
        match task.await {
            Ok(c) => {
                latencies.extend(c.latencies);
                rejected += c.rejected;
                errors += c.errors;
                unsent += c.unsent;
                sample = sample.or(c.sample);
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Level {
        rate: latencies.len() as f64 / elapsed,
        p50: pct(0.5),
        p99: pct(0.99),
        rejected,
        errors,
        unsent,
        sample,
        ratio: None,
        client_share: None,
        peak_mib: None,
    }
}

struct Connection {
    latencies: Vec<Duration>,
    rejected: usize,
    errors: usize,
    unsent: usize,
    sample: Option<String>,
}

/// One keep-alive connection sending its requests one after another; a
/// broken connection is replaced. Only 200s count towards the rate.
async fn connection(addr: std::net::SocketAddr, door: Door, requests: Vec<String>, deadline: Instant) -> Connection {
    let mut c = Connection { latencies: Vec::new(), rejected: 0, errors: 0, unsent: 0, sample: None };
    let mut stream: Option<BufReader<TcpStream>> = None;
    for (i, body) in requests.iter().enumerate() {
        if Instant::now() >= deadline {
            c.unsent = requests.len() - i;
            break;
        }
        let t = Instant::now();
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(BufReader::new(s));
                }
                Err(_) => {
                    c.errors += 1;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        let reply = tokio::time::timeout(Duration::from_secs(10), exchange(s, door, body)).await;
        match reply {
            Ok(Ok((200, reply))) if reply.contains(door.ok) => c.latencies.push(t.elapsed()),
            Ok(Ok((status, reply))) => {
                c.rejected += 1;
                c.sample
                    .get_or_insert_with(|| format!("HTTP {status} {}", reply.chars().take(200).collect::<String>()));
            }
            Ok(Err(_)) | Err(_) => {
                c.errors += 1;
                stream = None;
            }
        }
    }
    c
}

async fn exchange(s: &mut BufReader<TcpStream>, door: Door, body: &str) -> Result<(u16, String)> {
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: bench\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        door.path,
        door.content_type,
        body.len()
    );
    // One write, as wrk and real clients send a small request: a head and
    // a body apart cost the server a wake-up and a read each.
    let mut request = head.into_bytes();
    request.extend_from_slice(body.as_bytes());
    s.get_mut().write_all(&request).await?;
    let (mut status, mut length) = (0u16, 0usize);
    loop {
        let mut line = String::new();
        if tokio::io::AsyncBufReadExt::read_line(s, &mut line).await? == 0 {
            bail!("connection closed");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(code) = line.strip_prefix("HTTP/1.1 ") {
            status = code.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        } else if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("content-length")?;
        }
    }
    let mut reply = vec![0u8; length];
    s.read_exact(&mut reply).await?;
    Ok((status, String::from_utf8_lossy(&reply).into_owned()))
}

/// RSA blocks in one sealed form: the cipher's Base64 ÷ 128 bytes a block.
fn blocks_of(form: &str) -> usize {
    let cipher = form.split('&').find_map(|kv| kv.strip_prefix("cipher=")).unwrap_or_default();
    // Percent-encoded Base64: `%2B`, `%2F` and `%3D` are one character each.
    let chars = cipher.len() - 2 * cipher.matches('%').count();
    (chars * 3 / 4).div_ceil(128)
}

/// User + system CPU seconds of this process (`None`) or of `pid`, from /proc.
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = pid.map_or_else(|| "/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// A process's peak resident memory in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().trim_end_matches("kB").trim().to_owned()))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn wait_port(addr: std::net::SocketAddr) -> Result<()> {
    for _ in 0..300 {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the platform did not listen on {addr} within 30 s")
}
