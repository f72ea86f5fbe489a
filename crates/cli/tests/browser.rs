//! The WebDriver client's own rules (tests/common/webdriver.rs): a click that
//! navigates returns once the next page has loaded, and a page test that
//! panics leaves no browser running.

mod common;

use std::time::Duration;

use axum::response::Html;
use axum::routing::{get, post};
use common::webdriver::{self, Browser, profile_processes};
use onepark_testkit::dirs::fresh_dir;

/// A form whose answer comes late, as a platform's under load does: a read
/// right after a plain click sees the old page.
async fn site() -> String {
    let app = axum::Router::new()
        .route(
            "/",
            get(|| async {
                Html(concat!(
                    r#"<p class="plate big">old</p><form method="post" action="/next"><button type="submit">go</button></form>"#,
                    // A navigation a script starts after the click (WebDriver cannot know it is coming).
                    r#"<button id="later" onclick="setTimeout(function () { document.forms[0].submit(); }, 300)">later</button>"#,
                ))
            }),
        )
        .route(
            "/next",
            post(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                Html(r#"<p class="plate big">new</p><a id="back" href="/">back</a>"#)
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_navigating_click_waits_for_the_next_page_and_a_panic_leaves_no_browser() {
    let Some((chromium, chromedriver)) = webdriver::find() else {
        eprintln!("SKIPPED: install chromium and chromium-driver (Debian)");
        return;
    };
    let dir = fresh_dir("browser");
    let url = site().await;
    let browser = Browser::start(&chromium, &chromedriver, &dir.join("chromium")).await;
    for _ in 0..3 {
        browser.goto(&format!("{url}/")).await;
        browser.click_and_wait("form button[type=submit]").await;
        assert_eq!(browser.text(".plate.big").await.as_deref(), Some("new"), "read at once after the click");
        browser.click_and_wait("#back").await;
        assert_eq!(browser.text(".plate.big").await.as_deref(), Some("old"));
        browser.click_and_wait("#later").await;
        assert_eq!(browser.text(".plate.big").await.as_deref(), Some("new"), "read at once after the click");
    }
    browser.close().await;

    // A page test that fails half-way: its browser and driver die with it.
    let profile = dir.join("chromium-panics");
    let (chromium_, chromedriver_, profile_) = (chromium.clone(), chromedriver.clone(), profile.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let failed = tokio::spawn(async move {
        let browser = Browser::start(&chromium_, &chromedriver_, &profile_).await;
        browser.goto("about:blank").await;
        let _ = tx.send((browser.driver_pid(), profile_processes(&profile_)));
        panic!("a page test fails with its browser open");
    })
    .await;
    assert!(failed.is_err_and(|e| e.is_panic()));
    let (driver, running) = rx.await.expect("the browser started");
    assert!(!running.is_empty(), "Chromium ran with the profile");
    assert!(!std::path::Path::new(&format!("/proc/{driver}")).exists(), "chromedriver {driver} still runs");
    assert_eq!(profile_processes(&profile), Vec::<u32>::new(), "Chromium still runs after the panic");
    let _ = std::fs::remove_dir_all(&dir);
}
