//! The dashboard's session mechanics, through the router: the cookie is a
//! server-side session (never the admin token), logout revokes it, login
//! tries are throttled before the comparison, POSTs from another origin are
//! refused, and every page says what it may load and who may frame it.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use onepark_platform::app::{AppState, router};
use onepark_platform::config::Config;
use onepark_platform::store::Store;
use onepark_testkit::dirs::TempDir;
use onepark_testkit::router::send;

struct Dashboard {
    app: axum::Router,
    _dir: TempDir,
}

/// A response's status, headers and body text.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// `name=value` of the session cookie set.
    fn session(&self) -> String {
        let cookie = self.header("set-cookie");
        assert!(cookie.starts_with("onepark_session="), "a session cookie: {cookie:?}");
        cookie.split(';').next().unwrap_or_default().to_owned()
    }
}

impl Dashboard {
    async fn new(tag: &str, tune: impl FnOnce(&mut Config)) -> Dashboard {
        let dir = TempDir::new(&format!("dashboard-{tag}"));
        let mut config = common::config(format!("sqlite://{}", dir.join("p.db").display()), dir.to_path_buf(), "234");
        tune(&mut config);
        let store = Store::connect(&config.database).await.expect("store");
        Dashboard { app: router(&config, AppState::new(&config, store)), _dir: dir }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let reply = send(&self.app, request).await;
        Answer { status: reply.status, body: reply.text(), headers: reply.headers }
    }

    /// `GET path` with `cookie` (e.g. `onepark_session=…`).
    async fn get(&self, path: &str, cookie: &str) -> Answer {
        self.send(Request::get(path).header("cookie", cookie).body(Body::empty()).expect("request")).await
    }

    /// `POST /login` from `client` with `token`, plus `headers`.
    async fn login(&self, client: &str, token: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::post("/login").header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(Body::from(format!("token={token}"))).expect("request");
        let peer: SocketAddr = format!("{client}:40000").parse().expect("address");
        request.extensions_mut().insert(ConnectInfo(peer));
        self.send(request).await
    }
}

#[tokio::test]
async fn the_cookie_is_a_session_that_expires_and_logout_revokes() {
    let d = Dashboard::new("session", |_| {}).await;
    let login = d.login("10.0.0.1", "test-token", &[]).await;
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login.header("set-cookie").to_owned();
    let session = login.session();
    assert!(!cookie.contains("test-token"), "the admin token is never the cookie: {cookie}");
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP without a proxy saying otherwise: {cookie}");
    assert_eq!(d.get("/", &session).await.status, 200);
    // The admin token itself is no cookie the pages accept.
    assert_eq!(d.get("/", "onepark_session=test-token").await.status, 303);
    assert_eq!(d.get("/", "onepark_admin=test-token").await.status, 303);

    // A second login is another session; logout ends only its own.
    let other = d.login("10.0.0.1", "test-token", &[]).await.session();
    assert_ne!(other, session);
    let out = d.get("/logout", &session).await;
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").contains("Max-Age=0"), "the browser forgets it");
    assert_eq!(d.get("/", &session).await.status, 303, "a copy of the cookie no longer works after logout");
    assert_eq!(d.get("/", &other).await.status, 200);
}

#[tokio::test]
async fn the_cookie_is_secure_behind_tls() {
    let d = Dashboard::new("secure", |_| {}).await;
    let behind = d.login("10.0.0.1", "test-token", &[("x-forwarded-proto", "https")]).await;
    assert!(behind.header("set-cookie").contains("; Secure"), "{}", behind.header("set-cookie"));
    let configured = Dashboard::new("secure-config", |c| c.dashboard.secure_cookie = true).await;
    let login = configured.login("10.0.0.1", "test-token", &[]).await;
    assert!(login.header("set-cookie").contains("; Secure"), "{}", login.header("set-cookie"));
}

