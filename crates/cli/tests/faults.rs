//! Faults, for real. Two platform nodes (`onepark platform serve`) on one
//! PostgreSQL behind HAProxy (health-checked, PROXY protocol) with an
//! external Mosquitto, and a lot gateway (`onepark lot serve`) sending a
//! day's traffic through the balancer; in the middle of it, a fault. After
//! each: the lot's outbox drains, the spec's reconciliation finds every
//! record on the platform (nothing to re-send, nothing counted twice) and a
//! list change made during the fault reaches the lot and is confirmed.
//!
//! Each fault is one test; `bash .ci/faults` runs them all (the slow ones
//! are `#[ignore]`d here and run there). They need `DATABASE_URL`,
//! `MQTT_URL` and `haproxy`, and print SKIPPED without them; the database
//! restart needs PostgreSQL's server binaries, the partition and the full
//! disk need root (network namespaces, tmpfs).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{Process, client};
use onepark_testkit::config::{lot_access, lot_toml};
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::keys::key_path;
use onepark_testkit::net::{free_port, wait_port};

const JPEG: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2Q==";
/// Where HAProxy's connections to the nodes come from: the address the
/// nodes trust for PROXY lines (anything else on loopback is a client).
const BALANCER_SOURCE: &str = "127.0.0.2";

/// The lot's staff password where the lot is reached from off its machine.
const STAFF_PASSWORD: &str = "fault tests only";

/// What a fault test needs of the machine, or why it is skipped.
/// (The database is a schema of the test's own on `DATABASE_URL`.)
fn needs(test: &str) -> Option<String> {
    onepark_testkit::env_or_skip("DATABASE_URL", test)?;
    let mqtt = onepark_testkit::env_or_skip("MQTT_URL", test)?;
    if Command::new("haproxy").arg("-v").stdout(Stdio::null()).status().is_err() {
        onepark_testkit::skip(test, "haproxy is not installed (apt-get install haproxy)");
        return None;
    }
    Some(mqtt)
}

/// The cluster: nodes, balancer, lot.
struct Cluster {
    dir: PathBuf,
    database: String,
    mqtt: String,
    nodes: Vec<(u16, Option<Process>)>,
    front: u16,
    _balancer: Option<Process>,
    lane: u16,
    lot: Option<Process>,
    /// Where the lot gateway's API listens (the test calls it there).
    lot_host: String,
    /// The platform's and the broker's address as the lot reaches them.
    lot_sees: String,
    /// How the lot is started (`ip netns exec NS` for the partition).
    lot_prefix: Vec<String>,
    /// Whether the lot subscribes to the broker.
    lot_mqtt: bool,
    /// The address the balancer listens on.
    front_bind: String,
    /// `[auth]` for a lot reached from off its machine: a staff account, then its token.
    lot_staff: bool,
    lot_token: Option<String>,
}

impl Cluster {
    async fn start(tag: &str, database: &str, mqtt: &str) -> Cluster {
        let mut cluster = Cluster::platform_on(tag, database, mqtt, "127.0.0.1").await;
        cluster.start_lot().await;
        cluster
    }

    /// The nodes and the balancer (listening on `front_bind`), no lot yet.
    async fn platform_on(tag: &str, database: &str, mqtt: &str, front_bind: &str) -> Cluster {
        let dir = fresh_dir(tag);
        let ports = [free_port(), free_port()];
        let front = free_port();
        let mut cluster = Cluster {
            dir,
            database: database.to_owned(),
            mqtt: mqtt.to_owned(),
            nodes: ports.iter().map(|p| (*p, None)).collect(),
            front,
            _balancer: None,
            lane: free_port(),
            lot: None,
            lot_host: "127.0.0.1".into(),
            lot_sees: "127.0.0.1".into(),
            lot_prefix: Vec::new(),
            lot_mqtt: true,
            front_bind: front_bind.to_owned(),
            lot_staff: false,
            lot_token: None,
        };
        for i in 0..ports.len() {
            cluster.start_node(i).await;
        }
        cluster._balancer = Some(cluster.balancer().await);
        cluster
    }

    fn lot_url(&self) -> String {
        format!("http://{}:{}", self.lot_host, self.lane)
    }

    fn lot_api(&self) -> LotApi {
        LotApi { base: self.lot_url(), token: self.lot_token.clone() }
    }

