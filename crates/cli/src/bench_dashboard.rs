//! `onepark bench dashboard`: how fast the city overview answers for a big
//! city. Fills a platform database with a day so far of N lots (their
//! status and basic information, a berth state a minute, entries and exits,
//! online slots), serves it on loopback and times `GET /api/admin/overview`
//! and the dashboard page `/` that renders the same figures.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{NaiveDateTime, Timelike};
use onepark_domain::time::format_time;
use onepark_platform::config::Config;
use sqlx::AnyPool;

pub fn run(lots: usize, requests: usize, database: Option<String>) -> Result<ExitCode> {
    if lots == 0 || requests == 0 {
        bail!("--lots and --requests must be at least 1");
    }
    let dir = std::env::temp_dir().join(format!("onepark-bench-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database = database.unwrap_or_else(|| format!("sqlite://{}", dir.join("platform.db").display()));
    let runtime = tokio::runtime::Runtime::new()?;
    let outcome = runtime.block_on(measure(lots, requests, &database, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn measure(lots: usize, requests: usize, database: &str, dir: &std::path::Path) -> Result<ExitCode> {
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database: database.to_owned(),
        zone: Default::default(),
        path_prefix: "/api/v1/cp".into(),
        photo_dir: dir.join("photos"),
        body_limit_bytes: onepark_platform::config::DEFAULT_BODY_LIMIT,
        private_key: None,
        lots: Vec::new(),
        admin_token: Some("bench".into()),
        mqtt_url: None,
        mqtt_listen: None,
        downlink_retry: chrono::Duration::hours(24),
        metrics_listen: None,
        metrics_token: None,
        public_url: "http://127.0.0.1:8080".into(),
        limits: Default::default(),
        payments: Default::default(),
        dashboard: Default::default(),
        cloud_topics: Default::default(),
        bolink: Default::default(),
        node_name: "bench".into(),
    };
    let store = onepark_platform::store::Store::connect(database).await.context("database")?;
    let now = onepark_domain::time::Zone::default().local(chrono::Utc::now());
    let started = Instant::now();
    let rows = fill(store.pool(), lots, now).await?;
    eprintln!("filled {rows} rows for {lots} lots in {:.1} s", started.elapsed().as_secs_f64());
    let state = onepark_platform::state::AppState::new(&config, store.clone());
    let (who, role) = (onepark_platform::access::Who::cli(), onepark_platform::access::Role::Admin);
    onepark_platform::city::accounts::add(&state, &who, "bench", role, &[], "bench password")
        .await
        .map_err(|e| anyhow::Error::msg(e.to_string()))?;
    let addr = onepark_platform::app::spawn(config).await?.http;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    // The dashboard's session: log in once, as an operator does.
    let login = http
        .post(format!("http://{addr}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=bench&password=bench+password")
        .send()
        .await?;
    let session = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .context("the dashboard login set no session cookie")?;
    println!("database              {database}");
    println!("city                  {lots} lots, today up to {} ({rows} rows)", format_time(now));
    for (path, what) in [("/api/admin/overview", "admin API (JSON)"), ("/", "dashboard page (HTML)")] {
        let get =
            || http.get(format!("http://{addr}{path}")).bearer_auth("bench").header("cookie", session.as_str()).send();
        let mut size = 0;
        for _ in 0..3 {
            size = get().await?.bytes().await?.len();
        }
        let mut latencies = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let response = get().await?;
            if !response.status().is_success() {
                bail!("{path} answered {}", response.status());
            }
            response.bytes().await?;
            latencies.push(t.elapsed());
        }
        latencies.sort_unstable();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{what:<22}{path}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {requests} requests ({} KiB)",
            ms(pct(0.5)),
            ms(pct(0.99)),
            ms(latencies[latencies.len() - 1]),
            size / 1024
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A day so far of `lots` lots, written as multi-row inserts (bench data,
/// literal values). Returns the rows written.
async fn fill(pool: &AnyPool, lots: usize, now: NaiveDateTime) -> Result<usize> {
    let day = now.date();
    let minutes = (now.hour() * 60 + now.minute()) as i64;
    let mut rows = 0;
    let mut batch: Vec<String> = Vec::new();
    async fn flush(pool: &AnyPool, table: &str, batch: &mut Vec<String>) -> Result<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let sql = format!("INSERT INTO {table} VALUES {}", batch.join(","));
        sqlx::query(&sql).execute(pool).await.with_context(|| format!("filling {table}"))?;
        let n = batch.len();
        batch.clear();
        Ok(n)
    }
    let at = |m: i64| format_time(day.and_hms_opt(0, 0, 0).unwrap_or(now) + chrono::Duration::minutes(m));
    for l in 0..lots {
        let code = format!("37020{:05}", l);
        let (open, total) = (100 + (l as i64 * 37) % 400, 0);
        let total = total + open + 20;
        let occupied = |m: i64| (open as f64 * (0.2 + 0.6 * ((m as f64 / 1440.0) * std::f64::consts::PI).sin())) as i64;
        // Status and basic information.
        let seen = format_time(now);
        let free = open - occupied(minutes);

        let x = 120.2 + (l % 40) as f64 * 0.01;
        let y = 36.0 + (l / 40) as f64 * 0.01;
        let info = format!(r#"{{"parkingName":"测试停车场{l}","address":"青岛市","gmapX":"{x:.6}","gmapY":"{y:.6}"}}"#);
        sqlx::query(&format!("INSERT INTO parking_info VALUES ('{code}', 'a{l}', '{seen}', '{info}')"))
            .execute(pool)
            .await?;
        rows += 1;
        // A berth state a minute.
        for m in 0..=minutes {
            batch.push(format!("('{code}', '{}', {total}, {open}, {})", at(m), open - occupied(m)));
            if batch.len() == 500 {
                rows += flush(pool, "berth_states", &mut batch).await?;
            }
        }
        rows += flush(pool, "berth_states", &mut batch).await?;
        // Online every slot; each slot's latest berth state, as the platform keeps it.
        for s in 0..=minutes / 10 {
            batch.push(format!("('{code}', '{}')", &at(s * 10)[..16]));
        }
        rows += flush(pool, "online_slots", &mut batch).await?;
        for s in 0..=minutes / 10 {
            batch.push(format!("('{code}', '{}', '{}', {}, {open})", &at(s * 10)[..16], at(s * 10), occupied(s * 10)));
        }
        rows += flush(pool, "berth_slots", &mut batch).await?;
        // An entry every two minutes from 07:00, each leaving an hour later.
        let mut exits = Vec::new();
        let mut entered = 0;
        for (n, m) in (420..=minutes).step_by(2).enumerate() {
            let uid = format!("{code}u{n}");
            let plate = format!("鲁B{:05}", (l * 1000 + n) % 100_000);
            batch.push(format!(
                "('{code}', '{uid}', 'a{l}', '{n}', '{plate}', 1, 1, 1, 'E1', '{t}', '{t}', '{t}', 1, 0, '{{}}')",
                t = at(m)
            ));
            if m + 60 <= minutes {
                exits.push(format!(
                    "('{code}', '{uid}', 'a{l}', '{n}X', '{plate}', '{a}', '{e}', 500, 500, '{e}', '{e}', 1, 0, '{{}}')",
                    a = at(m),
                    e = at(m + 60)
                ));
            }
            if batch.len() == 300 {
                entered += batch.len();
                rows += flush(pool, "entries", &mut batch).await?;
            }
        }
        entered += batch.len();
        rows += flush(pool, "entries", &mut batch).await?;
        for chunk in exits.chunks(300) {
            let mut chunk = chunk.to_vec();
            rows += flush(pool, "exits", &mut chunk).await?;
        }
        // The status row, with the counts of today the platform keeps as it writes records.
        let (today, left) = (day.to_string(), exits.len());
        sqlx::query(&format!(
            "INSERT INTO lot_status (parking_code, access_id, last_seen, last_heartbeat, total, open_berths, free_berths, \
             state_at, counted_day, entries_today, exits_today, orphans_today) VALUES ('{code}', 'a{l}', '{seen}', \
             '{seen}', {total}, {open}, {free}, '{seen}', '{today}', {entered}, {left}, 0)"
        ))
        .execute(pool)
        .await?;
    }
    Ok(rows)
}
