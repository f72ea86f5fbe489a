//! Helpers shared by the binary's end-to-end tests (the rest is in
//! onepark-testkit).

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use std::process::{Child, Command};

use onepark_testkit::config::platform_toml;
use onepark_testkit::net::wait_port;

pub mod webdriver;

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP client per test binary: building one loads the TLS roots (tens of ms).
pub fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// Starts `onepark ARGS --config CONFIG` (its log appended to `dir/log.txt`)
/// and waits until it listens on `port`.
pub async fn start(dir: &Path, args: &[&str], config: &Path, port: u16) -> Process {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("log.txt")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(args)
        .arg("--config")
        .arg(config)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start");
    wait_port(port, &format!("{args:?} (log in {})", dir.display())).await;
    Process(child)
}

/// GET a JSON document with the tests' admin token (`t`).
pub async fn get(url: String) -> serde_json::Value {
    let text = client().get(url).bearer_auth("t").send().await.expect("get").text().await;
    serde_json::from_str(&text.expect("body")).expect("JSON")
}

/// A platform config in `dir` on the given ports, admin token `t`, the test
/// platform key; `lots` is appended as is (`[[lots]]` tables, or nothing).
pub fn platform_config(dir: &Path, http: u16, mqtt: u16, lots: &str) -> PathBuf {
    let path = dir.join("platform.toml");
    let top = format!("listen = \"127.0.0.1:{http}\"\nmqtt_listen = \"127.0.0.1:{mqtt}\"\nadmin_token = \"t\"\n");
    std::fs::write(&path, platform_toml(&top, &dir.join("platform.db"), lots)).expect("platform config");
    path
}

/// The parking cloud's sign, written out independently of onepark's code:
/// non-empty parameters but `sign`, ASCII order, `name=value` joined with
/// `&`, `&key=` + secret, MD5, upper hex.
pub fn vendor_sign(params: &[(&str, String)], key: &str) -> String {
    use md5::{Digest, Md5};
    let mut sorted: Vec<&(&str, String)> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let joined: Vec<String> = sorted.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let text = format!("{}&key={key}", joined.join("&"));
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02X}")).collect()
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A lane event posted to a gateway: its decision.
pub async fn lane(port: u16, path: &str, body: Value) -> Value {
    let reply = client()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("lane");
    serde_json::from_str(&reply.text().await.expect("body")).expect("JSON")
}

