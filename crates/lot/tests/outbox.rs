//! The outbox sender against a scripted platform (opens every request with
//! the platform's test key): one session whose entry the platform keeps
//! failing waits — its exit is never sent before its entry — while the other
//! sessions are delivered meanwhile, several in flight at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use onepark_lot::app::{router, start};
use onepark_lot::config::Config;
use onepark_proto::form::UplinkForm;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use onepark_testkit::config::lot_toml;
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::keys::{lot_public, platform_private};
use serde_json::{Value, json};

/// What the scripted platform saw: (interface, plate, answered 200?), in arrival order.
type Log = Arc<Mutex<Vec<(String, String, bool)>>>;

#[derive(Clone)]
struct Scripted {
    log: Log,
    /// Requests in flight now, and the most seen at once.
    in_flight: Arc<Mutex<(usize, usize)>>,
    keys: (PrivateKey, PublicKey),
}

async fn handle(State(p): State<Scripted>, Path(interface): Path<String>, body: Bytes) -> String {
    {
        let mut f = p.in_flight.lock().expect("lock");
        f.0 += 1;
        f.1 = f.1.max(f.0);
    }
    // Long enough for requests to overlap when the sender pipelines.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let form = UplinkForm::parse(b"", &body).expect("form");
    let keys = Keys { own: Some(&p.keys.0), peer: Some(&p.keys.1) };
    let opened = onepark_proto::open(Profile::Qingdao, &form.cipher, &form.sign, keys).expect("opens");
    let data: Value = serde_json::from_str(&opened.text).expect("JSON");
    let plate = data["data"]["plateNo"].as_str().unwrap_or_default().to_owned();
    let mut log = p.log.lock().expect("lock");
    // The entry of 鲁B00000 fails the first three times (the platform's database was busy).
    let failures = log.iter().filter(|(i, pl, ok)| i == "uploadCarInData" && pl == "鲁B00000" && !ok).count();
    let ok = !(interface == "uploadCarInData" && plate == "鲁B00000" && failures < 3);
    log.push((interface, plate, ok));
    p.in_flight.lock().expect("lock").0 -= 1;
    if ok { json!({ "resultCode": "200", "msg": "ok" }) } else { json!({ "resultCode": "500", "msg": "busy" }) }
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_session_waits_alone_while_the_others_flow() {
    let dir = fresh_dir("outbox");
    let platform =
        Scripted { log: Log::default(), in_flight: Arc::default(), keys: (platform_private(), lot_public()) };
    let app =
        axum::Router::new().route("/api/v1/cp/{interface}", axum::routing::post(handle)).with_state(platform.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let platform_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let url = format!("http://{platform_addr}/api/v1/cp");
    let toml = lot_toml("1001", "", &dir.join("lot.db"), (100, 100), &url) + "concurrency = 8\n";
    std::fs::write(dir.join("lot.toml"), toml).expect("config");
    let state = start(Config::load(&dir.join("lot.toml")).expect("config")).await.expect("lot");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let lane = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router(state)).await });

    let http = reqwest::Client::new();
    for i in 0..20 {
        for (path, time) in [("1/entry", "2026-11-23 08:00:00"), ("2/exit", "2026-11-23 08:05:00")] {
            let body = json!({ "plateNo": format!("鲁B{i:05}"), "time": time });
            let url = format!("http://{lane}/api/lanes/{path}");
            let response = http.post(url).header("content-type", "application/json").body(body.to_string()).send();
            let reply: Value =
                serde_json::from_str(&response.await.expect("lane").text().await.expect("body")).expect("JSON");
            assert_eq!(reply["open"], true, "{reply}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = platform.log.lock().expect("lock").clone();
        if log.iter().filter(|(i, _, ok)| i.starts_with("uploadCar") && *ok).count() >= 40 {
            break;
        }
        assert!(Instant::now() < deadline, "not every entry and exit arrived: {log:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = platform.log.lock().expect("lock").clone();
    let position = |interface: &str, plate: &str, ok: bool| {
        log.iter()
            .position(|(i, p, o)| i == interface && p == plate && *o == ok)
            .unwrap_or_else(|| panic!("{interface} of {plate} never arrived: {log:?}"))
    };
    // The failing session: three refusals, then the entry, and only then its exit.
    let entry = position("uploadCarInData", "鲁B00000", true);
    assert!(position("uploadCarOutData", "鲁B00000", true) > entry, "exit before entry: {log:?}");
    // Everyone else went through while it was failing...
    let others_done =
        log[..entry].iter().filter(|(i, p, ok)| i == "uploadCarOutData" && p != "鲁B00000" && *ok).count();
    assert!(others_done >= 15, "only {others_done} other sessions finished before the entry got through: {log:?}");
    // ...several at once, and every record exactly once (the failures aside).
    assert!(platform.in_flight.lock().expect("lock").1 > 1, "never more than one request in flight");
    assert_eq!(log.iter().filter(|(_, _, ok)| *ok).filter(|(i, _, _)| i.starts_with("uploadCar")).count(), 40);
    let _ = std::fs::remove_dir_all(&dir);
}
