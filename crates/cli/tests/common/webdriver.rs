//! A WebDriver client of just what the page tests need (W3C protocol over
//! reqwest: a session, navigation, elements, text, typing, clicks,
//! screenshots), driving Debian's chromium through chromedriver. Small
//! enough that a WebDriver crate's dependency tree does not earn its place.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use super::{Process, free_port, wait_port};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Process,
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
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let driver = Process(child);
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
        Browser { http, base: format!("{root}/session/{id}"), _driver: driver }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        send(&self.http, method, &format!("{}{path}", self.base), body).await
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
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

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await.unwrap_or_else(|| panic!("no {css} on the page"));
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({ "text": text }))).await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await.unwrap_or_else(|| panic!("no {css} on the page"));
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await;
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
