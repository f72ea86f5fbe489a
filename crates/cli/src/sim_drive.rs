//! `onepark sim run`: drives real lot gateways' lane APIs with a simulated
//! city's traffic. Virtual time may start in the past (`--since-hours`) and
//! run at `--speed` until it has caught up with the wall clock, then in
//! real time: a lane refuses event times ahead of its own clock, so the
//! past is the only place accelerated time can be. At the end: what was
//! sent, answered and refused by reason, per lot, and each lot's
//! reconciliation of the simulated days.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use chrono::NaiveDateTime;
use onepark_domain::time::{Zone, format_time};
use onepark_sim::{City, CityParams, Event, EventKind, Sim, TrafficParams};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Options {
    /// The city, as given to `onepark sim city`.
    #[arg(long, default_value_t = 8)]
    lots: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Lane API port of the first lot (as given to `city`).
    #[arg(long, default_value_t = 8101)]
    first_port: u16,
    /// Start this many hours in the past, replayed at `--speed`.
    #[arg(long, default_value_t = 0.0)]
    since_hours: f64,
    /// Start at this local time instead (yyyy-MM-dd HH:mm:ss, not in the future).
    #[arg(long)]
    start: Option<String>,
    /// Virtual seconds per wall second while behind the clock (60: an hour a minute).
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// Stop after this many virtual hours (default: at Ctrl-C).
    #[arg(long)]
    hours: Option<f64>,
    /// Demand as a multiple of the lots' drawn traffic.
    #[arg(long, default_value_t = 1.0)]
    demand: f64,
    /// Send no lane photos.
    #[arg(long)]
    no_photos: bool,
    /// No gateways: send the span's sealed records straight to a platform,
    /// as fast as it answers (a load generator; `--hours` is the span,
    /// default 1; `--speed` does not apply).
    #[arg(long)]
    direct: bool,
    /// `--direct`: the platform's uplink.
    #[arg(long, default_value = "http://127.0.0.1:8080/api/v1/cp")]
    platform_url: String,
    /// `--direct`: the lots' private key (one for all, as `sim city` registers them).
    #[arg(long, default_value = "crates/proto/tests/interop/keys/lot_private.b64")]
    lot_key: std::path::PathBuf,
    /// `--direct`: the platform's public key.
    #[arg(long, default_value = "crates/proto/tests/interop/keys/platform_public.b64")]
    platform_key: std::path::PathBuf,
    /// `--direct`: accessID of the first lot (as given to `sim city`).
    #[arg(long, default_value_t = 9001)]
    first_access_id: u64,
    /// `--direct`: stays each lot sends at once, each stay's records in
    /// order (the lot gateway's `platform.concurrency`, 16 by default; 1:
    /// every record of a lot in order on one connection).
    #[arg(long, default_value_t = 16)]
    lot_concurrency: usize,
}

/// What happened at one lot.
#[derive(Default)]
struct Tally {
    entries: u64,
    exits: u64,
    paid_fen: i64,
    fuzzy: u64,
    /// The lot asked a different fee than the model's tariff (should stay 0).
    fee_differs: u64,
    /// An exit closed another car's stay (should stay 0).
    wrong_stay: u64,
    refused: BTreeMap<String, u64>,
    failed: u64,
    /// Exits paid by the platform's no-stop deduction (the demo's signed-up drivers).
    no_stop: u64,
    /// Signed-up drivers whose deduction did not go through and who paid at the booth.
    no_stop_booth: u64,
}

