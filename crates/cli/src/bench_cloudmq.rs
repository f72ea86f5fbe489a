//! `onepark bench downlink --cloud`: after the Qingdao broadcast, a fresh
//! platform process of the same build gets N lots of the parking cloud's MQ channel (pids with
//! signed logins, park codes with `/`), each a simulated lot in this process
//! that answers what it is sent; an integrator then broadcasts
//! `pay.querymonthcardlist` (every lot knows the plate, so every lot answers)
//! and sends one command to each lot. Reports command → answer (the
//! platform's own per-answer `latencyMs`: command stored → answer stored)
//! and the platform's memory per connected cloud lot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use onepark_cloudpark::channel::login_password;
use onepark_cloudpark::mq::Envelope;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeFilter};
use serde_json::{Value, json};

const SECRET: &str = "BENCH-ONLY-SECRET-0123456789ABCDEF";
const INTEGRATOR: &str = "bench-integrator";

fn code(i: usize) -> String {
    format!("CP/{i}P1")
}

/// One simulated cloud lot: logs in, subscribes, answers every command with code 1.
async fn lot(i: usize, mqtt: u16, subscribed: Arc<AtomicU64>, answered: Arc<AtomicU64>) {
    let (pid, code) = (format!("C{i}"), code(i));
    let client_id = format!("{code}_bench");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let mut options = MqttOptions::new(client_id.clone(), "127.0.0.1", mqtt);
    options.set_keep_alive(Duration::from_secs(60));
    options.set_credentials(pid.clone(), login_password(&pid, &client_id, SECRET, now));
    let (client, mut events) = AsyncClient::new(options, 16);
    let report = format!("pts/{code}");
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let filters = [
                    SubscribeFilter::new(format!("tcp/{code}"), QoS::AtLeastOnce),
                    SubscribeFilter::new("tcp/querymonthcard".into(), QoS::AtLeastOnce),
                ];
                let _ = client.subscribe_many(filters).await;
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                subscribed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let Ok(m) = Envelope::parse(&p.payload) else { continue };
                if m.code != 1 || m.service_id.starts_with("sync.") {
                    continue;
                }
                let item = json!({ "plateNumber": "鲁B88888", "parkCode": code, "carType": 8, "timeEnd": "2030-12-31 23:59:59" });
                let now = onepark_domain::time::Zone::default().local(chrono::Utc::now());
                let mut a = m.answer(true, "操作成功", vec![item.as_object().cloned().unwrap_or_default()], now);
                a.park_code = code.clone();
                if client.publish(report.clone(), QoS::AtLeastOnce, false, a.to_json().to_string()).await.is_ok() {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

fn signed(service: &str, biz: &Value) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    onepark_cloudpark::build_request(INTEGRATOR, service, now, &biz.to_string(), SECRET)
}

async fn call(http: &reqwest::Client, base: &str, service: &str, biz: Value) -> Result<Value> {
    let body = signed(service, &biz);
    let text = http
        .post(format!("{base}/cloudparkapi/api/{service}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?
        .text()
        .await?;
    Ok(serde_json::from_str(&text)?)
}

fn percentiles(mut v: Vec<i64>) -> String {
    v.sort_unstable();
    let at = |p: f64| v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or(0);
    format!("p50 {} ms, p99 {} ms, max {} ms ({} answers)", at(0.5), at(0.99), v.last().copied().unwrap_or(0), v.len())
}

/// The cloud part of the run; `rss` reads the platform's memory (KiB).
pub async fn measure(http_port: u16, mqtt: u16, lots: usize, rss: impl Fn() -> u64) -> Result<()> {
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http_port}");
    let admin = format!("{base}/api/admin/integrators");
    let registering = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..lots {
        let (http, admin, gate) = (http.clone(), admin.clone(), gate.clone());
        calls.spawn(async move {
            let _permit = gate.acquire().await;
            let body = json!({ "pid": format!("C{i}"), "secret": SECRET, "kind": "lot", "parkCodes": [code(i)] });
            let r = http
                .post(admin)
                .bearer_auth("bench")
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "registering C{i}: {}", r.text().await?);
            Ok(())
        });
    }
    while let Some(c) = calls.join_next().await {
        c??;
    }
    let codes: Vec<String> = (0..lots).map(code).collect();
    let body = json!({ "pid": INTEGRATOR, "secret": SECRET, "kind": "integrator", "parkCodes": codes });
    let r = http
        .post(&admin)
        .bearer_auth("bench")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "registering the integrator: {}", r.text().await?);
    let registered_in = registering.elapsed();

    let idle = rss();
    let (subscribed, answered) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let connecting = Instant::now();
    for i in 0..lots {
        tokio::spawn(lot(i, mqtt, subscribed.clone(), answered.clone()));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while subscribed.load(Ordering::Relaxed) < lots as u64 {
        if Instant::now() > deadline {
            bail!("cloud lots subscribing: {} of {lots} within 180 s", subscribed.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected_in = connecting.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let connected = rss();

    // The broadcast: every lot knows the plate, every lot answers.
    let started = Instant::now();
    let sent = call(
        &http,
        &base,
        "pay.querymonthcardlist",
        json!({ "action": "store&month", "plateNumber": "鲁B88888",
        "waitSeconds": 0, "expireSeconds": 300 }),
    )
    .await?;
    let uuid = sent["data"]["uuid"].as_str().context("the broadcast's uuid")?.to_owned();
    let deadline = Instant::now() + Duration::from_secs(300);
    while answered.load(Ordering::Relaxed) < lots as u64 {
        if Instant::now() > deadline {
            bail!("broadcast answers: {} of {lots} within 300 s", answered.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let latencies = loop {
        let q =
            call(&http, &base, "queryCommand", json!({ "uuid": uuid, "n": started.elapsed().as_nanos().to_string() }))
                .await?;
        let answers = q["data"]["answers"].as_array().cloned().unwrap_or_default();
        if answers.len() >= lots || Instant::now() > deadline {
            break answers.iter().filter_map(|a| a["latencyMs"].as_i64()).collect::<Vec<_>>();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let broadcast_in = started.elapsed();
    let after_broadcast = rss();

    // One command to each lot (a remaining-spaces update), 32 in flight, as the Qingdao part sends its list change.
    answered.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..lots {
        let (http, base, gate) = (http.clone(), base.clone(), gate.clone());
        calls.spawn(async move {
            let _permit = gate.acquire().await;
            let a =
                call(&http, &base, "manage.parkleft", json!({ "parkCode": code(i), "parkLeft": 5, "waitSeconds": 0 }))
                    .await?;
            a["data"]["uuid"].as_str().map(str::to_owned).context("a uuid")
        });
    }
    let mut uuids = Vec::with_capacity(lots);
    while let Some(c) = calls.join_next().await {
        uuids.push(c??);
    }
    let queued_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    while answered.load(Ordering::Relaxed) < lots as u64 {
        if Instant::now() > deadline {
            bail!("unicast answers: {} of {lots} within 300 s", answered.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_answered = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut unicast = Vec::with_capacity(lots);
    for uuid in &uuids {
        let q = call(&http, &base, "queryCommand", json!({ "uuid": uuid })).await?;
        if let Some(ms) = q["data"]["latencyMs"].as_i64() {
            unicast.push(ms);
        }
    }

    println!();
    println!(
        "cloud lots                {lots} (a lot pid and MQTT session each, signed logins; a fresh platform process)"
    );
    println!("registered in             {:.2} s (admin API, 32 in flight)", registered_in.as_secs_f64());
    println!("all subscribed in         {:.2} s", connected_in.as_secs_f64());
    println!(
        "broadcast answered in     {:.2} s (pay.querymonthcardlist on tcp/querymonthcard, every lot answers)",
        broadcast_in.as_secs_f64()
    );
    println!("broadcast command→answer  {}", percentiles(latencies));
    println!("unicast commands queued   {:.2} s (one manage.parkleft per lot, 32 in flight)", queued_in.as_secs_f64());
    println!("unicast all answered      {:.2} s", all_answered.as_secs_f64());
    println!("unicast command→answer    {}", percentiles(unicast));
    println!(
        "platform RSS              idle {} MiB, {lots} cloud lots connected {} MiB, after broadcast {} MiB",
        idle / 1024,
        connected / 1024,
        after_broadcast / 1024
    );
    println!("per connected cloud lot   {:.1} KiB", connected.saturating_sub(idle) as f64 / lots as f64);
    Ok(())
}
