//! Issue 27 items 1 and 2 through the real binaries and headless Chromium:
//! an administrator, a lot operator, an auditor and an integration each do
//! a normal day's work with what their role allows, and everything they
//! changed is found again in the audit trail (page and CSV export).
//! Screenshots at 1400, 1024 and 390 px go to the target's tmp directory.

use std::path::Path;

use serde_json::json;

mod common;
use common::webdriver::Browser;
use common::{add_user, client, console_login, enc, platform_config, start, until};
use onepark_testkit::config::{lot_access, lot_toml};
use onepark_testkit::dirs::TempDir;
use onepark_testkit::net::free_port;

fn shot(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_does_its_days_work_and_every_change_is_found_again() {
    let Some((chromium, driver)) = common::webdriver::find() else {
        eprintln!("SKIPPED the console in Chromium: install chromium and chromium-driver (Debian)");
        return;
    };
    let dir = TempDir::new("console");
    let (http, mqtt) = (free_port(), free_port());
    let config = platform_config(&dir, http, mqtt, &lot_access("234", &["1001", "1002"]));
    let _platform = start(&dir, &["platform", "serve"], &config, http).await;
    let base = format!("http://127.0.0.1:{http}");
    let url = format!("{base}/api/v1/cp");
    let mut gateways = Vec::new();
    let ports = [free_port(), free_port()];
    for (code, port) in ["1001", "1002"].into_iter().zip(ports) {
        let path = dir.join(format!("lot-{code}.toml"));
        let text = lot_toml(
            code,
            &format!("listen = \"127.0.0.1:{port}\"\n"),
            &dir.join(format!("{code}.db")),
            (100, 90),
            &url,
        ) + &format!("mqtt_url = \"mqtt://127.0.0.1:{mqtt}\"\n");
        std::fs::write(&path, text).expect("lot config");
        gateways.push(start(&dir, &["lot", "serve"], &path, port).await);
    }
    until("both lots heard from", || async {
        let lots = common::get(format!("{base}/api/admin/lots")).await;
        (lots["lots"].as_array().map_or(0, Vec::len) < 2).then_some(lots)
    })
    .await;
    // Two cars at lot 1001, the second read with a confusable character; one at 1002.
    for (port, plate) in [(ports[0], "鲁B55298"), (ports[0], "鲁B5S298"), (ports[1], "鲁U12345")] {
        assert_eq!(common::lane(port, "/api/lanes/1/entry", json!({ "plateNo": plate })).await["open"], true);
    }
    until("the three entries in the city", || async {
        let r = common::get(format!("{base}/api/admin/records?pageSize=10")).await;
        (r["items"].as_array().map_or(0, Vec::len) < 3).then_some(r)
    })
    .await;
    add_user(&config, "chen", "admin", &[], "chen password 1");
    add_user(&config, "wang", "operator", &["1001"], "wang password 1");
    add_user(&config, "li", "auditor", &[], "li password 11");

    let browser = Browser::start(&chromium, &driver, &dir.join("chromium")).await;
    // The administrator: the records' history by a part of a plate, then a
    // booth account and an integration's token from the accounts page.
    browser.login(&base, "chen", "chen password 1").await;
    browser.goto(&format!("{base}/records?plate=B55298")).await;
    let found = browser.texts("#records tbody tr").await;
    assert_eq!(found.len(), 2, "the plate and its misread: {found:?}");
    assert!(found.iter().any(|r| r.contains("鲁B5S298") && r.contains("近似")), "the misread is marked: {found:?}");
    assert!(found.iter().all(|r| r.contains("在场")), "{found:?}");
    for width in [1400, 1024, 390] {
        browser.window(width, 1000).await;
        browser.screenshot(&shot(&format!("console-records-{width}.png"))).await;
    }
    browser.window(1400, 1000).await;
    browser.goto(&format!("{base}/users")).await;
    browser.type_into("#add-account input[name=name]", "zhao").await;
    browser.select("#add-account select[name=role]", "booth").await;
    browser.type_into("#add-account input[name=lots]", "1002").await;
    browser.click_and_wait("#add-account button[type=submit]").await;
    let made = browser.text("#secret code").await.unwrap_or_default();
    assert_eq!(made.len(), 16, "a password made for the booth, shown once: {made:?}");
    assert!(!browser.current_url().await.contains(&made), "never in the address");
    browser.type_into("#add-token input[name=name]", "erp").await;
    browser.select("#add-token select[name=role]", "operator").await;
    browser.type_into("#add-token input[name=lots]", "1001").await;
    browser.click_and_wait("#add-token button[type=submit]").await;
    let token = browser.text("#secret code").await.unwrap_or_default();
    assert!(token.starts_with("opk_") && token.len() == 68, "{token}");
    for width in [1400, 1024, 390] {
        browser.window(width, 1000).await;
        browser.screenshot(&shot(&format!("console-users-{width}.png"))).await;
    }
    browser.window(1400, 1000).await;
    // A black-list entry for one lot, sent from the lists page.
    browser.goto(&format!("{base}/lists")).await;
    browser.type_into("#add-list input[name=plate]", "鲁B55298").await;
    browser.select("#add-list select[name=lot]", "1001").await;
    browser.type_into("#add-list input[name=remark]", "逃费车辆").await;
    browser.click_and_wait("#add-list button[type=submit]").await;
    browser.wait_text("#notice", |t| t.contains("已下发")).await;
    browser.click_and_wait("#user button[type=submit]").await;
    assert!(browser.current_url().await.ends_with("/login"), "signed out");

    // The lot operator: only lot 1001, everywhere.
    browser.login(&base, "wang", "wang password 1").await;
    let codes = browser.attributes("#lots tr[data-code]", "data-code").await;
    assert_eq!(codes, ["1001"], "the city page lists its lots only");
    browser.goto(&format!("{base}/records")).await;
    let seen = browser.attributes("#records tbody tr", "data-code").await;
    assert!(!seen.is_empty() && seen.iter().all(|c| c == "1001"), "its lots' records only: {seen:?}");
    browser.goto(&format!("{base}/records?lot=1002")).await;
    assert!(browser.text("#denied").await.is_some(), "another lot's records are refused");
    browser.goto(&format!("{base}/lots/1002")).await;
    let denied = browser.text("#denied").await.unwrap_or_default();
    assert!(denied.contains("无权访问该车场"), "{denied}");
    browser.window(390, 900).await;
    browser.screenshot(&shot("console-denied-390.png")).await;
    browser.window(1400, 1000).await;
    browser.goto(&format!("{base}/lists")).await;
    let lots = browser.attributes("#add-list select[name=lot] option", "value").await;
    assert_eq!(lots, ["", "1001"], "its lots to pick from");
    browser.wait_text("#list-entries tr[data-plate='鲁B55298']", |t| t.contains("已确认")).await;
    browser.click_confirm_and_wait("tr[data-plate='鲁B55298'] button.danger").await;
    browser.wait_text("#notice", |t| t.contains("已下发")).await;
    browser.goto(&format!("{base}/account")).await;
    for width in [1400, 1024, 390] {
        browser.window(width, 900).await;
        browser.screenshot(&shot(&format!("console-account-{width}.png"))).await;
    }
    browser.window(1400, 1000).await;
    browser.click_and_wait("#user button[type=submit]").await;

    // The integration: its token reads and changes its lot only.
    let api = |path: &str| client().get(format!("{base}{path}")).bearer_auth(&token).send();
    assert_eq!(api("/api/admin/records?parkingCode=1001").await.expect("api").status(), 200);
    assert_eq!(api("/api/admin/records?parkingCode=1002").await.expect("api").status(), 403);
    assert_eq!(api("/api/admin/records").await.expect("api").status(), 403);
    let lots = api("/api/admin/lots").await.expect("api").text().await.expect("body");
    assert!(lots.contains("\"1001\"") && !lots.contains("\"1002\""), "{lots}");
    let change = json!({ "accessId": "234", "parkingCodes": ["1002"], "plateNo": "鲁B66666", "list": "black",
        "operate": "add", "startTime": "2026-01-01 00:00:00", "endTime": "2027-01-01 00:00:00" });
    let refused = client()
        .post(format!("{base}/api/admin/lists"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(change.to_string())
        .send()
        .await;
    assert_eq!(refused.expect("api").status(), 403);

    // The auditor: reads everything, changes nothing, and a form without its token is refused.
    let auditor = console_login(&base, "li", "li password 11").await;
    let page = client().get(format!("{base}/lists")).header("cookie", &auditor).send().await.expect("page");
    let page = page.text().await.expect("body");
    assert!(!page.contains("id=\"add-list\""), "no form the auditor may not send");
    let at = page.find("name=\"csrf\" value=\"").expect("its form token") + 19;
    let csrf = &page[at..at + 32];
    let post = |form: String| {
        client()
            .post(format!("{base}/lists"))
            .header("cookie", &auditor)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let form = format!("operate=add&plate={}&list=black&lot=1002", enc("鲁B77777"));
    assert_eq!(post(form.clone()).await.expect("post").status(), 403, "no form token");
    assert_eq!(post(format!("{form}&csrf={csrf}")).await.expect("post").status(), 403, "an auditor changes nothing");

    // Everything is found again: the administrator's audit page, and its export.
    browser.login(&base, "li", "li password 11").await;
    browser.goto(&format!("{base}/audit")).await;
    let rows = browser.texts("#audit tbody tr").await;
    for (who, what) in [("chen", "zhao"), ("chen", "erp"), ("chen", "鲁B55298"), ("wang", "鲁B55298"), ("cli", "wang")]
    {
        assert!(rows.iter().any(|r| r.contains(who) && r.contains(what)), "{who} changed {what}: {rows:?}");
    }
    assert!(rows.iter().any(|r| r.contains("逃费车辆")), "the reason: {rows:?}");
    assert!(!rows.iter().any(|r| r.contains("鲁B66666") || r.contains("鲁B77777")), "refused requests changed nothing");
    for width in [1400, 1024, 390] {
        browser.window(width, 1000).await;
        browser.screenshot(&shot(&format!("console-audit-{width}.png"))).await;
    }
    let csv = client().get(format!("{base}/audit?format=csv&kind=list")).header("cookie", &auditor).send().await;
    let csv = csv.expect("export").text().await.expect("csv");
    assert!(csv.starts_with("\u{feff}时间,操作人,角色,来源地址,类别"), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains("鲁B55298")).count(), 2, "added and removed: {csv}");
    browser.close().await;
}
