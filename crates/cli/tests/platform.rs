//! `onepark platform serve` through the real binary: a lot registered in the
//! config uploads an entry and an exit over HTTP on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use onepark_testkit::config::{lot_access, platform_toml};
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::keys::key_path;
use onepark_testkit::net::{free_port, wait_port_blocking};
use onepark_testkit::uplink::Lot;

mod common;
use common::Process;

/// Starts `onepark platform serve` and waits until it listens.
fn start(config: &str, port: u16) -> Process {
    let server = Process(
        Command::new(env!("CARGO_BIN_EXE_onepark"))
            .args(["platform", "serve", "--config", config])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start platform"),
    );
    wait_port_blocking(port, "platform");
    server
}

fn post(port: u16, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn serve_accepts_entries_and_exits_from_a_configured_lot() {
    let dir = fresh_dir("serve");
    let port = free_port();
    let top = format!("listen = \"127.0.0.1:{port}\"\nmqtt_listen = \"127.0.0.1:0\"\n");
    // The fixtures are dated 2021.
    let tables = format!("[limits]\nupload_time_window_secs = 0\n{}", lot_access("234", &["1001"]));
    std::fs::write(dir.join("platform.toml"), platform_toml(&top, &dir.join("onepark.db"), &tables)).expect("config");
    let _server = start(dir.join("platform.toml").to_str().expect("path"), port);
    let lot = Lot::new();
    let seal = |data: &str| lot.seal_text("234", &format!("{{\"data\":{data}}}"), None);
    let entry = r#"{"uid":"e2e1","arrivalID":"1","plateNo":"鲁B01C01","carType":1,"parkingCode":"1001","entryNum":"1","totalBerthNum":150,"openBerthNum":130,"freeBerthNum":70,"arriveTime":"2021-07-01 08:00:00","parkingType":1,"plateColor":1,"uploadTime":"2021-07-01 08:00:01"}"#;
    let response = post(port, "/api/v1/cp/uploadCarInData", &seal(entry));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""resultCode":"200""#), "{response}");

    let exit = r#"{"uid":"e2e1","exitID":"2","plateNo":"鲁B01C01","carType":1,"parkingCode":"1001","totalBerthNum":150,"openBerthNum":130,"freeBerthNum":71,"arriveTime":"2021-07-01 08:00:00","parkingType":1,"endTime":"2021-07-01 09:00:00","entryNum":"1","outNum":"2","plateColor":1,"uploadTime":"2021-07-01 09:00:01","chargeFee":500,"shouldPay":500}"#;
    let response = post(port, "/api/v1/cp/uploadCarOutData", &seal(exit));
    assert!(response.contains(r#""resultCode":"200""#), "{response}");

    let response = post(port, "/api/v1/cp/uploadCarOutData", "accessID=234&cipher=x&sign=y");
    assert!(response.contains(r#""resultCode":"400""#) && response.contains("sign 不是有效的 Base64"), "{response}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_onepark")).args(args).output().expect("run onepark")
}

#[test]
fn lots_registered_at_run_time_are_accepted_without_restart() {
    let dir = fresh_dir("lots");
    let port = free_port();
    let config = dir.join("platform.toml");
    let top = format!("listen = \"127.0.0.1:{port}\"\nmqtt_listen = \"127.0.0.1:0\"\n");
    let tables = "[limits]\nupload_time_window_secs = 0\n";
    std::fs::write(&config, platform_toml(&top, "onepark.db".as_ref(), tables)).expect("config");
    let config = config.to_str().expect("path");
    let lot_public = key_path("lot_public.b64");
    let out = run(&[
        "platform",
        "lots",
        "add",
        "--config",
        config,
        "--access-id",
        "555",
        "--public-key",
        lot_public.to_str().expect("path"),
        "--parking-code",
        "2001",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = run(&[
        "platform",
        "lots",
        "add",
        "--config",
        config,
        "--access-id",
        "556",
        "--public-key",
        "nope",
        "--parking-code",
        "1",
    ]);
    assert!(!bad.status.success(), "an unusable key is refused before storing");
    let list = run(&["platform", "lots", "list", "--config", config]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("555\tqingdao\t2001\tdatabase"));

    let _server = start(config, port);
    let lot = Lot::new();
    let heartbeat =
        || lot.seal_text("555", r#"{"data":{"parkingCode":"2001","uploadTime":"2021-07-01 08:00:00"}}"#, None);
    let response = post(port, "/api/v1/cp/uploadHeartbeat", &heartbeat());
    assert!(response.contains(r#""resultCode":"200""#), "{response}");

    let out = run(&["platform", "lots", "remove", "--config", config, "--access-id", "555"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A registration read lately is trusted for 5 s (no database read per request): the
    // removal, made by another process, is seen within that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut response = post(port, "/api/v1/cp/uploadHeartbeat", &heartbeat());
    while !response.contains("未知的接入方") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(250));
        response = post(port, "/api/v1/cp/uploadHeartbeat", &heartbeat());
    }
    assert!(response.contains("未知的接入方"), "{response}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

const BACKED_UP: &str = r#"{"uid":"bk1","arrivalID":"1","plateNo":"鲁B01C02","carType":1,"parkingCode":"1001","entryNum":"1","totalBerthNum":150,"openBerthNum":130,"freeBerthNum":70,"arriveTime":"2021-07-01 08:00:00","parkingType":1,"plateColor":1,"uploadTime":"2021-07-01 08:00:01"}"#;

/// A platform on `database` (a SQLite file or a PostgreSQL URL) at `port`.
fn backup_config(dir: &std::path::Path, name: &str, port: u16, database: &str) -> String {
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\nmqtt_listen = \"off\"\nadmin_token = \"t\"\ndatabase = \"{database}\"\n\
         [keys]\nprivate_key = \"{key}\"\n[limits]\nupload_time_window_secs = 0\n{lots}",
        key = key_path("platform_private.b64").display(),
        lots = lot_access("234", &["1001"]),
    );
    let path = dir.join(name);
    std::fs::write(&path, text).expect("config");
    path.to_str().expect("path").to_owned()
}

/// Stores an entry through `port`, backs the database up with `onepark
/// platform backup` while that platform serves, restores it with
/// `restore(backup)` to a database a second platform then serves: the entry is there.
fn backup_and_restore(dir: &std::path::Path, first: &str, second: &str, restore: impl FnOnce(&std::path::Path)) {
    let (port, again) = (free_port(), free_port());
    let config = backup_config(dir, "first.toml", port, first);
    let server = start(&config, port);
    let lot = Lot::new();
    let sealed = lot.seal_text("234", &format!("{{\"data\":{BACKED_UP}}}"), None);
    let response = post(port, "/api/v1/cp/uploadCarInData", &sealed);
    assert!(response.contains(r#""resultCode":"200""#), "{response}");
    let out = dir.join("backup");
    let made = run(&["platform", "backup", "--config", &config, "--out", out.to_str().expect("path")]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let twice = run(&["platform", "backup", "--config", &config, "--out", out.to_str().expect("path")]);
    assert!(!twice.status.success(), "a backup never overwrites");
    drop(server);
    restore(&out);
    let _server = start(&backup_config(dir, "second.toml", again, second), again);
    let records = get(again, "/api/admin/records?parkingCode=1001&from=2021-07-01&to=2021-07-02");
    assert!(records.contains("\"bk1\""), "the restored platform lacks the entry: {records}");
}

#[test]
fn a_backup_taken_while_serving_restores_on_sqlite() {
    let dir = fresh_dir("backup-sqlite");
    let (first, second) = (dir.join("onepark.db"), dir.join("restored.db"));
    let url = |p: &std::path::Path| format!("sqlite://{}", p.display());
    // Restoring a SQLite backup: the file copied to the database's place while no platform runs.
    backup_and_restore(&dir, &url(&first), &url(&second), |backup| {
        std::fs::copy(backup, &second).expect("restore");
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_backup_taken_while_serving_restores_on_postgres() {
    let test = "a_backup_taken_while_serving_restores_on_postgres";
    let Some(base) = onepark_testkit::env_or_skip("DATABASE_URL", test) else { return };
    if Command::new("pg_restore").arg("--version").output().is_err() {
        onepark_testkit::skip(test, "PostgreSQL's client tools are not installed (apt-get install postgresql-client)");
        return;
    }
    // Two databases of the test's own: the served one and the one restored into.
    let (base, query) = base.split_once('?').map_or((base.as_str(), ""), |(b, q)| (b, q));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    let names = [format!("onepark_backup_{}", std::process::id()), format!("onepark_restored_{}", std::process::id())];
    let url = |name: &str| if query.is_empty() { format!("{root}/{name}") } else { format!("{root}/{name}?{query}") };
    let psql = |sql: &str| {
        let out = Command::new("psql").args([base, "-v", "ON_ERROR_STOP=1", "-c", sql]).output().expect("psql");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    };
    for name in &names {
        psql(&format!("DROP DATABASE IF EXISTS {name}"));
        psql(&format!("CREATE DATABASE {name}"));
    }
    let dir = fresh_dir("backup-postgres");
    let restored = url(&names[1]);
    backup_and_restore(&dir, &url(&names[0]), &restored, |backup| {
        let out = Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "--dbname", &restored])
            .arg(backup)
            .output()
            .expect("pg_restore");
        assert!(out.status.success(), "pg_restore: {}", String::from_utf8_lossy(&out.stderr));
    });
    for name in &names {
        psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
