//! Issue 27 item 6 through the real binaries and headless Chromium: a car
//! whose plate the entry camera could not read leaves through an exit that
//! reads it wrongly; the attendant matches it to its entry by the photos,
//! collects its fee by WeChat and it leaves; barriers opened by hand are
//! in the ledger under each person's name; the shift report (交接班) sums
//! what each person took by method. Screenshots at 1400, 1024 and 390 px.

use base64::Engine as _;
use serde_json::{Value, json};

mod common;
use common::webdriver::Browser;
use common::{client, platform_config, start};
use onepark_testkit::config::{lot_access, lot_toml};
use onepark_testkit::dirs::TempDir;
use onepark_testkit::net::free_port;

const DEVICE: &str = "booth-test-device-token-0123456789";

fn shot(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

async fn lane(port: u16, path: &str, body: Value) -> Value {
    let reply = client()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(DEVICE)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("lane");
    serde_json::from_str(&reply.text().await.expect("body")).expect("JSON")
}

/// The booth's session cookie of the browser (for a request sent beside it).
async fn browser_cookie(browser: &Browser) -> String {
    browser.cookie("onepark_staff").await.map(|v| format!("onepark_staff={v}")).unwrap_or_default()
}

fn photo(plate: Option<&str>, minutes_ago: i64, car: u64) -> String {
    let at = onepark_domain::time::Zone::default().local(chrono::Utc::now()) - chrono::Duration::minutes(minutes_ago);
    let jpeg = onepark_sim::photo::lane_photo(plate.map(|p| (p, 1)), at, car);
    base64::engine::general_purpose::STANDARD.encode(jpeg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booth_matches_an_unread_plate_charges_it_and_reports_the_shift() {
    let Some((chromium, driver)) = common::webdriver::find() else {
        eprintln!("SKIPPED the booth in Chromium: install chromium and chromium-driver (Debian)");
        return;
    };
    let dir = TempDir::new("booth");
    let (http, mqtt, port) = (free_port(), free_port(), free_port());
    let config = platform_config(&dir, http, mqtt, &lot_access("234", &["1001"]));
    let _platform = start(&dir, &["platform", "serve"], &config, http).await;
    let url = format!("http://127.0.0.1:{http}/api/v1/cp");
    let hash = |p: &str| onepark_lot::auth::hash_password(p).expect("hash");
    let text = lot_toml("1001", &format!("listen = \"127.0.0.1:{port}\"\n"), &dir.join("lot.db"), (100, 90), &url)
        + &format!("mqtt_url = \"mqtt://127.0.0.1:{mqtt}\"\n")
        + "[tariff]\nfree_minutes = 15\nperiod_minutes = 60\nprice = 300\ncycle_cap = 1200\n"
        + &format!("[[auth.devices]]\nname = \"cameras\"\ntoken = \"{DEVICE}\"\n")
        + &format!("[[auth.staff]]\nuser = \"zhang\"\npassword = \"{}\"\n", hash("zhang booth 1"))
        + &format!("[[auth.staff]]\nuser = \"li\"\npassword = \"{}\"\n", hash("li booth 22"));
    let lot_config = dir.join("lot.toml");
    std::fs::write(&lot_config, text).expect("lot config");
    let _lot = start(&dir, &["lot", "serve"], &lot_config, port).await;
    let base = format!("http://127.0.0.1:{port}");

    // In 95 minutes ago, its plate unread; another car inside too.
    let minutes = |m: i64| {
        onepark_domain::time::format_time(
            onepark_domain::time::Zone::default().local(chrono::Utc::now()) - chrono::Duration::minutes(m),
        )
    };
    let unread =
        lane(port, "/api/lanes/1/entry", json!({ "plateNo": "", "time": minutes(95), "photo": photo(None, 95, 7) }))
            .await;
    assert_eq!(unread["unresolved"], true, "{unread}");
    let other = lane(
        port,
        "/api/lanes/1/entry",
        json!({ "plateNo": "鲁B66602", "time": minutes(40), "photo": photo(Some("鲁B66602"), 40, 8) }),
    )
    .await;
    assert_eq!(other["open"], true, "{other}");
    // At the exit the camera reads a plate no stay has.
    let out =
        lane(port, "/api/lanes/2/exit", json!({ "plateNo": "鲁B66601", "photo": photo(Some("鲁B66601"), 0, 7) })).await;
    assert_eq!((out["open"].clone(), out["reason"].clone()), (json!(false), json!("no_session")), "{out}");

    let browser = Browser::start(&chromium, &driver, &dir.join("chromium")).await;
    browser.goto(&format!("{base}/booth/login")).await;
    browser.type_into("input[name=user]", "zhang").await;
    browser.type_into("input[name=password]", "zhang booth 1").await;
    browser.click_and_wait("form[action='/booth/login'] button[type=submit]").await;
    browser.goto(&format!("{base}/booth")).await;
    let candidates = browser.attributes("#unmatched label.candidate", "data-uid").await;
    assert!(
        candidates.contains(&unread["uid"].as_str().expect("uid").to_owned()),
        "the unread entry is offered: {candidates:?}"
    );
    let photos = browser.attributes("#unmatched img", "src").await;
    assert!(photos.len() >= 2, "the exit's photo and the entry's: {photos:?}");
    for width in [1400, 1024, 390] {
        browser.window(width, 1100).await;
        browser.screenshot(&shot(&format!("booth-match-{width}.png"))).await;
    }
    browser.window(1400, 1100).await;
    browser.click(&format!("label.candidate[data-uid='{}'] input", unread["uid"].as_str().expect("uid"))).await;
    browser.click_and_wait("form.match button[type=submit]").await;
    let notice = browser.wait_text("#notice", |t| !t.is_empty()).await;
    assert!(notice.contains("请收费"), "matched, its fee to collect: {notice}");
    // Now it waits at the exit with what it owes, its two photos side by side.
    let waiting = browser.texts("form.waiting").await;
    assert!(waiting.iter().any(|w| w.contains("未识别") && w.contains("已停")), "{waiting:?}");
    let pair = browser.attributes("form.waiting .photos.pair img", "src").await;
    assert_eq!(pair.len(), 2, "entry and exit photos: {pair:?}");
    for width in [1400, 390] {
        browser.window(width, 1100).await;
        browser.screenshot(&shot(&format!("booth-waiting-{width}.png"))).await;
    }
    browser.window(1400, 1100).await;
    browser.select("form.waiting select[name=paidType]", "3").await;
    browser.click_confirm_and_wait("form.waiting button[type=submit]").await;
    let collected = browser.wait_text("#notice", |t| !t.is_empty()).await;
    assert!(collected.contains("¥") && !collected.contains("失败"), "{collected}");
    // The same form again (a double click, a second screen): the car has gone; no other stay is touched.
    let again = client()
        .post(format!("{base}/booth/collect"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", browser_cookie(&browser).await)
        .body(format!(
            "lane=2&uid={}&plate={}&paidType=1",
            unread["uid"].as_str().expect("uid"),
            common::enc("鲁B66602")
        ))
        .send()
        .await
        .expect("collect again");
    let page = again.text().await.expect("page");
    assert!(page.contains("已不在"), "refused: {}", &page[..page.len().min(400)]);
    browser.goto(&format!("{base}/booth")).await;
    let inside = browser.texts("#inside tr").await;
    assert!(inside.iter().any(|r| r.contains("鲁B66602")), "the other car stays inside: {inside:?}");
    // A barrier by hand, with its reason.
    browser.select("#manual-open select[name=lane]", "1").await;
    browser.type_into("#manual-open input[name=reason]", "救护车").await;
    browser.click_and_wait("#manual-open button[type=submit]").await;
    let opened = browser.wait_text("#notice", |t| !t.is_empty()).await;
    assert!(opened.contains("已手动开闸"), "{opened}");

    // Li opens one too, from another browser session (a cookie of her own).
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let login = no_redirect
        .post(format!("{base}/booth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user=li&password=li+booth+22")
        .send()
        .await
        .expect("login");
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("cookie").to_owned();
    let opened = no_redirect
        .post(format!("{base}/booth/open"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("lane=2&reason={}", common::enc("设备故障")))
        .send()
        .await
        .expect("open");
    assert_eq!(opened.status(), 303);
    let to = opened.headers()["location"].to_str().expect("location").to_owned();
    assert!(to.starts_with("/booth?notice="), "li's opening: {to} ({cookie})");

    // Through the staff API with her own token, claiming to be zhang: still hers.
    let login = client()
        .post(format!("{base}/api/login"))
        .header("content-type", "application/json")
        .body(json!({ "user": "li", "password": "li booth 22" }).to_string())
        .send()
        .await
        .expect("api login");
    let token: Value = serde_json::from_str(&login.text().await.expect("body")).expect("JSON");
    let opened = client()
        .post(format!("{base}/api/lanes/1/open"))
        .bearer_auth(token["token"].as_str().expect("token"))
        .header("content-type", "application/json")
        .body(json!({ "reason": "巡检", "operator": "zhang" }).to_string())
        .send()
        .await
        .expect("open");
    assert_eq!(opened.status(), 200);

    // The shift report: each person, by method.
    browser.goto(&format!("{base}/booth/shift")).await;
    let zhang = browser.text(".person[data-staff='zhang']").await.unwrap_or_default();
    assert!(zhang.contains("微信") && zhang.contains("1 笔") && zhang.contains("手动开闸 1"), "{zhang}");
    let li = browser.text(".person[data-staff='li']").await.unwrap_or_default();
    assert!(li.contains("手动开闸 2") && !li.contains("微信"), "{li}");
    for width in [1400, 1024, 390] {
        browser.window(width, 1000).await;
        browser.screenshot(&shot(&format!("booth-shift-{width}.png"))).await;
    }
    browser.close().await;
}
