//! `onepark sim run --direct`: the platform's load generator. No gateways:
//! each simulated lot is a client with its own accessID sending the sealed
//! records a gateway would (uploadCarInData + uploadPhoto at an entry,
//! uploadCarOutData + uploadPayRecord at an exit) straight to the platform,
//! which runs in another process. The span of traffic asked for (a peak
//! hour of 100 lots, say) is drawn and sealed first — sealing is the lots'
//! cost, not the platform's — then sent as fast as the platform answers,
//! one keep-alive connection per lot, records of a lot in order. Reported:
//! records/s and latency next to the RSA-bound rate measured in the same
//! run on this machine.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use base64::Engine;
use chrono::NaiveDateTime;
use onepark_proto::dict::{BillWay, CarType, PaidType, ParkingType, PayScene, PhotoType, PlateColor};
use onepark_proto::form::UplinkForm;
use onepark_proto::msg::encode_flat;
use onepark_proto::msg::record::{CarIn, CarOut, PayRecord, Photo};
use onepark_proto::wire::Time;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use onepark_sim::{City, EventKind, Sim, TrafficParams};

use crate::bench::Request;

/// Where the records go and who sends them.
pub(crate) struct Target {
    /// The platform's uplink, e.g. `http://127.0.0.1:8080/api/v1/cp`.
    pub(crate) url: String,
    pub(crate) lot_key: PrivateKey,
    pub(crate) platform_key: PublicKey,
    pub(crate) first_access_id: u64,
    pub(crate) photos: bool,
    /// Stays a lot sends at once (its records in order within each).
    pub(crate) lot_concurrency: usize,
}