/// Runs `onepark ARGS --config CONFIG`, which must succeed; its stdout.
pub fn onepark(args: &[&str], config: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run onepark");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The console account the tests log in with, and its password.
pub const TESTER: (&str, &str) = ("tester", "tester password 1");

/// Makes an account with `onepark platform users add NAME --role ROLE
/// [--lot L]…`, the password given on standard input (as a script would).
pub fn add_user(config: &Path, name: &str, role: &str, lots: &[&str], password: &str) {
    use std::io::Write as _;
    let mut args = vec!["platform", "users", "add", name, "--role", role];
    for lot in lots {
        args.extend(["--lot", lot]);
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(&args)
        .arg("--config")
        .arg(config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run onepark");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("password");
    let out = child.wait_with_output().expect("onepark");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(password), "a given password is not echoed");
}

/// Logs in to the console at `base` as `name`: the session cookie (`name=value`).
pub async fn console_login(base: &str, name: &str, password: &str) -> String {
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = no_redirect
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name={}&password={}", enc(name), enc(password)))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303, "login as {name}");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A gateway's JSON answer to a GET.
pub async fn lot_get(port: u16, path: &str) -> Value {
    let text = client().get(format!("http://127.0.0.1:{port}{path}")).send().await.expect("lot").text().await;
    serde_json::from_str(&text.expect("body")).expect("JSON")
}

/// A call of the parking cloud's API signed by `pid` with `key`.
pub async fn cloud_call(base: &str, pid: &str, key: &str, service: &str, biz: &Value) -> Value {
    let biz = biz.to_string();
    let ts = unix_now();
    let params = [
        ("pid", pid.to_owned()),
        ("serviceName", service.to_owned()),
        ("timestamp", ts.to_string()),
        ("bizContent", biz.clone()),
    ];
    let sign = vendor_sign(&params, key);
    let body =
        format!(r#"{{"pid":"{pid}","serviceName":"{service}","timestamp":{ts},"bizContent":{biz},"sign":"{sign}"}}"#);
    let reply = client()
        .post(format!("{base}/cloudparkapi/api/{service}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("cloud API");
    let text = reply.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Waits up to 60 s for `check` to hold.
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match check().await {
            None => return,
            Some(seen) if Instant::now() > deadline => panic!("{what}; last seen: {seen}"),
            Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A lane's barrier controller: `examples/barrier_controller.py` (the
/// documented sample) when python3 is here, else the same in Rust.
pub enum Controller {
    Python { _child: Process, orders: std::path::PathBuf, read: usize },
    Rust { task: tokio::task::JoinHandle<()>, orders: tokio::sync::mpsc::UnboundedReceiver<Value> },
}

impl Controller {
    pub fn start(dir: &Path, port: u16, lane: &'static str) -> Controller {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/barrier_controller.py");
        let orders = dir.join("orders.jsonl");
        let child = std::process::Command::new("python3")
            .arg(&script)
            .env("ONEPARK_GATEWAY", format!("http://127.0.0.1:{port}"))
            .env("ONEPARK_LANE", lane)
            .env("ONEPARK_ORDERS", &orders)
            .stdout(std::process::Stdio::null())
            .spawn();
        match child {
            Ok(child) => Controller::Python { _child: Process(child), orders, read: 0 },
            Err(_) => {
                eprintln!(
                    "python3 missing: lane {lane}'s controller is the test's own (examples/barrier_controller.py not run)"
                );
                let (tx, orders) = tokio::sync::mpsc::unbounded_channel();
                Controller::Rust { task: controller(port, lane, tx), orders }
            }
        }
    }

    /// The next order the controller received (and acknowledged).
    pub async fn next_order(&mut self) -> Value {
        match self {
            Controller::Python { orders, read, .. } => {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let text = std::fs::read_to_string(&*orders).unwrap_or_default();
                    if let Some(line) = text.lines().nth(*read) {
                        *read += 1;
                        return serde_json::from_str(line).expect("an order");
                    }
                    assert!(Instant::now() < deadline, "the controller received no order");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Controller::Rust { orders, .. } => orders.recv().await.expect("an order"),
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Controller::Rust { task, .. } = self {
            task.abort();
        }
    }
}

/// A barrier controller in Rust: reads lane `lane`'s command stream and
/// acknowledges every order; sends each order it saw on `seen`.
fn controller(
    port: u16,
    lane: &'static str,
    seen: tokio::sync::mpsc::UnboundedSender<Value>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut response = client()
            .get(format!("http://127.0.0.1:{port}/api/lanes/{lane}/commands"))
            .send()
            .await
            .expect("the command stream");
        assert_eq!(response.status(), 200);
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) else { continue };
                let order: Value = serde_json::from_str(data.trim()).expect("an order");
                let id = order["id"].as_u64().expect("id");
                let ack = lane_ack(port, lane, id).await;
                assert_eq!(ack, 200, "the ack of {order}");
                let _ = seen.send(order);
            }
        }
    })
}

pub async fn lane_ack(port: u16, lane: &str, id: u64) -> u16 {
    client()
        .post(format!("http://127.0.0.1:{port}/api/lanes/{lane}/commands/{id}/ack"))
        .header("content-type", "application/json")
        .body(json!({ "ok": true }).to_string())
        .send()
        .await
        .expect("ack")
        .status()
        .as_u16()
}

pub const CSRF: &str = "0000000000000000000000000000beef";

pub fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A driver page form with its CSRF token, not following the redirect: its Location.
pub async fn form(base: &str, path: &str, form: &str) -> String {
    form_with(base, path, form, "").await
}

/// [`form`] with more cookies (a plate's proof).
pub async fn form_with(base: &str, path: &str, form: &str, cookies: &str) -> String {
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = no_redirect
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("op_csrf={CSRF}; {cookies}"))
        .body(format!("{form}&csrf={CSRF}"))
        .send()
        .await
        .expect("form");
    assert_eq!(response.status(), 303, "{path}: {:?}", response.text().await);
    response.headers()["location"].to_str().expect("location").to_owned()
}

/// A driver pays a stay on the driver pages: the fee asked of its lot, the
/// quote showing `price` once the lot answered, paid; the receipt's address.
pub async fn pay_stay(base: &str, plate: &str, price: &str) -> String {
    let quote = form(base, "/pay/fee", &format!("plate={}", enc(plate))).await;
    until("the lot's fee on the quote page", || async {
        let page = client().get(format!("{base}{quote}")).send().await.expect("quote").text().await.unwrap_or_default();
        (!page.contains("id=\"fee\"")).then(|| json!(page))
    })
    .await;
    let page = client().get(format!("{base}{quote}")).send().await.expect("quote").text().await.expect("page");
    assert!(page.contains(price), "two started hours at 3 yuan, as the lot prices it: {page}");
    let receipt = form(base, &pay_url(&quote), "").await;
    assert!(receipt.starts_with("/pay/receipt/"), "{receipt}");
    receipt
}

/// A quote's pay action from its address.
pub fn pay_url(quote: &str) -> String {
    let (path, query) = quote.split_once('?').unwrap_or((quote, ""));
    format!("{path}/pay?{query}")
}

pub fn local(offset_minutes: i64) -> String {
    let zone = onepark_domain::time::Zone::default();
    onepark_domain::time::format_time(zone.local(chrono::Utc::now()) + chrono::Duration::minutes(offset_minutes))
}
