//! Descriptor exhaustion through the real binary, its descriptor limit set
//! low: abandoned persistent MQTT sessions (one accessID, any node N) and
//! silent HTTP connections used to hold a descriptor each until the process
//! could accept nothing: no lot could log in, HTTP stopped answering.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::Process;
use onepark_proto::PrivateKey;
use onepark_testkit::config::{lot_access, platform_toml};
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::keys::lot_private;
use onepark_testkit::net::{free_port, wait_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// `onepark platform serve` under `ulimit -n {fds}`.
fn platform(dir: &std::path::Path, http: u16, mqtt: u16, fds: u32) -> Process {
    platform_with(dir, http, mqtt, fds, "")
}

/// The same, with more `[limits]` lines.
fn platform_with(dir: &std::path::Path, http: u16, mqtt: u16, fds: u32, limits: &str) -> Process {
    let config = dir.join("platform.toml");
    let top = format!("listen = \"127.0.0.1:{http}\"\nmqtt_listen = \"127.0.0.1:{mqtt}\"\n");
    let tables = format!("[limits]\nheader_timeout_secs = 1\n{limits}{}", lot_access("234", &["1001"]));
    std::fs::write(&config, platform_toml(&top, &dir.join("p.db"), &tables)).expect("config");
    let script = format!("ulimit -n {fds} && exec \"$0\" platform serve --config \"$1\"");
    Process(
        Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_onepark")])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start platform"),
    )
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// MQTT 3.1.1 CONNECT, clean session off (a persistent session), keep-alive 60 s.
fn connect_packet(username: &str, password: &str) -> Vec<u8> {
    let mut body = Vec::new();
    string(&mut body, "MQTT");
    body.extend_from_slice(&[4, 0xC0, 0, 60]);
    string(&mut body, username);
    string(&mut body, username);
    string(&mut body, password);
    let mut packet = vec![0x10];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        packet.push(byte);
        if len == 0 {
            break;
        }
    }
    packet.extend(body);
    packet
}

/// A CONNACK: whether the broker still held a session for the client id, and the return code.
#[derive(Debug, PartialEq, Eq)]
struct Connack {
    session_present: bool,
    code: u8,
}

/// Logs in as `username` (a persistent session); the CONNACK and the open connection.
async fn login(mqtt: u16, key: &PrivateKey, username: &str) -> Option<(Connack, TcpStream)> {
    let password =
        onepark_proto::mqtt::login_password(key, username, chrono::Utc::now().timestamp()).expect("password");
    let mut stream = TcpStream::connect(("127.0.0.1", mqtt)).await.ok()?;
    stream.write_all(&connect_packet(username, &password)).await.ok()?;
    let mut ack = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut ack)).await.ok()?.ok()?;
    (ack[0] == 0x20).then_some((Connack { session_present: ack[2] & 1 == 1, code: ack[3] }, stream))
}

/// Logs in as `username` and leaves without DISCONNECT; the CONNACK return code.
async fn abandon(mqtt: u16, key: &PrivateKey, username: &str) -> Option<u8> {
    login(mqtt, key, username).await.map(|(ack, _)| ack.code)
}

/// Descriptors the process holds.
fn descriptors(process: &Process) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", process.0.id())).map_or(0, |d| d.count())
}

/// Sends DISCONNECT and waits for the broker to close: the session is offline
/// (kept, clean session off) from then on.
async fn leave(mut stream: TcpStream) {
    stream.write_all(&[0xE0, 0]).await.expect("DISCONNECT");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
}

