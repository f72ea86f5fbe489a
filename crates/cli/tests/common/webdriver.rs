//! A WebDriver client of just what the page tests need (W3C protocol over
//! reqwest: a session, navigation, elements, text, typing, clicks,
//! screenshots), driving Debian's chromium through chromedriver. Small
//! enough that a WebDriver crate's dependency tree does not earn its place.
//!
//! Two rules keep page tests honest:
//! - A step that leaves the page (a link, a form's submit button) goes through
//!   [`Browser::click_and_wait`] (or [`Browser::click_confirm_and_wait`]),
//!   which returns only once the *next* document has loaded: WebDriver's click
//!   returns as soon as the click is dispatched, so a read right after it may
//!   see the old page (payments.rs once read `.plate.big` from the form it had
//!   just submitted, 1 run in 3). Plain [`Browser::click`] is for clicks that
//!   stay on the page.
//! - The browser dies with the test, panics included: [`Browser`] owns a guard
//!   that kills chromedriver's process group and every process of the
//!   browser's profile when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use onepark_testkit::net::{free_port, wait_port};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    base: String,
    _guard: Guard,
}

/// chromedriver and the Chromium it started, killed on drop (SIGKILL): the
/// driver's process group (it is started as a group leader, and Chromium's
/// processes stay in its group), then any process still naming the profile
/// directory (a process that left the group). A test that panics half-way
/// leaves no browser behind.
struct Guard {
    driver: Child,
    profile: PathBuf,
}

impl Drop for Guard {
    /// Returns once no process of the profile is left: SIGKILL is delivered
    /// asynchronously, and a test that checks right after (or the next test
    /// reusing the profile) must not meet a dying browser. A killed process
    /// no longer shows its command line, so it stops matching at once.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = profile_processes(&self.profile);
            if left.is_empty() || std::time::Instant::now() > deadline {
                break;
            }
            for pid in left {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Processes whose command line names `--user-data-dir=<profile>` (Linux's /proc; none elsewhere).
pub fn profile_processes(profile: &Path) -> Vec<u32> {
    let flag = format!("--user-data-dir={}", profile.display());
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == flag.as_bytes()))
        })
        .collect()
}

/// chromium and chromedriver, from `CHROMIUM` / `CHROMEDRIVER` or Debian's paths.
pub fn find() -> Option<(String, String)> {
    let pick = |var: &str, default: &str| {
        let path = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        Path::new(&path).exists().then_some(path)
    };
    Some((pick("CHROMIUM", "/usr/bin/chromium")?, pick("CHROMEDRIVER", "/usr/bin/chromedriver")?))
}

