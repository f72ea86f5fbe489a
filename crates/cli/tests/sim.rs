//! `onepark sim city` writes lot configurations a real gateway runs, and
//! the simulator's traffic through that gateway's lane API behaves: every
//! car that entered leaves paying exactly what the lot asks (misread and
//! unread plates included), month cards open for free, and the platform
//! ends up with every entry.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use onepark_sim::{City, CityParams, EventKind, Sim, TrafficParams};
use serde_json::{Value, json};

mod common;
use common::{Process, client, free_port, keys_dir, wait_port};

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
    wait_port(port, &format!("{args:?} (log in {})", dir.display())).await;
    Process(child)
}

async fn post(port: u16, path: &str, body: Value) -> Value {
    let response = client()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("call");
    serde_json::from_str(&response.text().await.expect("body")).expect("JSON")
}

async fn get(url: String) -> Value {
    let text = client().get(url).bearer_auth("t").send().await.expect("get").text().await;
    serde_json::from_str(&text.expect("body")).expect("JSON")
}

fn time(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_lot_runs_on_a_real_gateway() {
    let dir = std::env::temp_dir().join(format!("onepark-sim-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let keys = keys_dir();
    let (http, mqtt, lane) = (free_port(), free_port(), free_port());
    let platform_config = dir.join("platform.toml");
    std::fs::write(
        &platform_config,
        format!(
            "listen = \"127.0.0.1:{http}\"\nmqtt_listen = \"127.0.0.1:{mqtt}\"\ndatabase = \"sqlite://{db}\"\n\
             admin_token = \"t\"\n[keys]\nprivate_key = \"{pk}\"\n",
            db = dir.join("platform.db").display(),
            pk = keys.join("platform_private.b64").display(),
        ),
    )
    .expect("platform config");

    // The city's configs, and the registration commands the tool prints, run as printed.
    let city_dir = dir.join("city");
    let out = Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(["sim", "city", "--lots", "2", "--seed", "5", "--out"])
        .arg(&city_dir)
        .args(["--platform-url", &format!("http://127.0.0.1:{http}/api/v1/cp")])
        .args(["--mqtt-url", &format!("mqtt://127.0.0.1:{mqtt}")])
        .args(["--first-port", &lane.to_string()])
        .arg("--lot-key")
        .arg(keys.join("lot_private.b64"))
        .arg("--platform-key")
        .arg(keys.join("platform_public.b64"))
        .output()
        .expect("sim city");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let city = City::generate(&CityParams { lots: 2, seed: 5, ..CityParams::default() });
    let spec = &city.lots[0];
    assert!(stdout.contains(&spec.name), "{stdout}");
    for command in stdout.lines().filter_map(|l| l.trim().strip_prefix("onepark ")) {
        let args: Vec<String> = command
            .split_whitespace()
            .map(|a| if a == "platform.toml" { platform_config.display().to_string() } else { a.to_owned() })
            .collect();
        let status = Command::new(env!("CARGO_BIN_EXE_onepark")).args(&args).status().expect("register");
        assert!(status.success(), "{command}");
    }

    let _platform = start(&dir, &["platform", "serve"], &platform_config, http).await;
    let lot_config = city_dir.join(format!("{}.toml", spec.parking_code));
    let _lot = start(&dir, &["lot", "serve"], &lot_config, lane).await;

    // The lot's month cards, valid around the simulated hours.
    // Yesterday's working hours (local time): busy whatever the hour the test runs at, and in the past
    // as a lane's clock requires.
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::hours(8);
    let from = (now.date() - chrono::Duration::days(1)).and_hms_opt(8, 0, 0).expect("08:00");
    let until = from + chrono::Duration::hours(5);
    for card in &spec.cards {
        let plates: Vec<&str> = card.plates.iter().map(|p| p.text.as_str()).collect();
        let body = json!({ "id": card.id, "owner": card.owner, "plates": plates,
            "startTime": time(from - chrono::Duration::days(1)), "endTime": time(now + chrono::Duration::days(30)) });
        let saved = post(lane, "/api/month-cards", body).await;
        assert!(saved.get("error").is_none(), "{saved}");
    }

    // Five simulated hours, through the lane API.
    let mut sim = Sim::new(city.clone(), TrafficParams::starting(from));
    let events: Vec<_> = sim.advance(until).into_iter().filter(|e| e.lot == 0).collect();
    let mut uids = std::collections::HashMap::new();
    let (mut entries, mut exits, mut fuzzy, mut paid) = (0, 0, 0, 0);
    for e in &events {
        match &e.kind {
            EventKind::Entry { lane: id, read, .. } => {
                let photo = base64_jpeg(read, e);
                let body = json!({ "plateNo": read.plate_no, "plateColor": read.plate_color, "carType": read.car_type,
                    "time": time(e.at), "photo": photo });
                let decision = post(lane, &format!("/api/lanes/{id}/entry"), body).await;
                if decision["open"] == true {
                    entries += 1;
                    // An unread entry read opens a 未识别 stay: the driver holds its ticket (uid).
                    let ticket = read.plate_no.is_empty() || read.plate_no == "无车牌";
                    uids.insert(e.car, (decision["uid"].as_str().expect("uid").to_owned(), ticket));
                } else {
                    assert_eq!(decision["reason"], "full", "only a full lot refuses here: {decision}");
                    sim.refused(e.car);
                }
            }
            EventKind::Exit { lane: id, read, payment, .. } => {
                let Some((uid, ticket)) = uids.remove(&e.car) else { continue };
                let mut body = json!({ "plateNo": read.plate_no, "plateColor": read.plate_color,
                    "carType": read.car_type, "time": time(e.at) });
                if ticket || read.plate_no.is_empty() || read.plate_no == "无车牌" {
                    body["uid"] = json!(uid); // the driver's ticket, or staff reading it off the booth screen
                }
                if let Some(p) = payment {
                    body["paid"] = json!(p.amount);
                    body["paidType"] = json!(p.paid_type);
                    body["payScene"] = json!(p.pay_scene);
                    body["dealTime"] = json!(time(p.deal_time));
                    paid += 1;
                }
                let decision = post(lane, &format!("/api/lanes/{id}/exit"), body).await;
                assert_eq!(decision["open"], true, "{e:?} → {decision}");
                assert_eq!(decision["uid"], uid.as_str(), "the car's own stay");
                assert_eq!(decision["fee"].as_i64().unwrap_or(0), payment.as_ref().map_or(0, |p| p.amount));
                fuzzy += usize::from(decision["fuzzy"] == true);
                exits += 1;
            }
        }
    }
    eprintln!("{entries} entries, {exits} exits ({paid} paid, {fuzzy} matched fuzzily)");
    assert!(entries > 20 && exits > 5 && paid > 0, "a day's traffic: {entries} {exits} {paid}");
    assert!(entries < 500, "one page of the admin API holds them all");

    // Every entry reaches the platform.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let url = format!(
            "http://127.0.0.1:{http}/api/admin/records?parkingCode={}&from={}&to={}&pageSize=500",
            spec.parking_code,
            time(from - chrono::Duration::minutes(1)).replace(' ', "%20"),
            time(until + chrono::Duration::minutes(1)).replace(' ', "%20")
        );
        let stored = get(url).await["items"].as_array().map_or(0, Vec::len);
        if stored == entries {
            break;
        }
        assert!(Instant::now() < deadline, "the platform holds {stored} of {entries} entries");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn base64_jpeg(read: &onepark_sim::Read, e: &onepark_sim::Event) -> String {
    use base64::Engine;
    let plate =
        (!read.plate_no.is_empty() && read.plate_no != "无车牌").then_some((read.plate_no.as_str(), read.plate_color));
    base64::engine::general_purpose::STANDARD.encode(onepark_sim::photo::lane_photo(plate, e.at, e.car))
}
