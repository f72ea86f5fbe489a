//! Helpers shared by the binary's end-to-end tests (the rest is in
//! onepark-testkit).

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
