//! `onepark lot serve` and `onepark platform serve`, both real binaries: the
//! lot takes traffic while the platform is down, is killed with SIGKILL,
//! restarts, and once the platform is up every record arrives exactly once
//! and the day reconciles to accountMark 0.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{Process, free_port, keys_dir};

async fn start(dir: &Path, args: &[&str], config: &Path, port: u16) -> Process {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("log.txt")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(args)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "{args:?} did not listen on {port}; see {}", dir.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Process(child)
}

async fn post(port: u16, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("call");
    serde_json::from_str(&response.text().await.expect("body")).expect("JSON")
}

async fn status(port: u16) -> Value {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/api/status")).await.expect("status").text().await;
    serde_json::from_str(&text.expect("body")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_survive_an_outage_and_a_kill_and_the_day_reconciles() {
    let dir = std::env::temp_dir().join(format!("onepark-lot-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let keys = keys_dir();
    let (http, mqtt, lane) = (free_port(), free_port(), free_port());
    let platform_config = dir.join("platform.toml");
    std::fs::write(
        &platform_config,
        format!(
            "listen = \"127.0.0.1:{http}\"\nmqtt_listen = \"127.0.0.1:{mqtt}\"\ndatabase = \"sqlite://{db}\"\n\
             admin_token = \"t\"\n[keys]\nprivate_key = \"{pk}\"\n[[lots]]\naccess_id = \"234\"\npublic_key = \"{lot}\"\n\
             parking_codes = [\"1001\"]\n",
            db = dir.join("platform.db").display(),
            pk = keys.join("platform_private.b64").display(),
            lot = keys.join("lot_public.b64").display(),
        ),
    )
    .expect("platform config");
    let lot_config = dir.join("lot.toml");
    std::fs::write(
        &lot_config,
        format!(
            "parking_code = \"1001\"\nlisten = \"127.0.0.1:{lane}\"\ndatabase = \"sqlite://{db}\"\n\
             [berths]\ntotal = 100\nopen = 90\n[[lanes]]\nid = \"1\"\ndirection = \"entry\"\n\
             [[lanes]]\nid = \"2\"\ndirection = \"exit\"\n[tariff]\nfree_minutes = 15\nprice = 300\ncycle_cap = 1200\n\
             [platform]\nurl = \"http://127.0.0.1:{http}/api/v1/cp\"\naccess_id = \"234\"\n\
             private_key = \"{lk}\"\nplatform_public_key = \"{pp}\"\nmqtt_url = \"mqtt://127.0.0.1:{mqtt}\"\n",
            db = dir.join("lot.db").display(),
            lk = keys.join("lot_private.b64").display(),
            pp = keys.join("platform_public.b64").display(),
        ),
    )
    .expect("lot config");

    // The platform is down all morning: 20 cars come, 10 leave.
    let lot = start(&dir, &["lot", "serve"], &lot_config, lane).await;
    for i in 0..20 {
        let at = format!("2026-11-23 {:02}:{:02}:00", 7 + i / 10, (i % 10) * 5);
        let reply = post(lane, "/api/lanes/1/entry", json!({ "plateNo": format!("鲁B1{i:04}"), "time": at })).await;
        assert_eq!(reply["open"], true, "{reply}");
    }
    for i in 0..10 {
        let at = format!("2026-11-23 12:{:02}:00", i * 5);
        let body = json!({ "plateNo": format!("鲁B1{i:04}"), "time": at, "paid": 1200 });
        let reply = post(lane, "/api/lanes/2/exit", body).await;
        assert_eq!(reply["open"], true, "{reply}");
    }
    let waiting = status(lane).await["outbox"]["pending"].as_i64().expect("pending");
    assert!(waiting >= 30, "{waiting} records should wait for the platform");

    // Power cut: SIGKILL, no shutdown. Then everything comes back.
    drop(lot);
    let _platform = start(&dir, &["platform", "serve"], &platform_config, http).await;
    let _lot = start(&dir, &["lot", "serve"], &lot_config, lane).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while status(lane).await["outbox"]["pending"] != 0 {
        assert!(Instant::now() < deadline, "the backlog did not drain: {}", status(lane).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reconciled = post(lane, "/api/reconcile", json!({ "date": "2026-11-23" })).await;
    assert_eq!(reconciled["balanced"], true, "{reconciled}");
    let first = &reconciled["passes"][0];
    assert_eq!(
        (first["arriveNum"].as_i64(), first["leaveNum"].as_i64(), first["accountMark"].as_i64()),
        (Some(20), Some(10), Some(0))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