pub fn run(o: Options) -> Result<ExitCode> {
    if o.lots == 0 || o.speed.is_nan() || o.speed < 1.0 || o.since_hours < 0.0 || o.hours.is_some_and(|h| h <= 0.0) {
        bail!("--lots ≥ 1, --speed ≥ 1, --since-hours ≥ 0 and --hours > 0");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(drive(o))
}

async fn drive(o: Options) -> Result<ExitCode> {
    let zone = Zone::default();
    let city = City::generate(&CityParams { lots: o.lots, seed: o.seed, ..CityParams::default() });
    let wall = || zone.local(chrono::Utc::now());
    let start = match &o.start {
        Some(text) => onepark_domain::time::parse_time(text).map_err(|e| anyhow::anyhow!("--start: {e}"))?,
        None => wall() - chrono::Duration::seconds((o.since_hours * 3600.0) as i64),
    };
    if start > wall() {
        bail!("--start {} is in the future: a lane refuses event times ahead of its clock", format_time(start));
    }
    let end = o.hours.map(|h| start + chrono::Duration::seconds((h * 3600.0) as i64));
    if o.direct {
        let end = end.unwrap_or(start + chrono::Duration::hours(1)).min(wall());
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
        };
        let target = crate::sim_direct::Target {
            url: o.platform_url.clone(),
            lot_key: onepark_proto::PrivateKey::parse(&read(&o.lot_key)?).context("--lot-key")?,
            platform_key: onepark_proto::PublicKey::parse(&read(&o.platform_key)?).context("--platform-key")?,
            first_access_id: o.first_access_id,
            photos: !o.no_photos,
            lot_concurrency: o.lot_concurrency.max(1),
        };
        let mut params = TrafficParams::starting(start);
        params.demand = o.demand;
        return crate::sim_direct::run(city, params, end, target).await;
    }
    let urls = (0..city.lots.len()).map(|i| format!("http://127.0.0.1:{}", usize::from(o.first_port) + i)).collect();
    let mut params = TrafficParams::starting(start);
    params.demand = o.demand;
    let mut driver = Driver::new(Sim::new(city.clone(), params), urls, o.no_photos)?;
    driver.load_cards(start).await?;
    let bar = spinner("{spinner} {elapsed} {msg}");
    let clock = Clock { start, began: Instant::now(), speed: o.speed, zone };
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let until = end.map_or(clock.now(), |e| clock.now().min(e));
        driver.step(until).await;
        let (entries, exits) = driver.totals();
        bar.set_message(format!("virtual {}  {entries} entries  {exits} exits", format_time(until)));
        bar.tick();
        if end.is_some_and(|e| until >= e) {
            break;
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    bar.finish_and_clear();
    driver.report(start).await;
    Ok(if driver.sound() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The progress line (an indicatif template).
pub(crate) fn spinner(template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar
}

/// Virtual time: from `start` at `speed` while behind the wall clock, then
/// the wall clock itself (a lane refuses event times ahead of its clock).
pub(crate) struct Clock {
    pub(crate) start: NaiveDateTime,
    pub(crate) began: Instant,
    pub(crate) speed: f64,
    pub(crate) zone: Zone,
}

impl Clock {
    pub(crate) fn now(&self) -> NaiveDateTime {
        let ahead = chrono::Duration::milliseconds((self.began.elapsed().as_secs_f64() * self.speed * 1000.0) as i64);
        (self.start + ahead).min(self.zone.local(chrono::Utc::now()))
    }
}

/// The simulation wired to the gateways' lane APIs: each event becomes a
/// lane call, each answer is held against the model.
pub(crate) struct Driver {
    http: reqwest::Client,
    /// Each lot's gateway, e.g. `http://127.0.0.1:8101`.
    urls: Vec<String>,
    sim: Sim,
    /// The uid each car inside was let in with, and whether it left no
    /// readable plate (then its exit shows its ticket).
    tickets: HashMap<u64, (String, bool)>,
    tallies: Vec<Tally>,
    no_photos: bool,
    /// The platform whose driver pages sign drivers up for no-stop deduction, when the run uses it.
    payments: Option<Payments>,
}

/// One driver in [`SIGNED_UP_ONE_IN`] is signed up for no-stop deduction on
/// the platform's driver page and leaves without paying at the exit: the
/// lot asks the platform (applyPayment), the sandbox channel pays.
const SIGNED_UP_ONE_IN: u64 = 5;

struct Payments {
    platform: String,
    signed: HashSet<String>,
}

impl Driver {
    pub(crate) fn new(sim: Sim, urls: Vec<String>, no_photos: bool) -> Result<Driver> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        let tallies = (0..urls.len()).map(|_| Tally::default()).collect();
        Ok(Driver { http, urls, sim, tickets: HashMap::new(), tallies, no_photos, payments: None })
    }

    /// Some drivers pay without stopping, signed up on `platform`'s driver page.
    pub(crate) fn with_payments(mut self, platform: String) -> Driver {
        self.payments = Some(Payments { platform, signed: HashSet::new() });
        self
    }

    pub(crate) fn sim(&self) -> &Sim {
        &self.sim
    }

    /// Every lot's month cards, valid from a day before `start` for a year.
    pub(crate) async fn load_cards(&self, start: NaiveDateTime) -> Result<()> {
        for (lot, url) in self.sim.city().lots.iter().zip(&self.urls) {
            load_cards(&self.http, url, lot, start).await.with_context(|| format!("{} at {url}", lot.name))?;
        }
        Ok(())
    }

    /// A car already inside a gateway (its open session) joins the model.
    pub(crate) fn adopt(&mut self, lot: usize, session: &onepark_lot::store::Session, entered: NaiveDateTime) {
        let plate = readable(&session.plate_no).then(|| onepark_sim::CarPlate {
            text: session.plate_no.clone(),
            color: session.plate_color,
            car_type: session.car_type,
        });
        let ticket = plate.is_none();
        let car = self.sim.adopt(lot, plate, session.card_id.as_deref(), entered);
        self.tickets.insert(car, (session.uid.clone(), ticket));
    }

    /// Every event up to `until`, sent.
    pub(crate) async fn step(&mut self, until: NaiveDateTime) {
        for event in self.sim.advance(until) {
            let url = &self.urls[event.lot];
            let tally = &mut self.tallies[event.lot];
            let payments = self.payments.as_mut();
            lane_call(&self.http, url, &event, &mut self.sim, &mut self.tickets, tally, self.no_photos, payments).await;
        }
    }

    /// Entries and exits let through, in all.
    pub(crate) fn totals(&self) -> (u64, u64) {
        self.tallies.iter().fold((0, 0), |a, t| (a.0 + t.entries, a.1 + t.exits))
    }

    /// No call failed, every fee was the model's, every exit closed its own stay.
    pub(crate) fn sound(&self) -> bool {
        !self.tallies.iter().any(|t| t.failed > 0 || t.fee_differs > 0 || t.wrong_stay > 0)
    }

    /// The summary table, then each lot's reconciliation of the days since `from`.
    pub(crate) async fn report(&self, from: NaiveDateTime) {
        table(self.sim.city(), &self.tallies);
        reconcile(&self.http, self.sim.city(), from, self.sim.now(), &self.urls).await;
    }

    /// The summary table: per lot and in all.
    pub(crate) fn table(&self) {
        table(self.sim.city(), &self.tallies);
    }
}

/// The lot's month cards, valid from a day before the simulation for a year.
async fn load_cards(http: &reqwest::Client, url: &str, lot: &onepark_sim::LotSpec, start: NaiveDateTime) -> Result<()> {
    for card in &lot.cards {
        let plates: Vec<&str> = card.plates.iter().map(|p| p.text.as_str()).collect();
        let body = json!({ "id": card.id, "owner": card.owner, "plates": plates,
            "startTime": format_time(start - chrono::Duration::days(1)),
            "endTime": format_time(start + chrono::Duration::days(365)) });
        let response = post_json(http, format!("{url}/api/month-cards"), &body)
            .send()
            .await
            .context("is the gateway running? (onepark lot serve)")?;
        if !response.status().is_success() {
            bail!("month card {}: {}", card.id, response.text().await.unwrap_or_default());
        }
    }
    Ok(())
}

/// Whether this plate's driver has signed up for no-stop deduction (a fixed share, by the plate).
fn signed_up(plate: &str) -> bool {
    let digest = openssl::sha::sha256(plate.as_bytes());
    u64::from(digest[0]) % SIGNED_UP_ONE_IN == 0
}

/// The driver pages' CSRF token this client presents, as a browser would
/// from the page (double submit: its cookie and the form field agree).
const DRIVER_CSRF: &str = "0000000000000000000000000000cafe";

/// Posts a driver page form as a browser would (its token, and `cookies`
/// such as a plate's proof).
pub async fn driver_form(
    http: &reqwest::Client,
    url: &str,
    form: &str,
    cookies: &str,
) -> reqwest::Result<reqwest::Response> {
    http.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("op_csrf={DRIVER_CSRF}; {cookies}"))
        .body(format!("{form}&csrf={DRIVER_CSRF}"))
        .send()
        .await
}

/// Proof of a plate from the sandbox channel's "prove at once" (offered with
/// play money only; a real channel proves plates with its own login): the cookie.
pub async fn sandbox_proof(platform: &str, plate: &str) -> Option<String> {
    let form = format!("plate={}&sandbox=1", form_urlencoded::byte_serialize(plate.as_bytes()).collect::<String>());
    // Not following the redirect: the proof is in its Set-Cookie.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().ok()?;
    let response = driver_form(&http, &format!("{platform}/pay/verify"), &form, "").await.ok()?;
    let set = response.headers().get("set-cookie")?.to_str().ok()?;
    set.split(';').next().map(str::to_owned)
}

/// Signs the plate's driver up on the driver page (once per run).
async fn sign_up(http: &reqwest::Client, p: &mut Payments, plate: &str) -> bool {
    if p.signed.contains(plate) {
        return true;
    }
    let Some(proof) = sandbox_proof(&p.platform, plate).await else { return false };
    let form =
        format!("plate={}&no_stop=1&limit=200", form_urlencoded::byte_serialize(plate.as_bytes()).collect::<String>());
    let answer = driver_form(http, &format!("{}/pay/signup", p.platform), &form, &proof).await;
    let ok = answer.is_ok_and(|r| r.status().is_success() || r.status().is_redirection());
    if ok {
        p.signed.insert(plate.to_owned());
    }
    ok
}

#[allow(clippy::too_many_arguments)]
async fn lane_call(
    http: &reqwest::Client,
    url: &str,
    e: &Event,
    sim: &mut Sim,
    tickets: &mut HashMap<u64, (String, bool)>,
    tally: &mut Tally,
    no_photos: bool,
    payments: Option<&mut Payments>,
) {
    let (lane, read) = match &e.kind {
        EventKind::Entry { lane, read, .. } | EventKind::Exit { lane, read, .. } => (lane, read),
    };
    let mut body = json!({ "plateNo": read.plate_no, "plateColor": read.plate_color,
        "carType": read.car_type, "time": format_time(e.at) });
    // The stay an exit must close: the uid its entry was answered with.
    let mut expected = None;
    let mut no_stop_tried = false;
    let payment = match &e.kind {
        EventKind::Exit { payment, .. } => payment.clone(),
        EventKind::Entry { .. } => None,
    };
    let path = match &e.kind {
        EventKind::Entry { .. } => {
            if !no_photos {
                let plate = readable(&read.plate_no).then_some((read.plate_no.as_str(), read.plate_color));
                body["photo"] = json!(
                    base64::engine::general_purpose::STANDARD
                        .encode(onepark_sim::photo::lane_photo(plate, e.at, e.car))
                );
            }
            format!("/api/lanes/{lane}/entry")
        }
        EventKind::Exit { payment, .. } => {
            let Some((uid, ticket)) = tickets.remove(&e.car) else { return };
            // A stay opened without a readable plate is found by its ticket (or staff at the booth).
            if ticket || !readable(&read.plate_no) {
                body["uid"] = json!(uid);
            }
            let at_gate = payment.as_ref().is_some_and(|p| p.pay_scene == 103);
            let no_stop = match payments {
                Some(pay) if at_gate && readable(&read.plate_no) && signed_up(&read.plate_no) => {
                    sign_up(http, pay, &read.plate_no).await
                }
                _ => false,
            };
            no_stop_tried = no_stop;
            if let Some(p) = payment.as_ref().filter(|_| !no_stop) {
                body["paid"] = json!(p.amount);
                body["paidType"] = json!(p.paid_type);
                body["payScene"] = json!(p.pay_scene);
                body["dealTime"] = json!(format_time(p.deal_time));
            }
            expected = Some(uid);
            format!("/api/lanes/{lane}/exit")
        }
    };
    let send = async |body: &Value| -> Option<Value> {
        let response = post_json(http, format!("{url}{path}"), body).send().await.ok()?;
        serde_json::from_str(&response.text().await.ok()?).ok()
    };
    let mut answer = send(&body).await;
    // The deduction did not go through (declined, undecided in time): the
    // driver pays at the booth, as one would.
    if no_stop_tried
        && let Some(held) = answer.as_ref().filter(|a| a["reason"] == "unpaid")
        && let (Some(p), Some(due)) = (payment.as_ref(), held["due"].as_i64())
    {
        tally.no_stop_booth += 1;
        body["paid"] = json!(due);
        body["paidType"] = json!(p.paid_type);
        body["payScene"] = json!(p.pay_scene);
        answer = send(&body).await;
    }
    let Some(answer) = answer else {
        tally.failed += 1;
        if matches!(e.kind, EventKind::Entry { .. }) {
            sim.refused(e.car);
        }
        return;
    };
    let opened = answer["open"] == true;
    match &e.kind {
        EventKind::Entry { read, .. } if opened => {
            tally.entries += 1;
            let uid = answer["uid"].as_str().unwrap_or_default().to_owned();
            tickets.insert(e.car, (uid, !readable(&read.plate_no)));
        }
        EventKind::Exit { payment, .. } if opened => {
            tally.exits += 1;
            let asked = answer["fee"].as_i64().unwrap_or(0);
            let by_platform = answer["paidBy"] == "no_stop";
            tally.no_stop += u64::from(by_platform);
            let paid = if by_platform { asked } else { payment.as_ref().map_or(0, |p| p.amount) };
            tally.paid_fen += paid;
            tally.fee_differs += u64::from(asked != paid);
            tally.fuzzy += u64::from(answer["fuzzy"] == true);
            tally.wrong_stay += u64::from(answer["uid"].as_str() != expected.as_deref());
        }
        kind => {
            let reason = answer["reason"].as_str().unwrap_or("error").to_owned();
            *tally.refused.entry(reason).or_default() += 1;
            if matches!(kind, EventKind::Entry { .. }) {
                sim.refused(e.car);
            }
        }
    }
}

/// A plate a lane can find a stay by (not empty, `无车牌` or `未识别`).
fn readable(plate: &str) -> bool {
    use onepark_domain::plate::{NO_PLATE, UNRECOGNISED};
    !plate.is_empty() && plate != NO_PLATE && plate != UNRECOGNISED
}

fn table(city: &City, tallies: &[Tally]) {
    println!(
        "{:<12} {:<28} {:>8} {:>8} {:>10} {:>6}  refused / failed",
        "parkingCode", "lot", "entries", "exits", "paid (¥)", "fuzzy"
    );
    for (lot, t) in city.lots.iter().zip(tallies) {
        let refused: Vec<String> = t.refused.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!(
            "{:<12} {:<28} {:>8} {:>8} {:>10.2} {:>6}  {}{}{}",
            lot.parking_code,
            lot.name,
            t.entries,
            t.exits,
            t.paid_fen as f64 / 100.0,
            t.fuzzy,
            if refused.is_empty() { "-".to_owned() } else { refused.join(", ") },
            if t.failed > 0 { format!("; {} calls failed", t.failed) } else { String::new() },
            if t.fee_differs > 0 { format!("; {} fees differ from the model", t.fee_differs) } else { String::new() },
        );
        if t.wrong_stay > 0 {
            println!("{:<12} {} exits closed another car's stay", "", t.wrong_stay);
        }
    }
    let total = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    println!(
        "in all: {} entries, {} exits ({} paid without stopping, {} at the booth after a deduction failed), {} refused, {} failed",
        total(|t| t.entries),
        total(|t| t.exits),
        total(|t| t.no_stop),
        total(|t| t.no_stop_booth),
        total(|t| t.refused.values().sum()),
        total(|t| t.failed)
    );
}

/// Each lot's reconciliation of the simulated days (uploadCheckRecord
/// through the gateway).
async fn reconcile(http: &reqwest::Client, city: &City, from: NaiveDateTime, to: NaiveDateTime, urls: &[String]) {
    // Reconcile once each gateway has delivered what it holds (at most a minute).
    let deadline = Instant::now() + Duration::from_secs(60);
    for base in urls {
        let url = format!("{base}/api/status");
        while Instant::now() < deadline {
            let pending = match http.get(&url).send().await {
                Ok(r) => json_of(r).await.ok().and_then(|v| v["outbox"]["pending"].as_i64()),
                Err(_) => None,
            };
            if pending.is_none_or(|p| p == 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut day = from.date();
    while day <= to.date() {
        for (lot, base) in city.lots.iter().zip(urls) {
            let url = format!("{base}/api/reconcile");
            let answer = post_json(http, url, &json!({ "date": day.to_string() })).send().await;
            let verdict = match answer {
                Ok(r) => match json_of(r).await {
                    Ok(v) if v["balanced"] == true => "balanced".to_owned(),
                    Ok(v) => format!("not balanced: {}", v.get("error").unwrap_or(&v)),
                    Err(e) => format!("unreadable answer: {e}"),
                },
                Err(e) => format!("not reached: {e}"),
            };
            println!("reconciliation {day} {}: {verdict}", lot.parking_code);
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
}

fn post_json(http: &reqwest::Client, url: String, body: &Value) -> reqwest::RequestBuilder {
    http.post(url).header("content-type", "application/json").body(body.to_string())
}

async fn json_of(response: reqwest::Response) -> Result<Value> {
    Ok(serde_json::from_str(&response.text().await?)?)
}
