//! `onepark demo` through the real binary: a first run fills a two-lot
//! city, the dashboard (in headless Chromium, when installed) shows the
//! admin API's numbers and carries a black-list entry to every lot's
//! confirmation and back; Ctrl-C stops cleanly; a second run resumes the
//! same city with its cars still parked.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::webdriver::{self, Browser};
use common::{Process, client};
use onepark_testkit::dirs::fresh_dir;
use onepark_testkit::net::{free_port, wait_port};
use serde_json::Value;

/// Two consecutive free ports for the two lots.
fn two_ports() -> u16 {
    loop {
        let p = free_port();
        if p < 65_000 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

async fn demo(dir: &Path, http: u16, mqtt: u16, first: u16, run: u32) -> Process {
    let out = std::fs::File::create(dir.join(format!("stdout-{run}.txt"))).expect("stdout file");
    let child = Command::new(env!("CARGO_BIN_EXE_onepark"))
        .args(["demo", "--lots", "2", "--speed", "3000", "--data"])
        .arg(dir.join("data"))
        .args(["--listen", &format!("127.0.0.1:{http}"), "--mqtt-listen", &format!("127.0.0.1:{mqtt}")])
        .args(["--first-port", &first.to_string()])
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("onepark demo");
    let process = Process(child);
    wait_port(http, "onepark demo").await;
    process
}

/// Ctrl-C, and the exit status within 30 s.
fn interrupt(mut p: Process) -> std::process::ExitStatus {
    let pid = p.0.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().expect("kill -INT");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = p.0.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "onepark demo did not stop within 30 s of Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn overview(http: u16, token: &str) -> Value {
    let url = format!("http://127.0.0.1:{http}/api/admin/overview");
    let text = client().get(url).bearer_auth(token).send().await.expect("overview").text().await.expect("body");
    serde_json::from_str(&text).expect("JSON")
}

/// Waits until both lots have reported entries and the catching-up is
/// over (two reads a second apart agree), at most three minutes.
async fn settled(http: u16, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = Value::Null;
    loop {
        let o = overview(http, token).await;
        let ready = o["lots"].as_array().is_some_and(|l| l.len() == 2) && o["city"]["entriesToday"].as_i64() > Some(0);
        if ready && o["city"] == last["city"] {
            return o;
        }
        assert!(Instant::now() < deadline, "the demo city did not settle: {o}");
        last = o;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_shows_its_city_stops_and_resumes() {
    let dir = fresh_dir("demo");
    let (http, mqtt, first) = (free_port(), free_port(), two_ports());
    let run = demo(&dir, http, mqtt, first, 1).await;
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("data/demo.json")).expect("demo.json")).expect("JSON");
    let token = saved["adminToken"].as_str().expect("token").to_owned();
    // One car of the test's own, parked through the run: the simulated city may
    // have no traffic since midnight (the demo's two lots are empty at night),
    // and the second run must find a car still parked.
    wait_port(first, "the demo's first lot").await;
    let parked =
        post(&format!("http://127.0.0.1:{first}"), "/api/lanes/E1/entry", serde_json::json!({ "plateNo": "鲁B0T002" }))
            .await;
    assert_eq!(parked["open"], true, "{parked}");
    let o = settled(http, &token).await;
    eprintln!("first run: {}", o["city"]);

    match webdriver::find() {
        Some((chromium, driver)) => {
            pages(&dir, http, &token, &demo_password(&dir), &chromium, &driver).await;
            booth(&dir, first, &chromium, &driver).await;
        }
        None => eprintln!(
            "SKIPPED the dashboard in Chromium: no /usr/bin/chromium and chromedriver (apt-get install chromium chromium-driver)"
        ),
    }

    assert!(interrupt(run).success(), "Ctrl-C ends the demo with status 0");
    let out = std::fs::read_to_string(dir.join("stdout-1.txt")).expect("stdout");
    assert!(out.contains(&format!("http://127.0.0.1:{http}/login")), "the dashboard URL is printed: {out}");
    assert!(!out.contains("?token="), "no secret in a URL: {out}");
    assert!(out.contains(&format!("user admin, password {} (shown this once)", demo_password(&dir))), "{out}");
    assert!(out.contains("resumes this city"), "{out}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("data/demo.json")).expect("demo.json")).expect("JSON");
    assert!(saved["clock"].is_string(), "how far the city got is kept: {saved}");

    let run = demo(&dir, http, mqtt, first, 2).await;
    let again = settled(http, &token).await;
    assert!(
        again["city"]["entriesToday"].as_i64() >= o["city"]["entriesToday"].as_i64(),
        "the second run keeps the first run's records: {} then {}",
        o["city"],
        again["city"]
    );
    assert!(interrupt(run).success());
    let out = std::fs::read_to_string(dir.join("stdout-2.txt")).expect("stdout");
    assert!(out.contains("resumed"), "{out}");
    assert!(!out.contains(&demo_password(&dir)), "the password is shown once only: {out}");
    assert!(out.contains("still parked from the last run"), "the gateways' open sessions join the model: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The administrator's password the first run printed.
fn demo_password(dir: &Path) -> String {
    let out = std::fs::read_to_string(dir.join("stdout-1.txt")).expect("stdout");
    let at = out.find("user admin, password ").expect("the demo prints its administrator's password") + 21;
    out[at..].split_whitespace().next().unwrap_or_default().to_owned()
}

/// The dashboard's numbers are the admin API's; a black-list entry added
/// on the page reaches both lots, and so does its removal.
async fn pages(dir: &Path, http: u16, token: &str, password: &str, chromium: &str, driver: &str) {
    let browser = Browser::start(chromium, driver, &dir.join("chromium")).await;
    let base = format!("http://127.0.0.1:{http}");
    browser.login(&base, "admin", password).await;
    // Live traffic may move a number between two reads: compare when the
    // API read before and after the page agree.
    let mut compared = false;
    for _ in 0..10 {
        let before = overview(http, token).await;
        browser.goto(&format!("{base}/")).await;
        let entries = browser.text("#stat-entries .value").await;
        let rows = browser.texts("#lots td.entries").await;
        let codes = browser.attributes("#lots tr[data-code]", "data-code").await;
        let after = overview(http, token).await;
        if before["lots"] != after["lots"] {
            continue;
        }
        assert_eq!(entries, Some(after["city"]["entriesToday"].to_string()));
        for (code, shown) in codes.iter().zip(&rows) {
            let lot = after["lots"].as_array().and_then(|l| l.iter().find(|l| l["parkingCode"] == code.as_str()));
            assert_eq!(Some(shown.clone()), lot.map(|l| l["entriesToday"].to_string()), "lot {code}");
        }
        assert_eq!(codes.len(), 2);
        compared = true;
        break;
    }
    assert!(compared, "the city never held still for a comparison");
    browser.screenshot(&shots().join("demo-overview.png")).await;

    browser.goto(&format!("{base}/lists")).await;
    browser.type_into("#add-list input[name=plate]", "鲁B7E519").await;
    browser.click_and_wait("#add-list button[type=submit]").await;
    let notice = browser.wait_text("#notice", |t| t.contains("鲁B7E519")).await;
    assert!(notice.contains("鲁B7E519") && notice.contains('2'), "sent to both lots: {notice}");
    confirmed(&browser, &base, "鲁B7E519", false).await;
    browser.screenshot(&shots().join("demo-lists.png")).await;
    browser.click_confirm_and_wait("tr[data-plate='鲁B7E519'] button.danger").await;
    confirmed(&browser, &base, "鲁B7E519", true).await;
    // An address nothing answers: a page in the site's layout, the way back.
    browser.goto(&format!("{base}/no/such/page")).await;
    browser.wait_text("#not-found", |t| t.contains("找不到该页面")).await;
    for width in [390, 1400] {
        browser.window(width, 800).await;
        browser.screenshot(&shots().join(format!("demo-404-{width}.png"))).await;
    }
    browser.close().await;
}

/// The booth page of the first lot: a car held unpaid at the exit is
/// collected and let out from the page; the barrier opened by hand shows
/// in the lane events with its reason.
async fn booth(dir: &Path, lot: u16, chromium: &str, driver: &str) {
    let lane = format!("http://127.0.0.1:{lot}");
    let plate = "鲁B0T001";
    let zone = onepark_domain::time::Zone::default();
    // Not a whole number of periods ago: the fee must not grow between the
    // hold and the collection, seconds apart.
    let three_hours_ago = zone.local(chrono::Utc::now()) - chrono::Duration::minutes(173);
    let entered = post(
        &lane,
        "/api/lanes/E1/entry",
        serde_json::json!({ "plateNo": plate,
        "time": onepark_domain::time::format_time(three_hours_ago) }),
    )
    .await;
    assert_eq!(entered["open"], true, "{entered}");
    let held = post(&lane, "/api/lanes/X1/exit", serde_json::json!({ "plateNo": plate })).await;
    assert_eq!((held["open"].clone(), held["reason"].clone()), (Value::Bool(false), Value::from("unpaid")), "{held}");
    let due = held["due"].as_i64().expect("due");

    let browser = Browser::start(chromium, driver, &dir.join("chromium-booth")).await;
    browser.goto(&format!("{lane}/booth")).await;
    let waiting = browser.texts("form.waiting").await;
    assert!(waiting.iter().any(|w| w.contains(plate)), "the held car waits on the page: {waiting:?}");
    browser.screenshot(&shots().join("demo-booth.png")).await;
    for width in [390, 1024] {
        browser.window(width, 900).await;
        browser.screenshot(&shots().join(format!("demo-booth-{width}.png"))).await;
    }
    browser.window(1400, 900).await;
    // This car's form: simulated cars may be waiting too (a no-stop deduction that did not go through).
    browser
        .click_confirm_and_wait(&format!("form.waiting:has(input[name=plate][value=\"{plate}\"]) button[type=submit]"))
        .await;
    let amount = format!("{}.{:02}", due / 100, due % 100);
    let notice = browser.wait_text("#notice", |t| t.contains(plate) && t.contains(&amount)).await;
    assert!(notice.contains(plate) && notice.contains(&amount), "{notice}");
    let sessions = client().get(format!("{lane}/api/sessions?plateNo={plate}")).send().await.expect("sessions");
    let sessions: Value = serde_json::from_str(&sessions.text().await.expect("body")).expect("JSON");
    assert_eq!(sessions["items"][0]["state"], "closed", "collected and let out: {sessions}");
    assert_eq!(sessions["items"][0]["paid"], due);

    browser.type_into("#manual-open input[name=reason]", "救护车").await;
    browser.click_and_wait("#manual-open button[type=submit]").await;
    let notice = browser.wait_text("#notice", |t| t.contains("已手动开闸")).await;
    assert!(notice.contains("已手动开闸"), "{notice}");
    let events = browser.texts("#events tr.event[data-reason=manual]").await;
    assert!(events.iter().any(|e| e.contains("救护车")), "the opening is in the lane events: {events:?}");
    browser.close().await;
}

async fn post(base: &str, path: &str, body: Value) -> Value {
    let response =
        client().post(format!("{base}{path}")).header("content-type", "application/json").body(body.to_string());
    let text = response.send().await.expect("lane call").text().await.expect("body");
    serde_json::from_str(&text).expect("JSON")
}

/// Screenshots are kept after the run (target/tmp) to be looked at.
fn shots() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// Waits (a minute at most) until the page shows both lots' confirmation
/// of the plate's latest change (`removed`: a removal).
async fn confirmed(browser: &Browser, base: &str, plate: &str, removed: bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        browser.goto(&format!("{base}/lists")).await;
        // A removal every lot confirmed leaves the list for its "removed" part.
        let gone = browser.attributes(&format!("#removed-entries tr[data-plate='{plate}']"), "data-plate").await;
        if removed && !gone.is_empty() {
            return;
        }
        let row = format!("#list-entries tr[data-plate='{plate}']");
        let states = browser.attributes(&format!("{row} .delivery"), "data-state").await;
        let removals = browser.texts(&format!("{row} .lot-state .badge.off")).await.len();
        if states.len() == 2 && states.iter().all(|s| s == "confirmed") && (removals == 2) == removed {
            return;
        }
        assert!(Instant::now() < deadline, "not confirmed by both lots: {states:?}, {removals} removals");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
