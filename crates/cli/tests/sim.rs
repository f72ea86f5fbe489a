//! `onepark sim city` writes lot configurations real gateways run, and
//! `onepark sim run` drives them: every car that entered leaves paying
//! exactly what its lot asks, through its own stay (misread and unread
//! plates included), each lot's day reconciles with the platform, and the
//! platform holds every entry.

use std::process::Command;
use std::time::{Duration, Instant};

use onepark_domain::time::format_time as time;
use onepark_sim::{City, CityParams};

mod common;
use common::{get, platform_config, start};
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::keys::keys_dir;
use onepark_testkit::net::free_port;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_lot_runs_on_a_real_gateway() {
    let dir = fresh_dir("sim-e2e");
    let keys = keys_dir();
    let (http, mqtt, lane) = (free_port(), free_port(), free_port());
    let platform_config = platform_config(&dir, http, mqtt, "");

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
    let mut lots = Vec::new();
    for (i, lot) in city.lots.iter().enumerate() {
        let config = city_dir.join(format!("{}.toml", lot.parking_code));
        lots.push(start(&dir, &["lot", "serve"], &config, lane + i as u16).await);
    }

    // Yesterday's working hours (local time): busy whatever the hour the test runs at, and in the past
    // as a lane's clock requires; replayed as fast as the lanes answer.
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::hours(8);
    let from = (now.date() - chrono::Duration::days(1)).and_hms_opt(8, 0, 0).expect("08:00");
    let until = from + chrono::Duration::hours(5);
    let run = Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(["sim", "run", "--lots", "2", "--seed", "5", "--first-port", &lane.to_string()])
        .args(["--start", &time(from), "--hours", "5", "--speed", "1000000"])
        .output()
        .expect("sim run");
    let report = String::from_utf8_lossy(&run.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&run.stderr));
    // Success means: no call failed, every fee the lots asked is the model's, no exit closed another stay.
    assert!(run.status.success(), "sim run failed");
    let row = report.lines().find(|l| l.starts_with(&spec.parking_code)).expect("the lot's row");
    // parkingCode, name, entries, exits, …
    let numbers: Vec<u64> = row.split_whitespace().skip(2).filter_map(|w| w.parse().ok()).collect();
    let (entries, exits) = (numbers[0] as usize, numbers[1] as usize);
    assert!(entries > 20 && exits > 5, "a morning's traffic: {row}");
    assert!(entries < 500, "one page of the admin API holds them all");
    for lot in &city.lots {
        let line = format!("reconciliation {} {}: balanced", from.date(), lot.parking_code);
        assert!(report.contains(&line), "{line}");
    }

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
    drop(lots);

    // The load generator: the afternoon's sealed records straight to the platform, as the same lots.
    let afternoon = from + chrono::Duration::hours(6);
    let direct = Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(["sim", "run", "--direct", "--lots", "2", "--seed", "5", "--start", &time(afternoon), "--hours", "1"])
        .args(["--platform-url", &format!("http://127.0.0.1:{http}/api/v1/cp")])
        .arg("--lot-key")
        .arg(keys.join("lot_private.b64"))
        .arg("--platform-key")
        .arg(keys.join("platform_public.b64"))
        .output()
        .expect("sim run --direct");
    let report = String::from_utf8_lossy(&direct.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&direct.stderr));
    assert!(direct.status.success(), "every sealed record accepted");
    let line = report.lines().find(|l| l.starts_with("records ")).expect("records line");
    let counts: Vec<usize> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(counts[0], counts[1], "{line}");
    assert!(report.contains("RSA-bound limit"), "{report}");
    let url = format!(
        "http://127.0.0.1:{http}/api/admin/records?parkingCode={}&from={}&to={}&pageSize=500",
        spec.parking_code,
        time(afternoon).replace(' ', "%20"),
        time(afternoon + chrono::Duration::hours(1)).replace(' ', "%20")
    );
    let stored = get(url).await["items"].as_array().map_or(0, Vec::len);
    assert!(stored > 5, "the afternoon's entries are stored: {stored}");
    let _ = std::fs::remove_dir_all(&dir);
}
