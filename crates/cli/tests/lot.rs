//! `onepark lot serve` and `onepark platform serve`, both real binaries, run
//! one simulated day of traffic: the platform is down for the lunch hour,
//! the lot is killed (SIGKILL) while it drains the backlog, and at the end
//! both sides hold identical records — proven by the spec's own
//! reconciliation (accountMark 0, photoMark 0) and by comparing them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{client, get, platform_config, start};
use onepark_testkit::config::{lot_access, lot_toml};
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::net::free_port;

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

async fn status(port: u16) -> Value {
    let url = format!("http://127.0.0.1:{port}/api/status");
    let text = client().get(url).send().await.expect("status").text().await;
    serde_json::from_str(&text.expect("body")).expect("JSON")
}

/// Waits until the lot has delivered some of `backlog` but not all.
async fn kill_mid_drain(lane: u16, backlog: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = status(lane).await["outbox"]["pending"].as_i64().expect("pending");
        assert!(pending > 0, "the backlog drained before the kill; make it larger");
        if pending < backlog - 20 {
            eprintln!("killing the lot with {pending} of {backlog} records still to send");
            return;
        }
        assert!(Instant::now() < deadline, "the backlog does not drain");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One car's day: entry and exit minute (from midnight), plate ("" = unread).
struct Car {
    plate: String,
    entry: u32,
    exit: u32,
}

/// 600 cars spread over 06:00–21:00 plus a lunch rush of 150 inside the
/// outage hour; every 40th car has no readable plate. Deterministic.
fn day_of_traffic() -> Vec<Car> {
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u32| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) % u64::from(n)) as u32
    };
    let mut cars = Vec::new();
    for i in 0..750u32 {
        let entry = if i < 600 { 6 * 60 + i * 15 * 60 / 600 } else { 12 * 60 + next(60) };
        let stay = if i < 600 { 10 + next(300) } else { 5 + next(50) };
        let plate = if i % 40 == 39 { String::new() } else { format!("鲁B{i:05}") };
        cars.push(Car { plate, entry, exit: (entry + stay).min(23 * 60 + 59) });
    }
    cars
}

fn clock(day: &str, minute: u32, second: u32) -> String {
    format!("{day} {:02}:{:02}:{second:02}", minute / 60, minute % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_with_an_outage_and_a_crash_ends_with_identical_records() {
    const DAY: &str = "2026-11-22";
    const JPEG: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2Q==";
    let dir = fresh_dir("lot-e2e");
    let (http, mqtt, lane) = (free_port(), free_port(), free_port());
    let platform_config = platform_config(&dir, http, mqtt, &lot_access("234", &["1001"]));
    let lot_config = dir.join("lot.toml");
    let top = format!("listen = \"127.0.0.1:{lane}\"\n");
    let url = format!("http://127.0.0.1:{http}/api/v1/cp");
    let text = lot_toml("1001", &top, &dir.join("lot.db"), (2000, 1900), &url)
        + &format!(
            "mqtt_url = \"mqtt://127.0.0.1:{mqtt}\"\n[tariff]\nfree_minutes = 15\nprice = 300\ncycle_cap = 1200\n"
        );
    std::fs::write(&lot_config, text).expect("lot config");

    let mut platform = Some(start(&dir, &["platform", "serve"], &platform_config, http).await);
    let mut lot = start(&dir, &["lot", "serve"], &lot_config, lane).await;
    let cars = day_of_traffic();
    // Every event of the day in time order: (minute, second, car, is_exit).
    let mut events: Vec<(u32, u32, usize, bool)> = Vec::new();
    for (i, car) in cars.iter().enumerate() {
        events.push((car.entry, (i % 60) as u32, i, false));
        events.push((car.exit, (i % 60) as u32, i, true));
    }
    events.sort_by_key(|&(minute, second, i, exit)| (minute, exit, second, i));
    let mut uids = vec![String::new(); cars.len()];
    let started = Instant::now();
    for (minute, second, i, exit) in events {
        // The platform is down from 12:00 to 13:00. When it is back, the lot
        // is killed (SIGKILL) while it drains the lunch hour's backlog.
        if (12 * 60..13 * 60).contains(&minute) && platform.is_some() {
            drop(platform.take());
        }
        if minute >= 13 * 60 && platform.is_none() {
            let backlog = status(lane).await["outbox"]["pending"].as_i64().expect("pending");
            assert!(backlog > 500, "the outage should leave a backlog, found {backlog}");
            platform = Some(start(&dir, &["platform", "serve"], &platform_config, http).await);
            kill_mid_drain(lane, backlog).await;
            drop(lot);
            lot = start(&dir, &["lot", "serve"], &lot_config, lane).await;
        }
        let car = &cars[i];
        let time = clock(DAY, if exit { car.exit } else { car.entry }, second);
        let reply = if exit {
            // Cars without a plate leave by their ticket (the uid); everyone pays the day's cap.
            let uid = if car.plate.is_empty() { Some(uids[i].clone()) } else { None };
            let body = json!({ "plateNo": car.plate, "time": time, "paid": 1200, "uid": uid, "photo": JPEG });
            post(lane, "/api/lanes/2/exit", body).await
        } else {
            post(lane, "/api/lanes/1/entry", json!({ "plateNo": car.plate, "time": time, "photo": JPEG })).await
        };
        assert_eq!(reply["open"], true, "car {i} at {time}: {reply}");
        if !exit {
            uids[i] = reply["uid"].as_str().expect("uid").to_owned();
        }
    }
    eprintln!("{} lane events in {:?}", 2 * cars.len(), started.elapsed());

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = status(lane).await;
        if now["outbox"]["pending"] == 0 {
            assert_eq!(now["outbox"]["refused"], 0, "{now}");
            break;
        }
        assert!(Instant::now() < deadline, "the backlog did not drain: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The spec's reconciliation balances at once: nothing lost, nothing to backfill.
    let reconciled = post(lane, "/api/reconcile", json!({ "date": DAY })).await;
    let first = &reconciled["passes"][0];
    let counts =
        ["arriveNum", "leaveNum", "photoNum", "accountMark", "photoMark", "requeued"].map(|k| first[k].as_i64());
    let n = Some(cars.len() as i64);
    assert_eq!(counts, [n, n, Some(2 * cars.len() as i64), Some(0), Some(0), Some(0)], "{reconciled}");
    assert_eq!(reconciled["balanced"], true);

    // And the records are identical on both sides.
    let ours = get(format!("http://127.0.0.1:{lane}/api/sessions?date={DAY}&limit=100000")).await;
    let mut lot_side: Vec<(String, String, String, String, i64)> = ours["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            (text("uid"), text("plateNo"), text("entryTime"), text("exitTime"), s["shouldPay"].as_i64().unwrap_or(-1))
        })
        .collect();
    let mut platform_side = Vec::new();
    for page in 1.. {
        let url = format!(
            "http://127.0.0.1:{http}/api/admin/records?parkingCode=1001&from={DAY}&to=2026-11-23&page={page}&pageSize=500"
        );
        let items = get(url).await["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        platform_side.extend(items.iter().map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (text("uid"), text("plateNo"), text("arriveTime"), text("endTime"), r["shouldPay"].as_i64().unwrap_or(-1))
        }));
    }
    lot_side.sort();
    platform_side.sort();
    assert_eq!(lot_side.len(), cars.len());
    assert!(
        lot_side == platform_side,
        "records differ: lot {} rows, platform {} rows",
        lot_side.len(),
        platform_side.len()
    );
    drop(lot);
    let _ = std::fs::remove_dir_all(&dir);
}
