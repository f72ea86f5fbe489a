//! `onepark platform serve` through the real binary: a lot registered in the
//! config uploads an entry and an exit over HTTP on loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onepark_proto::form::UplinkForm;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn keys_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys")
}

/// Starts `onepark platform serve` and waits until it listens.
fn start(config: &str, port: u16) -> Server {
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_onepark"))
            .args(["platform", "serve", "--config", config])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start platform"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "platform did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// The published test keys: (lot private, platform public).
fn test_keys() -> (PrivateKey, PublicKey) {
    let read = |name: &str| std::fs::read_to_string(keys_dir().join(name)).expect("test key");
    (
        PrivateKey::parse(&read("lot_private.b64")).expect("lot"),
        PublicKey::parse(&read("platform_public.b64")).expect("platform"),
    )
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
    let dir = std::env::temp_dir().join(format!("onepark-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let keys = keys_dir();
    std::fs::write(
        dir.join("platform.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\nmqtt_listen = \"127.0.0.1:0\"\ndatabase = \"sqlite://{db}\"\n[keys]\nprivate_key = \"{pk}\"\n\n\
             # The fixtures are dated 2021.\n[limits]\nupload_time_window_secs = 0\n\
             [[lots]]\naccess_id = \"234\"\npublic_key = \"{lot}\"\nparking_codes = [\"1001\"]\n",
            db = dir.join("onepark.db").display(),
            pk = keys.join("platform_private.b64").display(),
            lot = keys.join("lot_public.b64").display(),
        ),
    )
    .expect("config");
    let _server = start(dir.join("platform.toml").to_str().expect("path"), port);
    let (lot, platform) = test_keys();
    let seal = |data: &str| {
        let s = onepark_proto::seal(
            Profile::Qingdao,
            format!("{{\"data\":{data}}}").as_bytes(),
            Keys { own: Some(&lot), peer: Some(&platform) },
        )
        .expect("seal");
        UplinkForm { access_id: "234".into(), cipher: s.cipher, sign: s.sign, file: None }.encode()
    };
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
    let dir = std::env::temp_dir().join(format!("onepark-lots-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let keys = keys_dir();
    let config = dir.join("platform.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\nmqtt_listen = \"127.0.0.1:0\"\ndatabase = \"sqlite://onepark.db\"\n[keys]\nprivate_key = \"{pk}\"\n\
             [limits]\nupload_time_window_secs = 0\n",
            pk = keys.join("platform_private.b64").display(),
        ),
    )
    .expect("config");
    let config = config.to_str().expect("path");
    let lot_public = keys.join("lot_public.b64");
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
    let (lot, platform) = test_keys();
    let heartbeat = || {
        let s = onepark_proto::seal(
            Profile::Qingdao,
            br#"{"data":{"parkingCode":"2001","uploadTime":"2021-07-01 08:00:00"}}"#,
            Keys { own: Some(&lot), peer: Some(&platform) },
        )
        .expect("seal");
        UplinkForm { access_id: "555".into(), cipher: s.cipher, sign: s.sign, file: None }.encode()
    };
    let response = post(port, "/api/v1/cp/uploadHeartbeat", &heartbeat());
    assert!(response.contains(r#""resultCode":"200""#), "{response}");

    let out = run(&["platform", "lots", "remove", "--config", config, "--access-id", "555"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let response = post(port, "/api/v1/cp/uploadHeartbeat", &heartbeat());
    assert!(response.contains("未知的接入方"), "{response}");
    let _ = std::fs::remove_dir_all(&dir);
}