impl Browser {
    /// A headless Chromium with its own empty profile in `profile`.
    pub async fn start(chromium: &str, chromedriver: &str, profile: &Path) -> Browser {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver");
        let guard = Guard { driver: child, profile: profile.to_owned() };
        wait_port(port, "chromedriver").await;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let caps = json!({ "capabilities": { "alwaysMatch": { "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1400,1000",
                     format!("--user-data-dir={}", profile.display())],
        } } } });
        let root = format!("http://127.0.0.1:{port}");
        let answer = send(&http, reqwest::Method::POST, &format!("{root}/session"), Some(caps)).await;
        let id = answer["sessionId"].as_str().expect("a WebDriver session").to_owned();
        Browser { http, base: format!("{root}/session/{id}"), _guard: guard }
    }

    /// chromedriver's process id (the leader of the browser's process group).
    pub fn driver_pid(&self) -> u32 {
        self._guard.driver.id()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        send(&self.http, method, &format!("{}{path}", self.base), body).await
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// The value of the cookie `name` of the page's site (HttpOnly ones too: WebDriver sees them).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let v = self.call(reqwest::Method::GET, &format!("/cookie/{name}"), None).await;
        v["value"].as_str().map(str::to_owned)
    }

    /// The address the browser is at.
    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The element matching a CSS selector, if any.
    pub async fn find(&self, css: &str) -> Option<String> {
        let v =
            self.call(reqwest::Method::POST, "/elements", Some(json!({ "using": "css selector", "value": css }))).await;
        v.as_array()?.first()?[ELEMENT].as_str().map(str::to_owned)
    }

    /// The ids of every element matching a CSS selector.
    async fn elements(&self, css: &str) -> Vec<String> {
        let v =
            self.call(reqwest::Method::POST, "/elements", Some(json!({ "using": "css selector", "value": css }))).await;
        let list = v.as_array().cloned().unwrap_or_default();
        list.iter().filter_map(|e| e[ELEMENT].as_str().map(str::to_owned)).collect()
    }

    /// What `GET /element/{id}/{what}` says of every element matching a CSS selector.
    async fn each(&self, css: &str, what: &str) -> Vec<String> {
        let mut out = Vec::new();
        for id in self.elements(css).await {
            let v = self.call(reqwest::Method::GET, &format!("/element/{id}/{what}"), None).await;
            out.push(v.as_str().unwrap_or_default().to_owned());
        }
        out
    }

    /// The text of every element matching a CSS selector.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        self.each(css, "text").await
    }

    pub async fn text(&self, css: &str) -> Option<String> {
        self.texts(css).await.into_iter().next()
    }

    /// The text of the first element matching `css` once it satisfies `want`
    /// (a click's navigation or a live refresh may still be under way), within 30 s.
    pub async fn wait_text(&self, css: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.text(css).await.unwrap_or_default();
            if want(&text) || std::time::Instant::now() > deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// An attribute of every element matching a CSS selector.
    pub async fn attributes(&self, css: &str, name: &str) -> Vec<String> {
        self.each(css, &format!("attribute/{name}")).await
    }

    /// Logs in to the console at `base` through its form.
    pub async fn login(&self, base: &str, name: &str, password: &str) {
        self.goto(&format!("{base}/login")).await;
        self.type_into("input[name=name]", name).await;
        self.type_into("input[name=password]", password).await;
        self.click_and_wait("form[action='/login'] button[type=submit]").await;
        let url = self.current_url().await;
        assert!(!url.ends_with("/login"), "logged in as {name}: {url}");
    }

    /// Chooses `value` in the `<select>` at `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let set = "const s = document.querySelector(arguments[0]); s.value = arguments[1]; return s.value;";
        let got = self.script(set, json!([css, value])).await;
        assert_eq!(got.as_str(), Some(value), "{css} has no option {value}");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await.unwrap_or_else(|| panic!("no {css} on the page"));
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({ "text": text }))).await;
    }

    /// A click that stays on the page (a button that only runs script).
    /// One that navigates is [`Browser::click_and_wait`].
    pub async fn click(&self, css: &str) {
        let id = self.find(css).await.unwrap_or_else(|| panic!("no {css} on the page"));
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await;
    }

    /// Clicks `css` (a link, a submit button) and returns once the page it
    /// leads to has loaded (see the module's first rule).
    pub async fn click_and_wait(&self, css: &str) {
        let page = self.mark_page().await;
        self.click(css).await;
        self.wait_new_page(&page, css).await;
    }

    /// Clicks `css`, accepts the `confirm()` it asks (`data-confirm` forms),
    /// and returns once the page it leads to has loaded.
    pub async fn click_confirm_and_wait(&self, css: &str) {
        let page = self.mark_page().await;
        self.click(css).await;
        self.accept_alert().await;
        self.wait_new_page(&page, css).await;
    }

    /// Marks the current document with a random token on its `window`; a
    /// new document has a new `window` without it.
    async fn mark_page(&self) -> String {
        let mut bytes = [0u8; 8];
        openssl::rand::rand_bytes(&mut bytes).expect("random");
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let set =
            self.script("window.__oneparkPage = arguments[0]; return window.__oneparkPage;", json!([token])).await;
        assert_eq!(set.as_str(), Some(token.as_str()), "could not mark the page: {set}");
        token
    }

    /// Waits until the document marked `page` is gone and its successor has
    /// loaded (`readyState` complete), within 30 s; a dialog still open or a
    /// document being replaced only makes a poll fail, not the wait.
    async fn wait_new_page(&self, page: &str, after: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let check = "return window.__oneparkPage !== arguments[0] && document.readyState === 'complete';";
        loop {
            let answer = self.script(check, json!([page])).await;
            if answer == Value::Bool(true) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "clicking {after} never loaded a new page: {answer}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` (a function body) with `args` in the page; its value, or WebDriver's error object.
    async fn script(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args }))).await
    }

    /// Accepts a `confirm()` dialog.
    pub async fn accept_alert(&self) {
        self.call(reqwest::Method::POST, "/alert/accept", Some(json!({}))).await;
    }

    /// Resizes the window (a phone's width for the driver pages).
    pub async fn window(&self, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({ "width": width, "height": height }))).await;
    }

    pub async fn screenshot(&self, path: &Path) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).expect("PNG");
        std::fs::write(path, png).expect("screenshot");
    }

    pub async fn close(self) {
        self.call(reqwest::Method::DELETE, "", None).await;
    }
}

async fn send(http: &reqwest::Client, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let text = request.send().await.expect("WebDriver call").text().await.expect("WebDriver answer");
    let v: Value = serde_json::from_str(&text).expect("WebDriver JSON");
    v["value"].clone()
}