async fn http_answers(http: u16) -> bool {
    let request = common::client().get(format!("http://127.0.0.1:{http}/metrics")).timeout(Duration::from_secs(5));
    request.send().await.is_ok_and(|r| r.status().is_success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_sessions_and_silent_connections_cannot_exhaust_descriptors() {
    let dir = fresh_dir("fds");
    let (http, mqtt) = (free_port(), free_port());
    let platform = platform(&dir, http, mqtt, 256);
    wait_port(http, "platform").await;
    wait_port(mqtt, "embedded broker").await;
    let key = lot_private();

    // One lot opens far more nodes than its descriptor budget allows: each
    // new node evicts the oldest abandoned one, so what it holds stays bounded.
    let before = descriptors(&platform);
    for n in 0..400 {
        abandon(mqtt, &key, &format!("234_{n}")).await;
    }
    let held = descriptors(&platform).saturating_sub(before);
    assert!(held < 20, "{held} more descriptors after 400 abandoned nodes (limits.mqtt_max_nodes = 4)");
    assert!(http_answers(http).await, "HTTP must keep answering");
    // A node that holds a session logs in again (it replaces its own session).
    assert_eq!(abandon(mqtt, &key, "234_399").await, Some(0), "a lot's own node is never locked out");

    // Silent connections (no request line) are closed after the header timeout.
    let mut silent = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", http)).await {
            silent.push(s);
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut closed = 0;
    for s in &mut silent {
        let mut buf = [0u8; 1];
        if matches!(tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await, Ok(Ok(0) | Err(_))) {
            closed += 1;
        }
    }
    assert!(closed >= silent.len() * 9 / 10, "{closed} of {} silent connections closed", silent.len());
    drop(silent);
    assert!(http_answers(http).await, "HTTP answers after the silent connections");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A lot that rotates node ids (a restarted gateway taking a new `234_N`)
/// used to be locked out, even as its plain accessID, until its abandoned
/// sessions expired: the oldest offline session makes room; only online
/// ones refuse a further node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_node_ids_evict_the_oldest_offline_session() {
    let dir = fresh_dir("rotating-nodes");
    let (http, mqtt) = (free_port(), free_port());
    let _platform = platform(&dir, http, mqtt, 1024);
    wait_port(mqtt, "embedded broker").await;
    let key = lot_private();

    // Four nodes log in and vanish, in order: four offline sessions (the limit).
    for n in 0..4 {
        let (ack, stream) = login(mqtt, &key, &format!("234_{n}")).await.expect("CONNACK");
        assert_eq!(ack.code, 0, "node {n} logs in");
        leave(stream).await;
    }
    // The plain accessID still gets in: 234_0, the oldest offline session, makes room.
    let (ack, stream) = login(mqtt, &key, "234").await.expect("CONNACK");
    assert_eq!(ack.code, 0, "the plain accessID is not locked out by its own offline sessions");
    leave(stream).await;
    // 234_3 kept its session; 234_0's was the one evicted (and 234_1 now makes room for it).
    let (ack, stream) = login(mqtt, &key, "234_3").await.expect("CONNACK");
    assert_eq!(ack, Connack { session_present: true, code: 0 }, "a newer offline session is kept");
    leave(stream).await;
    let (ack, zero) = login(mqtt, &key, "234_0").await.expect("CONNACK");
    assert_eq!(ack, Connack { session_present: false, code: 0 }, "the oldest offline session was evicted");

    // With four nodes online, a fifth is refused and evicts nobody.
    let mut online = vec![zero];
    for node in ["234_2", "234_3", "234"] {
        let (ack, stream) = login(mqtt, &key, node).await.expect("CONNACK");
        assert_eq!(ack.code, 0, "{node} logs in");
        online.push(stream);
    }
    assert_eq!(abandon(mqtt, &key, "234_9").await, Some(5), "a fifth node while four are online: not authorized");
    // A node of those four logging in again replaces its own session.
    assert_eq!(abandon(mqtt, &key, "234_2").await, Some(0));
    drop(online);
    let _ = std::fs::remove_dir_all(&dir);
}

/// TCP connections to the MQTT port that never send CONNECT used to hold a
/// descriptor each (rmqtt read the first packet without a deadline) until
/// the platform could accept nothing: HTTP stopped answering. They are now
/// bounded per address and in all, within the MQTT share of the descriptor
/// limit, and closed after `mqtt_connect_timeout_secs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_mqtt_connections_cannot_take_the_uplink_down() {
    let dir = fresh_dir("silent-mqtt");
    let (http, mqtt) = (free_port(), free_port());
    let _platform = platform_with(&dir, http, mqtt, 256, "mqtt_connect_timeout_secs = 2\n");
    wait_port(http, "platform").await;
    wait_port(mqtt, "embedded broker").await;

    // 300 silent connections from 127.0.0.2 (loopback too, another address than the lot's).
    let mut silent = Vec::new();
    for _ in 0..300 {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.2:0".parse().expect("address")).expect("bind 127.0.0.2");
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_secs(5), socket.connect(([127, 0, 0, 1], mqtt).into())).await
        {
            silent.push(stream);
        }
    }
    assert!(!silent.is_empty());
    assert!(http_answers(http).await, "HTTP answers while {} silent MQTT connections are open", silent.len());
    let (ack, _lot) = login(mqtt, &lot_private(), "234").await.expect("a lot gets a CONNACK meanwhile");
    assert_eq!(ack.code, 0, "the lot logs in meanwhile");

    // The platform closes every one of them: beyond the bounds at once, the rest at the deadline.
    let mut open = 0;
    for stream in &mut silent {
        let mut buf = [0u8; 1];
        if !matches!(tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await, Ok(Ok(0) | Err(_))) {
            open += 1;
        }
    }
    assert_eq!(open, 0, "silent connections the platform kept open");
    assert!(http_answers(http).await, "HTTP answers afterwards");
    let _ = std::fs::remove_dir_all(&dir);
}