/// Draws `[start, end)`, seals it, sends it, reports.
pub(crate) async fn run(city: City, params: TrafficParams, end: NaiveDateTime, target: Target) -> Result<ExitCode> {
    let (host, prefix) = split_url(&target.url)?;
    let addr = tokio::net::lookup_host(&host)
        .await
        .with_context(|| format!("--platform-url: cannot resolve {host}"))?
        .next()
        .with_context(|| format!("--platform-url: no address for {host}"))?;
    let started = Instant::now();
    let work = seal(&city, params, end, &target, &prefix)?;
    let records: usize = work.iter().map(Vec::len).sum();
    let blocks: usize = work.iter().flatten().map(|r| r.blocks).sum();
    if records == 0 {
        bail!("no traffic in that span: choose busier hours or more lots");
    }
    eprintln!(
        "sealed {records} records of {} lots in {:.1} s; sending…",
        city.lots.len(),
        started.elapsed().as_secs_f64()
    );
    let rsa = crate::bench::rsa_ops_per_second(&PrivateKey::generate(target.platform_key.size() as u32 * 8)?, 2)?;
    let began = Instant::now();
    let mut tasks = Vec::new();
    for requests in work.into_iter().filter(|w| !w.is_empty()) {
        let concurrency = target.lot_concurrency;
        tasks.push(tokio::spawn(async move { crate::bench::lot_stays_client(addr, requests, concurrency).await }));
    }
    let mut latencies = Vec::with_capacity(records);
    let mut failures = Vec::new();
    for task in tasks {
        match task.await.context("client task")? {
            Ok(l) => latencies.extend(l),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let elapsed = began.elapsed();
    latencies.sort_unstable();
    let pct =
        |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied();
    let ms = |d: Option<std::time::Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    let per_record = blocks as f64 / records as f64;
    let bound = rsa / per_record;
    println!("lots                  {}", city.lots.len());
    println!("records               {} accepted of {records} in {:.2} s", latencies.len(), elapsed.as_secs_f64());
    println!("records/s             {rate:.0}");
    println!("latency p50 / p99     {:.2} ms / {:.2} ms", ms(pct(0.50)), ms(pct(0.99)));
    println!(
        "RSA-bound limit       {bound:.0} records/s ({rsa:.0} private-key block ops/s on 2 threads ÷ {per_record:.2} blocks/record)"
    );
    println!("ratio to the limit    {:.2}", rate / bound);
    for f in failures.iter().take(5) {
        println!("lot stopped: {f}");
    }
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `http://host:port/prefix` → (`host:port`, `/prefix`).
fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .context("--platform-url: http:// only (the load generator speaks plain HTTP/1.1)")?;
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let host = if host.contains(':') { host.to_owned() } else { format!("{host}:80") };
    Ok((host, format!("/{}", path.trim_end_matches('/'))))
}

/// Every lot's records of the span, sealed, in order.
fn seal(
    city: &City,
    params: TrafficParams,
    end: NaiveDateTime,
    target: &Target,
    prefix: &str,
) -> Result<Vec<Vec<Request>>> {
    let keys = Keys { own: Some(&target.lot_key), peer: Some(&target.platform_key) };
    let block = target.platform_key.size() - 11;
    // Sealed now and sent within the platform's uploadTime window (10 min).
    let upload = Time(onepark_domain::time::Zone::default().local(chrono::Utc::now()));
    let mut sim = Sim::new(city.clone(), params);
    let mut work: Vec<Vec<Request>> = city.lots.iter().map(|_| Vec::new()).collect();
    // What each lot's records say of its berths, and each car's uid.
    let mut inside: Vec<i64> = vec![0; city.lots.len()];
    let mut uids = std::collections::HashMap::new();
    for event in sim.advance(end) {
        let lot = &city.lots[event.lot];
        let access_id = (target.first_access_id + event.lot as u64).to_string();
        let code = lot.parking_code.clone();
        let (total, open) = (lot.berths, lot.open_berths());
        let mut push = |interface: &str, text: String, file: Option<String>| -> Result<()> {
            let sealed = onepark_proto::seal(Profile::Qingdao, text.as_bytes(), keys)?;
            let body =
                UplinkForm { access_id: access_id.clone(), cipher: sealed.cipher, sign: sealed.sign, file }.encode();
            work[event.lot].push(Request {
                path: format!("{prefix}/{interface}"),
                body,
                blocks: text.len().div_ceil(block),
                stay: event.car,
            });
            Ok(())
        };
        let data = |flat: String| format!("{{\"data\":{flat}}}");
        match &event.kind {
            EventKind::Entry { lane, read, card } => {
                let uid = onepark_proto::uid::build(&code, lane, event.at)
                    .map(|u| format!("{u}{}", event.car & 0xFFFF))
                    .map_err(|e| anyhow::anyhow!("uid: {e}"))?;
                let parking_type = if card.is_some() { ParkingType::Monthly } else { ParkingType::Temporary };
                if card.is_none() {
                    inside[event.lot] += 1;
                }
                let plate = plate_text(&read.plate_no);
                let record = CarIn {
                    uid: uid.clone(),
                    arrival_id: uid.clone(),
                    plate_no: plate.clone(),
                    car_type: CarType::from_code(read.car_type),
                    parking_code: code.clone(),
                    gate_no: None,
                    entry_num: lane.clone(),
                    operator_code: None,
                    total_berth_num: total,
                    open_berth_num: open,
                    free_berth_num: (open - inside[event.lot]).max(0),
                    arrive_time: Time(event.at),
                    parking_type,
                    plate_color: PlateColor::from_code(read.plate_color),
                    upload_time: upload,
                };
                push("uploadCarInData", data(encode_flat(&record)), None)?;
                if target.photos {
                    let readable =
                        onepark_domain::plate::Plate::parse(&plate).is_ok_and(|p| !p.kind().is_placeholder());
                    let jpeg = onepark_sim::photo::lane_photo(
                        readable.then_some((plate.as_str(), read.plate_color)),
                        event.at,
                        event.car,
                    );
                    let photo = Photo {
                        uid: uid.clone(),
                        parking_code: code.clone(),
                        photo_id: format!("{uid}-1"),
                        time: Time(event.at),
                        photo_type: PhotoType::Entry,
                        name: format!("{uid}-1.jpg"),
                        upload_time: upload,
                    };
                    let file = base64::engine::general_purpose::STANDARD.encode(jpeg);
                    push("uploadPhoto", data(encode_flat(&photo)), Some(file))?;
                }
                uids.insert(event.car, (uid, plate, parking_type, read.car_type, read.plate_color, lane.clone()));
            }
            EventKind::Exit { lane, entered, payment, .. } => {
                let Some((uid, plate, parking_type, car_type, color, entry_lane)) = uids.remove(&event.car) else {
                    // Entered before the span began: its entry was never sent.
                    continue;
                };
                if parking_type == ParkingType::Temporary {
                    inside[event.lot] -= 1;
                }
                let fee = payment.as_ref().map_or(0, |p| p.amount);
                let record = CarOut {
                    uid: uid.clone(),
                    exit_id: format!("{uid}X"),
                    plate_no: plate.clone(),
                    car_type: CarType::from_code(car_type),
                    parking_code: code.clone(),
                    gate_no: None,
                    operator_code: None,
                    total_berth_num: total,
                    open_berth_num: open,
                    free_berth_num: (open - inside[event.lot]).max(0),
                    arrive_time: Time(*entered),
                    parking_type,
                    end_time: Time(event.at),
                    entry_num: entry_lane,
                    out_num: lane.clone(),
                    plate_color: PlateColor::from_code(color),
                    upload_time: upload,
                    charge_fee: fee,
                    should_pay: fee,
                };
                push("uploadCarOutData", data(encode_flat(&record)), None)?;
                if let Some(p) = payment {
                    let bill = PayRecord {
                        bill_id: format!("{uid}B"),
                        uid: uid.clone(),
                        plate_no: plate,
                        parking_code: code.clone(),
                        charge_fee: fee,
                        should_pay: fee,
                        actual_pay: p.amount,
                        bill_time: Time(event.at),
                        deal_time: Time(p.deal_time),
                        paid_type: PaidType::from_code(p.paid_type),
                        pay_type: PayScene::from_code(p.pay_scene),
                        upload_time: upload,
                        bill_way: BillWay::Elsewhere,
                    };
                    push("uploadPayRecord", data(encode_flat(&bill)), None)?;
                }
            }
        }
    }
    Ok(work)
}

/// As a gateway reports a read: `未识别` when the camera read nothing.
fn plate_text(read: &str) -> String {
    if read.is_empty() { onepark_domain::plate::UNRECOGNISED.to_owned() } else { read.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_urls_split_into_address_and_prefix() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/api/v1/cp").ok(),
            Some(("127.0.0.1:8080".into(), "/api/v1/cp".into()))
        );
        assert_eq!(split_url("http://example/").ok(), Some(("example:80".into(), "/".into())));
        assert!(split_url("https://example/api").is_err());
    }
}