    fn node_config(&self, i: usize) -> PathBuf {
        let path = self.dir.join(format!("node{i}.toml"));
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndatabase = \"{db}\"\nmqtt_url = \"{mqtt}\"\nmqtt_listen = \"off\"\n\
             admin_token = \"t\"\nnode_name = \"node{i}\"\nphoto_dir = \"{photos}\"\n\
             [keys]\nprivate_key = \"{key}\"\n[limits]\ntrusted_proxies = [\"{BALANCER_SOURCE}\"]\n{lots}",
            port = self.nodes[i].0,
            db = self.database,
            mqtt = self.mqtt,
            photos = self.dir.join("photos").display(),
            key = key_path("platform_private.b64").display(),
            lots = lot_access("234", &["1001"]),
        );
        std::fs::write(&path, text).expect("node config");
        path
    }

    async fn start_node(&mut self, i: usize) {
        let config = self.node_config(i);
        let node = common::start(&self.dir, &["platform", "serve"], &config, self.nodes[i].0).await;
        self.nodes[i].1 = Some(node);
    }

    /// kill -9: no goodbye, its requests in flight cut.
    fn kill_node(&mut self, i: usize) {
        drop(self.nodes[i].1.take());
    }

    async fn balancer(&self) -> Process {
        let servers: String = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (port, _))| format!("    server node{i} 127.0.0.1:{port}\n"))
            .collect();
        let text = format!(
            "global\n    maxconn 4000\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n\
             \x20   retries 2\n    retry-on conn-failure\n    option redispatch\n\
             frontend lots\n    bind {bind}:{front}\n\
             \x20   acl bolink_http path /bpd/upload.do /bpd/download.do\n\
             \x20   use_backend bolink_http if bolink_http\n    default_backend platform\n\
             backend platform\n    balance roundrobin\n    source {BALANCER_SOURCE}\n\
             \x20   option httpchk GET /healthz\n    http-check expect status 200\n\
             \x20   default-server send-proxy check check-send-proxy inter 300ms fall 2 rise 2\n{servers}\
             backend bolink_http\n    balance source\n    hash-type consistent\n    source {BALANCER_SOURCE}\n\
             \x20   option httpchk GET /healthz\n    http-check expect status 200\n\
             \x20   default-server send-proxy check check-send-proxy inter 300ms fall 2 rise 2\n{servers}",
            front = self.front,
            bind = self.front_bind,
        );
        let path = self.dir.join("haproxy.cfg");
        std::fs::write(&path, text).expect("haproxy config");
        let log = std::fs::File::create(self.dir.join("haproxy.log")).expect("log");
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("haproxy");
        let balancer = Process(child);
        wait_port(self.front, "haproxy").await;
        self.until_healthy().await;
        balancer
    }

    /// Until the balancer answers its health check (a node is up behind it).
    async fn until_healthy(&self) {
        let url = format!("http://127.0.0.1:{}/healthz", self.front);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !client().get(&url).send().await.is_ok_and(|r| r.status() == 200) {
            assert!(Instant::now() < deadline, "no healthy node behind the balancer; see {}", self.dir.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn start_lot(&mut self) {
        let config = self.dir.join("lot.toml");
        let top = format!("listen = \"{}:{}\"\n", self.lot_host, self.lane);
        let url = format!("http://{}:{}/api/v1/cp", self.lot_sees, self.front);
        let mqtt = if self.lot_mqtt { format!("mqtt_url = \"{}\"\n", self.mqtt) } else { String::new() };
        let staff = if self.lot_staff {
            let hash = onepark_lot::auth::hash_password(STAFF_PASSWORD).expect("hash");
            format!("[[auth.staff]]\nuser = \"ops\"\npassword = \"{hash}\"\n")
        } else {
            String::new()
        };
        let text = lot_toml("1001", &top, &self.dir.join("lot.db"), (2000, 1900), &url)
            + &mqtt
            + "[tariff]\nfree_minutes = 15\nprice = 300\ncycle_cap = 1200\n"
            + &staff;
        std::fs::write(&config, text).expect("lot config");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("log.txt")).expect("log");
        let mut command = match self.lot_prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(env!("CARGO_BIN_EXE_onepark"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_onepark")),
        };
        let child = command
            .args(["lot", "serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("lot gateway");
        self.lot = Some(Process(child));
        let deadline = Instant::now() + Duration::from_secs(30);
        while client().get(format!("{}/api/status", self.lot_url())).send().await.is_err() {
            assert!(Instant::now() < deadline, "the lot gateway did not start; see {}", self.dir.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if self.lot_staff {
            let login = self.lot_api().call("/api/login", json!({ "user": "ops", "password": STAFF_PASSWORD })).await;
            self.lot_token = Some(login["token"].as_str().expect("staff token").to_owned());
        }
    }

    /// An admin call through the balancer.
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = client().request(method, format!("http://127.0.0.1:{}{path}", self.front)).bearer_auth("t");
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("admin call");
        let status = response.status().as_u16();
        (status, serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or(Value::Null))
    }

    /// Black-lists `plate` at the lot, retrying while the platform answers 5xx.
    async fn list(&self, plate: &str) {
        let change = json!({ "accessId": "234", "plateNo": plate, "list": "black", "operate": "add",
            "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00", "remark": "fault" });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, sent) = self.admin(reqwest::Method::POST, "/api/admin/lists", Some(change.clone())).await;
            if status == 200 {
                assert_eq!(sent["sent"].as_array().map(Vec::len), Some(1), "{sent}");
                return;
            }
            assert!(Instant::now() < deadline, "list change refused: {status} {sent}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Until the lot confirmed the list entry of `plate`.
    async fn confirmed(&self, plate: &str) {
        let path = format!("/api/admin/lists?plateNo={}", encode(plate));
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (_, body) = self.admin(reqwest::Method::GET, &path, None).await;
            if body["items"].as_array().is_some_and(|i| i.len() == 1 && i[0]["delivery"] == "confirmed") {
                return;
            }
            assert!(Instant::now() < deadline, "{plate} not confirmed: {body}; see {}", self.dir.display());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends the lot had to repeat (cut off, refused with a 5xx): a figure for the log.
    async fn failed_attempts(&self) -> u64 {
        let url = format!("{}/metrics", self.lot_url());
        let text = client().get(url).send().await.expect("metrics").text().await.unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("onepark_lot_outbox_failed_attempts"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    async fn status(&self) -> Value {
        self.lot_api().read("/api/status").await
    }

    /// Until the lot has delivered everything (none refused).
    async fn drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let now = self.status().await;
            if now["outbox"]["pending"] == 0 {
                assert_eq!(now["outbox"]["refused"], 0, "{now}");
                return;
            }
            assert!(Instant::now() < deadline, "the outbox did not drain: {now}; see {}", self.dir.display());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The spec's reconciliation of `day` balances at once with `cars`
    /// entries and exits: nothing missing (re-sent), nothing extra.
    async fn balanced(&self, day: &str, cars: usize) {
        let reconciled = self.lot_api().call("/api/reconcile", json!({ "date": day })).await;
        let first = &reconciled["passes"][0];
        let counts =
            ["arriveNum", "leaveNum", "photoNum", "accountMark", "photoMark", "requeued"].map(|k| first[k].as_i64());
        let n = Some(cars as i64);
        assert_eq!(
            counts,
            [n, n, Some(2 * cars as i64), Some(0), Some(0), Some(0)],
            "{reconciled}; see {}",
            self.dir.display()
        );
        assert_eq!(reconciled["balanced"], true, "{reconciled}");
    }

    fn cleanup(mut self) {
        self.lot.take();
        for node in &mut self.nodes {
            node.1.take();
        }
        let dir = self.dir.clone();
        drop(self);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A lot gateway's API: where, and the staff token when it has `[auth]`.
#[derive(Clone)]
struct LotApi {
    base: String,
    token: Option<String>,
}

impl LotApi {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = client().request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A POST of JSON; its JSON answer.
    async fn call(&self, path: &str, body: Value) -> Value {
        let reply = self
            .request(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("lot gateway");
        serde_json::from_str(&reply.text().await.expect("body")).expect("JSON")
    }

    async fn read(&self, path: &str) -> Value {
        let text = self.request(reqwest::Method::GET, path).send().await.expect("lot gateway").text().await;
        serde_json::from_str(&text.expect("body")).expect("JSON")
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Yesterday in Qingdao: the lanes take no event times ahead of their clock.
fn yesterday() -> String {
    let local = chrono::Utc::now() + chrono::Duration::hours(8);
    (local.date_naive() - chrono::Duration::days(1)).to_string()
}

/// `cars` cars over the day, each in then out, every event with a photo;
/// `fault(k)` runs before event `k` (events in time order).
async fn traffic<F, Fut>(lot: &LotApi, day: &str, cars: usize, mut fault: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for (k, event) in day_events(cars).into_iter().enumerate() {
        fault(k).await;
        let reply = lane_call(lot, day, event).await;
        assert_eq!(reply["open"], true, "car {} at minute {}: {reply}", event.1, event.0);
    }
}

/// A day of `cars`: each enters (minute of the day, car, false) and leaves
/// (…, true) 10 minutes to 4 hours later, in time order.
fn day_events(cars: usize) -> Vec<(u32, usize, bool)> {
    let mut events = Vec::new();
    for i in 0..cars {
        let entry = 6 * 60 + (i as u32 * 12 * 60 / cars as u32);
        events.push((entry, i, false));
        events.push((entry + 10 + (i as u32 * 37) % 240, i, true));
    }
    events.sort();
    events
}

/// One of [`day_events`] at the lot's lanes (entry lane 1, exit lane 2 with
/// 12 yuan paid), with a photo; the lane's reply.
async fn lane_call(lot: &LotApi, day: &str, (minute, i, exit): (u32, usize, bool)) -> Value {
    let time = format!("{day} {:02}:{:02}:{:02}", (minute / 60).min(23), minute % 60, i % 60);
    let plate = format!("鲁B{i:05}");
    if exit {
        lot.call("/api/lanes/2/exit", json!({ "plateNo": plate, "time": time, "paid": 1200, "photo": JPEG })).await
    } else {
        lot.call("/api/lanes/1/entry", json!({ "plateNo": plate, "time": time, "photo": JPEG })).await
    }
}

/// kill -9 one of two nodes in the middle of the traffic, start it again
/// later: what it answered 200 is stored, what it was cut off from is sent
/// again by the lot's outbox (through the other node), nothing twice; a
/// list change made while it is dead reaches the lot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_one_of_two_nodes_under_load() {
    let test = "kill_9_one_of_two_nodes_under_load";
    let Some(mqtt) = needs(test) else { return };
    let Some(pg) = onepark_testkit::pg::PgSchema::new(test).await else { return };
    let cluster = Cluster::start("fault-kill", &pg.url, &mqtt).await;
    let day = yesterday();
    let cars = 150;
    let lot = cluster.lot_api();
    let cluster = std::sync::Arc::new(tokio::sync::Mutex::new(cluster));
    traffic(&lot, &day, cars, |k| {
        let cluster = cluster.clone();
        async move {
            let mut c = cluster.lock().await;
            if k == 100 {
                let pending = c.status().await["outbox"]["pending"].clone();
                eprintln!("kill -9 node0 with {pending} records pending at the lot");
                c.kill_node(0);
                c.list("鲁K00001").await;
            }
            if k == 200 {
                c.start_node(0).await;
            }
        }
    })
    .await;
    let cluster = std::sync::Arc::try_unwrap(cluster).ok().expect("one owner").into_inner();
    cluster.drained().await;
    eprintln!("attempts the lot had to repeat: {}", cluster.failed_attempts().await);
    cluster.balanced(&day, cars).await;
    cluster.confirmed("鲁K00001").await;
    cluster.cleanup();
    pg.drop().await;
}

/// A Bolink gateway in the HTTP mode behind the balancer, as
/// deploy/haproxy.cfg has it (`balance source` for `/bpd/*`: a login lives
/// in the node that took it). kill -9 of that node in the middle of the
/// traffic: the gateway's calls with the old token reach the other node,
/// which does not know it, so the gateway logs in there and its outbox
/// sends again what was cut off; the node comes back, the balancer's hash
/// sends the lot back to it, and it logs in again. Every stay is in the
/// city once, entered and left, and nothing the gateway sent is refused
/// (the exit's photo once went out as the entry's, `in`, and was refused
/// as a changed copy of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bolink_http_mode_behind_the_balancer_survives_its_node() {
    const KEY: &str = "TEST-ONLY-bolink-21860";
    let test = "bolink_http_mode_behind_the_balancer_survives_its_node";
    let Some(mqtt) = needs(test) else { return };
    let Some(pg) = onepark_testkit::pg::PgSchema::new(test).await else { return };
    let mut cluster = Cluster::platform_on("fault-bolink", &pg.url, &mqtt, "127.0.0.1").await;
    let args = ["platform", "lots", "add", "--protocol", "bolink", "--park-id", "21860", "--key", KEY];
    let args = [&args[..], &["--parking-code", "BL060", "--berths", "500"]].concat();
    common::onepark(&args, &cluster.node_config(0));
    // Both nodes up behind the balancer before the lot logs in, so the
    // source hash sends it to its node from the first call on.
    common::until("both nodes behind the balancer", || async {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..6 {
            let url = format!("http://127.0.0.1:{}/healthz", cluster.front);
            if let Ok(r) = client().get(url).send().await {
                seen.insert(r.text().await.unwrap_or_default());
            }
        }
        (seen.len() < 2).then(|| json!(seen))
    })
    .await;
    let config = cluster.dir.join("bolink-lot.toml");
    let text = format!(
        "parking_code = \"BL060\"\nlisten = \"127.0.0.1:{lane}\"\ndatabase = \"sqlite://{db}\"\n\
         [berths]\ntotal = 500\nopen = 400\n\
         [[lanes]]\nid = \"1\"\ndirection = \"entry\"\n[[lanes]]\nid = \"2\"\ndirection = \"exit\"\n\
         [tariff]\nfree_minutes = 15\nperiod_minutes = 60\nprice = 300\ncycle_cap = 1200\n\
         [bolink]\nurl = \"http://127.0.0.1:{front}\"\npark_id = \"21860\"\nkey = \"{KEY}\"\n",
        lane = cluster.lane,
        db = cluster.dir.join("bolink-lot.db").display(),
        front = cluster.front,
    );
    std::fs::write(&config, text).expect("lot config");
    cluster.lot = Some(common::start(&cluster.dir, &["lot", "serve"], &config, cluster.lane).await);
    let day = yesterday();
    let cars = 60;
    let lot = cluster.lot_api();
    let events = day_events(cars);
    let half = events.len() / 2;
    let mut holder = None;
    for (k, event) in events.into_iter().enumerate() {
        if k == half {
            let i = bolink_holder(&cluster).await;
            eprintln!("kill -9 node{i}, which holds the Bolink login");
            cluster.kill_node(i);
            holder = Some(i);
        }
        if k == half + 30 {
            let i = holder.expect("killed");
            common::until("the lot logged in at the other node", || async {
                let counts = logins(&cluster).await;
                (counts[1 - i] == 0).then(|| json!(counts))
            })
            .await;
            cluster.start_node(i).await;
        }
        let reply = lane_call(&lot, &day, event).await;
        assert_eq!(reply["open"], true, "car {} at minute {}: {reply}", event.1, event.0);
    }
    let drained = || async {
        let status = cluster.status().await;
        assert_eq!(status["bolink"]["refused"], 0, "nothing refused: {status}");
        (status["bolink"]["pending"] != 0).then_some(status)
    };
    common::until("the Bolink outbox drained", drained).await;
    // Back on its node at the latest when its long poll (held up to 30 s) ends.
    common::until("the lot logged in at each node in turn", || async {
        let counts = logins(&cluster).await;
        counts.contains(&0).then(|| json!(counts))
    })
    .await;
    common::until("the Bolink outbox drained again", drained).await;
    let (_, page) =
        cluster.admin(reqwest::Method::GET, "/api/admin/records?parkingCode=BL060&pageSize=500", None).await;
    let records = page["items"].as_array().cloned().unwrap_or_default();
    let mut plates: Vec<&str> = records.iter().filter_map(|r| r["plateNo"].as_str()).collect();
    plates.sort_unstable();
    plates.dedup();
    assert_eq!((records.len(), plates.len()), (cars, cars), "each stay once: {page}");
    assert!(records.iter().all(|r| !r["endTime"].is_null()), "every stay left: {page}");
    cluster.cleanup();
    pg.drop().await;
}

/// Successful Bolink logins each node counted (its own `/metrics`; a
/// node that is down counts 0).
async fn logins(cluster: &Cluster) -> Vec<u64> {
    let mut counts = Vec::new();
    for (port, _) in &cluster.nodes {
        let text = match client().get(format!("http://127.0.0.1:{port}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let n = text
            .lines()
            .filter(|l| l.starts_with("onepark_bolink_messages") && l.contains("login") && l.contains("\"true\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        counts.push(n);
    }
    counts
}

/// The node holding the lot's Bolink login: the one that answered it.
async fn bolink_holder(cluster: &Cluster) -> usize {
    let counts = logins(cluster).await;
    let held: Vec<usize> = (0..counts.len()).filter(|i| counts[*i] > 0).collect();
    assert_eq!(held.len(), 1, "one node took the login: {counts:?}");
    held[0]
}

/// The balancer's source address must be one the nodes trust: any other
/// client that sends a PROXY line is not believed (its request fails as
/// HTTP), and a plain request from an untrusted address is served.
#[tokio::test]
async fn only_the_trusted_balancer_may_name_the_client() {
    let test = "only_the_trusted_balancer_may_name_the_client";
    let Some(mqtt) = needs(test) else { return };
    let Some(pg) = onepark_testkit::pg::PgSchema::new(test).await else { return };
    let cluster = Cluster::start("fault-proxy", &pg.url, &mqtt).await;
    let node = cluster.nodes[0].0;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let raw = |text: String| async move {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", node)).await.expect("connect");
        s.write_all(text.as_bytes()).await.expect("send");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer).await;
        answer
    };
    let plain = raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    let forged =
        raw("PROXY TCP4 203.0.113.9 127.0.0.1 1 2\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            .into())
        .await;
    assert!(forged.starts_with("HTTP/1.1 400"), "a PROXY line from a client is not HTTP: {forged}");
    // Through the balancer the health check answers (HAProxy sent the PROXY line from the trusted source).
    let through = client().get(format!("http://127.0.0.1:{}/healthz", cluster.front)).send().await.expect("front");
    assert_eq!(through.status(), 200);
    cluster.cleanup();
    pg.drop().await;
}

/// A Mosquitto of the test's own, to stop and start (`mosquitto -p`, loopback only).
struct Broker {
    port: u16,
    process: Option<Process>,
    log: PathBuf,
}

impl Broker {
    async fn start(dir: &std::path::Path) -> Option<Broker> {
        if Command::new("mosquitto").arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            return None;
        }
        let mut broker = Broker { port: free_port(), process: None, log: dir.join("mosquitto.log") };
        broker.up().await;
        Some(broker)
    }

    fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    async fn up(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log");
        let child = Command::new("mosquitto")
            .args(["-p", &self.port.to_string()])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("mosquitto");
        self.process = Some(Process(child));
        wait_port(self.port, "mosquitto").await;
    }

    /// kill -9: every session and queued message it held is gone.
    fn down(&mut self) {
        self.process.take();
    }
}

/// A PostgreSQL server of the test's own (initdb in a temporary directory,
/// run as the `postgres` user), to stop hard and start again.
struct Database {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Database {
    /// `None` (after the skip notice) without the server binaries or root.
    fn start(test: &str, dir: &std::path::Path) -> Option<Database> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| versions.flatten().map(|v| v.path().join("bin")).find(|b| b.join("initdb").exists()));
        let Some(bin) = bin else {
            onepark_testkit::skip(test, "PostgreSQL's server binaries are not installed (apt-get install postgresql)");
            return None;
        };
        let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !root {
            onepark_testkit::skip(test, "runs PostgreSQL as its own user: needs root");
            return None;
        }
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).expect("pgdata");
        let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status().expect("chown");
        assert!(chown.success());
        let database = Database { bin, data, port: free_port() };
        database.as_postgres(&["initdb", "-A", "trust", "-U", "postgres", "-D"], true);
        database.up();
        Some(database)
    }

    fn as_postgres(&self, args: &[&str], with_data: bool) {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(self.bin.join(args[0])).args(&args[1..]);
        if with_data {
            command.arg(&self.data);
        }
        let out = command.output().expect("runuser");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn up(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.data.display());
        let log = self.data.join("server.log");
        let log = log.to_str().expect("path");
        self.as_postgres(&["pg_ctl", "-w", "-o", &options, "-l", log, "start", "-D"], true);
    }

    /// Stopped as by a crash (`-m immediate`): no checkpoint, connections cut.
    fn down(&self) {
        self.as_postgres(&["pg_ctl", "-w", "-m", "immediate", "stop", "-D"], true);
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-w", "-m", "immediate", "stop", "-D"])
            .arg(&self.data)
            .output();
    }
}

/// The broker is killed (its sessions and queues gone) while traffic flows
/// and a list change waits to be published, and started again: the nodes
/// reconnect and publish every unconfirmed downlink again, the lot
/// reconnects, confirms the change; records never depended on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_restarts_under_load() {
    let test = "the_broker_restarts_under_load";
    if needs(test).is_none() {
        return;
    }
    let dir = fresh_dir("fault-broker-own");
    let Some(broker) = Broker::start(&dir).await else {
        onepark_testkit::skip(test, "mosquitto is not installed");
        return;
    };
    let Some(pg) = onepark_testkit::pg::PgSchema::new(test).await else { return };
    let cluster = Cluster::start("fault-broker", &pg.url, &broker.url()).await;
    let (day, cars, lot) = (yesterday(), 150, cluster.lot_api());
    let shared = std::sync::Arc::new(tokio::sync::Mutex::new((cluster, broker)));
    traffic(&lot, &day, cars, |k| {
        let shared = shared.clone();
        async move {
            let mut guard = shared.lock().await;
            let (cluster, broker) = &mut *guard;
            if k == 100 {
                broker.down();
                cluster.list("鲁K00002").await;
            }
            if k == 140 {
                broker.up().await;
            }
        }
    })
    .await;
    let (cluster, broker) = std::sync::Arc::try_unwrap(shared).ok().expect("one owner").into_inner();
    cluster.drained().await;
    cluster.balanced(&day, cars).await;
    cluster.confirmed("鲁K00002").await;
    cluster.cleanup();
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
    pg.drop().await;
}

/// PostgreSQL stops hard under load and comes back: while it is down the
/// nodes answer 500 (and /healthz 503, so HAProxy answers 503 itself),
/// nothing is answered 200 that was not committed, and the nodes recover
/// without a restart; the lot's outbox then drains and reconciliation
/// balances at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarts_under_load() {
    let test = "the_database_restarts_under_load";
    let Some(mqtt) = needs(test) else { return };
    let dir = fresh_dir("fault-database-own");
    let Some(database) = Database::start(test, &dir) else { return };
    let cluster = Cluster::start("fault-database", &database.url(), &mqtt).await;
    let (day, cars, lot) = (yesterday(), 150, cluster.lot_api());
    let shared = std::sync::Arc::new(tokio::sync::Mutex::new((cluster, database)));
    traffic(&lot, &day, cars, |k| {
        let shared = shared.clone();
        async move {
            let guard = shared.lock().await;
            let (cluster, database) = &*guard;
            if k == 100 {
                database.down();
                let node = cluster.nodes[0].0;
                let url = format!("http://127.0.0.1:{node}/healthz");
                let deadline = Instant::now() + Duration::from_secs(10);
                // A node's pooled connections notice the loss on their next use.
                loop {
                    let status = client().get(&url).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                    if status == 503 {
                        break;
                    }
                    assert!(Instant::now() < deadline, "a node without its database still says {status}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let pending = cluster.status().await["outbox"]["pending"].clone();
                eprintln!("database down, the lot holds {pending} records");
            }
            if k == 160 {
                database.up();
            }
        }
    })
    .await;
    let (cluster, database) = std::sync::Arc::try_unwrap(shared).ok().expect("one owner").into_inner();
    cluster.drained().await;
    cluster.balanced(&day, cars).await;
    cluster.cleanup();
    drop(database);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small tmpfs of the test's own, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(test: &str, at: &std::path::Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            onepark_testkit::skip(test, "cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(SmallDisk(at.to_path_buf()))
    }

    /// Fills the disk to the last byte.
    fn fill(&self) -> u64 {
        use std::io::Write as _;
        let mut file = std::fs::File::create(self.0.join("filler")).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        while let Ok(n) = file.write(&chunk) {
            if n == 0 {
                break;
            }
            written += n as u64;
        }
        let _ = file.flush();
        written
    }

    fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).expect("free the disk");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A single node on SQLite whose database and photos live on a small disk
/// that fills up under load: it answers 500 (nothing it cannot store is
/// answered 200), the lot keeps its records, and once space returns the
/// node goes on without a restart; the database passes SQLite's integrity
/// check and reconciliation balances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_sqlite() {
    let test = "a_full_disk_under_sqlite";
    let dir = fresh_dir("fault-disk");
    let Some(disk) = SmallDisk::mount(test, &dir.join("small"), "16m") else { return };
    let db = disk.0.join("p.db");
    let pair = Pair::start(&dir, &db, &disk.0.join("photos"), &dir.join("lot.db")).await;
    let lot = pair.lot.clone();
    let status = || {
        let lot = lot.clone();
        async move { lot.read("/api/status").await }
    };

    let (day, cars) = (yesterday(), 150);
    let disk = std::sync::Arc::new(disk);
    let full = disk.clone();
    traffic(&lot, &day, cars, move |k| {
        let full = full.clone();
        async move {
            if k == 60 {
                let filled = full.fill();
                eprintln!("disk full ({filled} bytes of filler)");
            }
            if k == 200 {
                // The records of the full minutes wait at the lot, none refused as the record's fault.
                let now = status().await;
                assert!(
                    now["outbox"]["pending"].as_i64().unwrap_or(0) > 0,
                    "nothing held back by the full disk: {now}"
                );
                assert_eq!(now["outbox"]["refused"], 0, "{now}");
                full.free();
                eprintln!("disk space back");
            }
        }
    })
    .await;
    pair.drained_and_balanced(&day, &disk.0).await;
    drop(pair);
    intact(&db);
    drop(disk);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One platform node on SQLite (no broker) with lot 1001 of accessID 234,
/// and that lot's gateway; databases and photos where the test puts them.
struct Pair {
    dir: PathBuf,
    lot: LotApi,
    // Dropped (stopped) in this order: the gateway first.
    _lot: Process,
    _platform: Process,
}

impl Pair {
    async fn start(
        dir: &std::path::Path,
        db: &std::path::Path,
        photos: &std::path::Path,
        lot_db: &std::path::Path,
    ) -> Pair {
        let (http, lane) = (free_port(), free_port());
        let config = dir.join("platform.toml");
        let text = format!(
            "listen = \"127.0.0.1:{http}\"\ndatabase = \"sqlite://{db}\"\nmqtt_listen = \"off\"\nadmin_token = \"t\"\n\
             photo_dir = \"{photos}\"\n[keys]\nprivate_key = \"{key}\"\n{lots}",
            db = db.display(),
            photos = photos.display(),
            key = key_path("platform_private.b64").display(),
            lots = lot_access("234", &["1001"]),
        );
        std::fs::write(&config, text).expect("config");
        let platform = common::start(dir, &["platform", "serve"], &config, http).await;
        let lot_config = dir.join("lot.toml");
        let top = format!("listen = \"127.0.0.1:{lane}\"\n");
        let url = format!("http://127.0.0.1:{http}/api/v1/cp");
        let lot_text = lot_toml("1001", &top, lot_db, (2000, 1900), &url)
            + "[tariff]\nfree_minutes = 15\nprice = 300\ncycle_cap = 1200\n";
        std::fs::write(&lot_config, lot_text).expect("lot config");
        let lot_process = common::start(dir, &["lot", "serve"], &lot_config, lane).await;
        let lot = LotApi { base: format!("http://127.0.0.1:{lane}"), token: None };
        Pair { dir: dir.to_owned(), lot, _lot: lot_process, _platform: platform }
    }

    /// The lot's outbox drains (nothing set aside) and the day balances at
    /// the first pass with nothing to send again; the reconciliation's answer.
    /// When it does not, the small disk's usage and the logs' tail are printed.
    async fn drained_and_balanced(&self, day: &str, disk: &std::path::Path) -> Value {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let now = self.lot.read("/api/status").await;
            if now["outbox"]["pending"] == 0 {
                assert_eq!(now["outbox"]["refused"], 0, "{now}");
                break;
            }
            assert!(Instant::now() < deadline, "the outbox did not drain after the disk had room again: {now}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let reconciled = self.lot.call("/api/reconcile", json!({ "date": day })).await;
        if reconciled["balanced"] != true {
            let df = Command::new("df").arg("-k").arg(disk).output().map(|o| o.stdout).unwrap_or_default();
            let log = std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
            eprintln!("{}\n--- log tail ---\n{}", String::from_utf8_lossy(&df), tail.join("\n"));
        }
        assert_eq!(reconciled["passes"][0]["requeued"], 0, "{reconciled}");
        assert_eq!(reconciled["balanced"], true, "{reconciled}");
        reconciled
    }
}

/// SQLite's integrity check passes on `db` (when the sqlite3 tool is there).
fn intact(db: &std::path::Path) {
    if Command::new("sqlite3").arg("-version").output().is_ok() {
        let check = Command::new("sqlite3").arg(db).arg("PRAGMA integrity_check;").output().expect("sqlite3");
        assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok", "{}", String::from_utf8_lossy(&check.stderr));
    }
}

/// The lot gateway's own disk fills up (its database on a small tmpfs): a
/// lane call it cannot record is answered with an error, never as if it
/// were kept; once space returns the same calls succeed, the outbox drains
/// and the day balances at the platform; the lot's database passes
/// SQLite's integrity check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_at_the_lot() {
    let test = "a_full_disk_at_the_lot";
    let dir = fresh_dir("fault-lot-disk");
    let Some(disk) = SmallDisk::mount(test, &dir.join("small"), "8m") else { return };
    let lot_db = disk.0.join("lot.db");
    let pair = Pair::start(&dir, &dir.join("p.db"), &dir.join("photos"), &lot_db).await;
    let lot = pair.lot.clone();

    let (day, cars) = (yesterday(), 150);
    let (mut refused, mut full) = (Vec::new(), false);
    for (k, event) in day_events(cars).into_iter().enumerate() {
        if k == 60 {
            eprintln!("lot disk full ({} bytes of filler)", disk.fill());
            full = true;
        }
        if k == 200 {
            disk.free();
            full = false;
            eprintln!("lot disk space back; {} lane calls were refused while it was full", refused.len());
            // What the lanes could not record, they ask again (a booth would).
            for again in std::mem::take(&mut refused) {
                let reply = lane_call(&lot, &day, again).await;
                assert_eq!(reply["open"], true, "car {} again after the disk had room: {reply}", again.1);
            }
        }
        let reply = lane_call(&lot, &day, event).await;
        if reply["open"] != true {
            assert!(full, "car {} refused with room on the disk: {reply}", event.1);
            refused.push(event);
        }
    }
    assert!(refused.is_empty(), "left over: {refused:?}");
    let reconciled = pair.drained_and_balanced(&day, &disk.0).await;
    assert_eq!(reconciled["passes"][0]["arriveNum"], cars, "{reconciled}");
    drop(pair);
    intact(&lot_db);
    drop(disk);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A network namespace for the lot gateway with two veth pairs to the host:
/// `uplink` (10.231.N.0/24: the lot's way to the balancer, which the
/// partition takes down) and `control` (10.232.N.0/24: the test's way to
/// the lot's API, always up). Removed when dropped.
struct Namespace {
    name: String,
    id: u32,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip").args(args).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

impl Namespace {
    fn create(test: &str) -> Option<Namespace> {
        let id = std::process::id() % 200 + 20;
        let name = format!("opk{}", std::process::id());
        if !ip(&["netns", "add", &name]) {
            onepark_testkit::skip(test, "cannot make a network namespace (needs root and iproute2)");
            return None;
        }
        let ns = Namespace { name, id };
        for (side, net) in [("u", 231), ("c", 232)] {
            let (host, peer) = ns.pair(side);
            let ok = ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer])
                && ip(&["link", "set", &peer, "netns", &ns.name])
                && ip(&["addr", "add", &format!("10.{net}.{id}.1/24"), "dev", &host])
                && ip(&["link", "set", &host, "up"])
                && ip(&["netns", "exec", &ns.name, "ip", "addr", "add", &format!("10.{net}.{id}.2/24"), "dev", &peer])
                && ip(&["netns", "exec", &ns.name, "ip", "link", "set", &peer, "up"]);
            assert!(ok, "cannot wire the namespace's {side} link");
        }
        assert!(ip(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]));
        Some(ns)
    }

    fn pair(&self, side: &str) -> (String, String) {
        (format!("opk{side}h{}", self.id), format!("opk{side}n{}", self.id))
    }

    /// The lot's uplink (to the platform and the broker) up or down.
    fn uplink(&self, up: bool) {
        assert!(ip(&["link", "set", &self.pair("u").0, if up { "up" } else { "down" }]));
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.name]);
        for side in ["u", "c"] {
            ip(&["link", "del", &self.pair(side).0]);
        }
    }
}

/// A lot cut off from the platform for minutes (`ip link set … down` on its
/// only way there) while its lanes go on: every record waits in its outbox,
/// and once the link is back the outbox drains and reconciliation balances
/// at its first pass. `PARTITION_SECS` (default 120) sets how long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: run by bash .ci/faults"]
async fn a_lot_partitioned_from_the_platform_for_minutes() {
    let test = "a_lot_partitioned_from_the_platform_for_minutes";
    let Some(mqtt) = needs(test) else { return };
    let Some(ns) = Namespace::create(test) else { return };
    let Some(pg) = onepark_testkit::pg::PgSchema::new(test).await else { return };
    let mut cluster = Cluster::platform_on("fault-partition", &pg.url, &mqtt, "0.0.0.0").await;
    cluster.lot_host = format!("10.232.{}.2", ns.id);
    cluster.lot_sees = format!("10.231.{}.1", ns.id);
    cluster.lot_prefix = ["ip", "netns", "exec", &ns.name].map(str::to_owned).to_vec();
    cluster.lot_mqtt = false;
    cluster.lot_staff = true;
    cluster.start_lot().await;
    let hold = Duration::from_secs(std::env::var("PARTITION_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120));
    let (day, cars, lot) = (yesterday(), 150, cluster.lot_api());
    let cut = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    let ns = std::sync::Arc::new(ns);
    {
        let (cut, ns) = (cut.clone(), ns.clone());
        traffic(&lot, &day, cars, move |k| {
            if k == 100 {
                ns.uplink(false);
                *cut.lock().expect("cut") = Some(Instant::now());
                eprintln!("the lot is cut off from the platform for {} s", hold.as_secs());
            }
            std::future::ready(())
        })
        .await;
    }
    let now = cluster.status().await;
    assert!(now["outbox"]["pending"].as_i64().unwrap_or(0) >= 100, "the cut-off lot holds its records: {now}");
    let since = cut.lock().expect("cut").expect("cut off");
    tokio::time::sleep(hold.saturating_sub(since.elapsed())).await;
    eprintln!("link back with {} records pending", cluster.status().await["outbox"]["pending"]);
    ns.uplink(true);
    cluster.drained().await;
    cluster.balanced(&day, cars).await;
    cluster.cleanup();
    drop(ns);
    pg.drop().await;
}
