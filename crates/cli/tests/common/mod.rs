//! Helpers shared by the binary's end-to-end tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub mod webdriver;

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// Waits until something listens on `port` (a child process started), at most 20 s.
pub async fn wait_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not start listening on {port}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
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
        .stdout(Stdio::null())
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

/// A fresh directory for one test's files (removed first if a run left it).
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("onepark-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// A platform config in `dir` on the given ports, admin token `t`, the test
/// platform key; `lots` is appended as is (`[[lots]]` tables, or nothing).
pub fn platform_config(dir: &Path, http: u16, mqtt: u16, lots: &str) -> PathBuf {
    let path = dir.join("platform.toml");
    let text = format!(
        "listen = \"127.0.0.1:{http}\"\nmqtt_listen = \"127.0.0.1:{mqtt}\"\ndatabase = \"sqlite://{db}\"\n\
         admin_token = \"t\"\n[keys]\nprivate_key = \"{pk}\"\n{lots}",
        db = dir.join("platform.db").display(),
        pk = keys_dir().join("platform_private.b64").display(),
    );
    std::fs::write(&path, text).expect("platform config");
    path
}
