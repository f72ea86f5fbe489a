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