#[tokio::test]
async fn login_tries_are_counted_before_the_comparison() {
    let d = std::sync::Arc::new(Dashboard::new("throttle", |_| {}).await);
    // Concurrent wrong tries from one address: only the limit's worth is compared.
    let tries: Vec<_> = (0..30)
        .map(|_| {
            let d = d.clone();
            tokio::spawn(async move { d.login("10.0.0.1", "wrong", &[]).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20, "{statuses:?}");
    // Even the right token waits now, and is told how long.
    let held = d.login("10.0.0.1", "test-token", &[]).await;
    assert_eq!(held.status, 429);
    assert!(held.header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1), "{}", held.header("retry-after"));
    // Another address is not held.
    assert_eq!(d.login("10.0.0.2", "test-token", &[]).await.status, 303);
}

#[tokio::test]
async fn posts_from_another_origin_are_refused() {
    let d = Dashboard::new("origin", |_| {}).await;
    let session = d.login("10.0.0.1", "test-token", &[]).await.session();
    let post = |headers: &[(&str, &str)]| {
        let mut request = Request::post("/lists")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "127.0.0.1:8080")
            .header("cookie", session.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::from("operate=add&plate=鲁B12345&list=black&lot=1001")).expect("request")
    };
    // Another port of the same host is the same site: the strict cookie goes along.
    for headers in [
        &[("sec-fetch-site", "same-site"), ("origin", "http://127.0.0.1:8101")][..],
        &[("origin", "http://127.0.0.1:8101")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[("origin", "http://evil.example")],
    ] {
        let answer = d.send(post(headers)).await;
        assert_eq!(answer.status, 403, "{headers:?}: {}", answer.body);
    }
    // The dashboard's own form (and a client that is no browser) gets through.
    let own = d.send(post(&[("sec-fetch-site", "same-origin"), ("origin", "http://127.0.0.1:8080")])).await;
    assert_eq!(own.status, 303, "{}", own.body);
    assert_eq!(d.send(post(&[])).await.status, 303);
    // The login form too.
    let foreign_login = d.login("10.0.0.3", "test-token", &[("origin", "null")]).await;
    assert_eq!(foreign_login.status, 403);
}

#[tokio::test]
async fn pages_say_what_they_may_load_and_who_may_frame_them() {
    let d = Dashboard::new("headers", |_| {}).await;
    let session = d.login("10.0.0.1", "test-token", &[]).await.session();
    for path in ["/login", "/", "/plates", "/lists"] {
        let page = d.get(path, &session).await;
        assert_eq!(page.status, 200, "{path}");
        let csp = page.header("content-security-policy");
        for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
            assert!(csp.contains(directive), "{path}: {directive} in {csp:?}");
        }
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
        // What the policy allows is all the pages use: no inline style or script.
        assert!(!page.body.contains(" style="), "{path}: an inline style");
        assert!(!page.body.contains("<script>"), "{path}: an inline script");
        assert!(!page.body.contains("<style"), "{path}: an inline stylesheet");
    }
    let asset = d.get("/assets/onepark.js", "").await;
    assert_eq!(asset.header("x-content-type-options"), "nosniff");
}

/// Issue 21 item 12: a sandbox channel is announced on every dashboard page;
/// a real one (or none) is not.
#[tokio::test]
async fn the_sandbox_is_announced_on_every_page() {
    let d = Dashboard::new("sandbox", |_| {}).await;
    let session = d.login("10.0.0.2", "test-token", &[]).await.session();
    for path in ["/", "/plates", "/lists"] {
        assert!(d.get(path, &session).await.body.contains("id=\"sandbox\""), "{path}");
    }
    let off = Dashboard::new("no-channel", |c| c.payments = Default::default()).await;
    let session = off.login("10.0.0.3", "test-token", &[]).await.session();
    assert!(!off.get("/", &session).await.body.contains("id=\"sandbox\""));
}

#[tokio::test]
async fn an_unknown_address_is_a_page_in_the_sites_layout_or_the_apis_error() {
    let d = Dashboard::new("not-found", |_| {}).await;
    let page = d.get("/no/such/page", "lang=en").await;
    assert_eq!(page.status, 404);
    assert!(page.header("content-type").starts_with("text/html"), "a page");
    assert!(page.body.contains("Page not found") && page.body.contains("/no/such/page"), "{}", page.body);
    assert!(page.body.contains("href=\"/pay\""), "the way back: {}", page.body);
    let zh = d.get("/no/such/page", "").await;
    assert!(zh.body.contains("找不到该页面"), "Chinese first: {}", zh.body);
    let driver = d.get("/pay", "").await;
    assert!(
        driver.body.contains(r#"class="brand" href="/pay""#),
        "drivers' home, not the operators' login: {}",
        driver.body
    );
    let api = d.get("/api/admin/no-such", "").await;
    assert_eq!(api.status, 404);
    assert!(api.body.contains("\"error\""), "the APIs' JSON error: {}", api.body);
}
