//! The console's accounts and session mechanics, through the router: people
//! log in with a name and password; the cookie is a server-side session kept
//! in the database (another node knows it), logout revokes it, login tries
//! are throttled per address and per name before the check, POSTs from
//! another origin or without the session's form token are refused, each
//! role sees and changes only what it may (pages and admin API), every
//! change lands in the audit trail, and every page says what it may load
//! and who may frame it.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use onepark_platform::access::{Role, Who};
use onepark_platform::app::{AppState, router};
use onepark_platform::config::Config;
use onepark_platform::store::Store;
use onepark_testkit::dirs::TempDir;
use onepark_testkit::router::send;

/// The accounts every dashboard of these tests has: (name, role, lots, password).
const PEOPLE: [(&str, Role, &[&str], &str); 4] = [
    ("admin", Role::Admin, &[], "admin password 1"),
    ("op1001", Role::Operator, &["1001"], "operator password"),
    ("auditor", Role::Auditor, &[], "auditor password"),
    ("booth1002", Role::Booth, &["1002"], "booth password 2"),
];

fn password(name: &str) -> &'static str {
    PEOPLE.iter().find(|p| p.0 == name).map(|p| p.3).expect("a test account")
}

struct Dashboard {
    app: axum::Router,
    state: AppState,
    config: Config,
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
        assert!(cookie.starts_with("onepark_session="), "a session cookie: {cookie:?} ({})", self.status);
        cookie.split(';').next().unwrap_or_default().to_owned()
    }

    /// The form token in the page's forms.
    fn csrf(&self) -> String {
        let mark = "name=\"csrf\" value=\"";
        let at = self.body.find(mark).expect("a form token in the page") + mark.len();
        self.body[at..].split('"').next().unwrap_or_default().to_owned()
    }
}

impl Dashboard {
    async fn new(tag: &str, tune: impl FnOnce(&mut Config)) -> Dashboard {
        let dir = TempDir::new(&format!("dashboard-{tag}"));
        let mut config = common::config(format!("sqlite://{}", dir.join("p.db").display()), dir.to_path_buf(), "234");
        tune(&mut config);
        let store = Store::connect(&config.database).await.expect("store");
        let state = AppState::new(&config, store);
        for (name, role, lots, password) in PEOPLE {
            let lots: Vec<String> = lots.iter().map(|l| (*l).to_owned()).collect();
            onepark_platform::city::accounts::add(&state, &Who::cli(), name, role, &lots, password)
                .await
                .expect("account");
        }
        // Both lots have been heard from (the list form offers lots that reported).
        let now = onepark_domain::time::format_time(state.now());
        for code in ["1001", "1002"] {
            state.store().heartbeat("234", code, &now).await.expect("heartbeat");
        }
        Dashboard { app: router(&config, state.clone()), state, config, _dir: dir }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let reply = send(&self.app, request).await;
        Answer { status: reply.status, body: reply.text(), headers: reply.headers }
    }

    /// `GET path` with `cookie` (e.g. `onepark_session=…`).
    async fn get(&self, path: &str, cookie: &str) -> Answer {
        self.send(Request::get(path).header("cookie", cookie).body(Body::empty()).expect("request")).await
    }

    /// A form POST with `cookie`, from this origin.
    async fn post(&self, path: &str, cookie: &str, form: &str) -> Answer {
        let request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(Body::from(form.to_owned()))
            .expect("request");
        self.send(request).await
    }

    /// `GET path` of the admin API with a bearer token.
    async fn api(&self, method: &str, path: &str, token: &str, body: &str) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .expect("request");
        self.send(request).await
    }

    /// `POST /login` from `client` as `name` with `password`, plus `headers`.
    async fn login_as(&self, client: &str, name: &str, password: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::post("/login").header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("name", name)
            .append_pair("password", password)
            .finish();
        let mut request = request.body(Body::from(form)).expect("request");
        let peer: SocketAddr = format!("{client}:40000").parse().expect("address");
        request.extensions_mut().insert(ConnectInfo(peer));
        self.send(request).await
    }

    /// The admin's login (tests of the mechanics).
    async fn login(&self, client: &str, password: &str, headers: &[(&str, &str)]) -> Answer {
        self.login_as(client, "admin", password, headers).await
    }

    /// A session cookie of `name`.
    async fn session_of(&self, name: &str) -> String {
        self.login_as("10.9.9.9", name, password(name), &[]).await.session()
    }
}

const ADMIN: &str = "admin password 1";

#[tokio::test]
async fn the_cookie_is_a_session_that_expires_and_logout_revokes() {
    let d = Dashboard::new("session", |_| {}).await;
    let login = d.login("10.0.0.1", ADMIN, &[]).await;
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login.header("set-cookie").to_owned();
    let session = login.session();
    assert!(!cookie.contains(ADMIN.split(' ').next().unwrap_or_default()), "never the password: {cookie}");
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP without a proxy saying otherwise: {cookie}");
    let home = d.get("/", &session).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("id=\"user\"") && home.body.contains(">admin<"), "who is logged in is shown");
    // The admin token is no password and no cookie.
    assert_eq!(d.get("/", "onepark_session=test-token").await.status, 303);
    assert_eq!(d.login("10.0.0.1", "test-token", &[]).await.status, 401);
    // An unknown name is told the same as a wrong password.
    let unknown = d.login_as("10.0.0.1", "nobody", ADMIN, &[]).await;
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains("用户名或密码不正确"), "{}", unknown.body);

    // The session is the database's: another node (a second router on the same database) knows it.
    let other_node =
        router(&d.config, AppState::new(&d.config, Store::connect(&d.config.database).await.expect("store")));
    assert_eq!(
        send(&other_node, Request::get("/").header("cookie", &session).body(Body::empty()).expect("r")).await.status,
        200
    );

    // A second login is another session; logout (a POST with the form token) ends only its own.
    let other = d.login("10.0.0.1", ADMIN, &[]).await.session();
    assert_ne!(other, session);
    assert_eq!(d.get("/logout", &session).await.status, 405, "no logout by a link another site could embed");
    assert_eq!(d.post("/logout", &session, "").await.status, 403, "without the form token");
    let out = d.post("/logout", &session, &format!("csrf={}", home.csrf())).await;
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").contains("Max-Age=0"), "the browser forgets it");
    assert_eq!(d.get("/", &session).await.status, 303, "a copy of the cookie no longer works after logout");
    assert_eq!(d.get("/", &other).await.status, 200);
}

#[tokio::test]
async fn the_cookie_is_secure_behind_tls() {
    let d = Dashboard::new("secure", |_| {}).await;
    let behind = d.login("10.0.0.1", ADMIN, &[("x-forwarded-proto", "https")]).await;
    assert!(behind.header("set-cookie").contains("; Secure"), "{}", behind.header("set-cookie"));
    let configured = Dashboard::new("secure-config", |c| c.dashboard.secure_cookie = true).await;
    let login = configured.login("10.0.0.1", ADMIN, &[]).await;
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
    // Even the right password waits now, and is told how long.
    let held = d.login("10.0.0.1", ADMIN, &[]).await;
    assert_eq!(held.status, 429);
    assert!(held.header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1), "{}", held.header("retry-after"));
    // Another address is not held for another name…
    assert_eq!(d.login_as("10.0.0.2", "auditor", password("auditor"), &[]).await.status, 303);
    // …but one name guessed from many addresses is (30 a minute from everywhere: a
    // token bucket, so a slow machine may see one more refilled while it guesses).
    let mut guesses = 0;
    let started = std::time::Instant::now();
    while d.login_as(&format!("10.0.1.{guesses}"), "op1001", "guess", &[]).await.status == 401 {
        guesses += 1;
        // The bucket refills one guess every 2 s: however slow the machine, never more than that.
        let refilled = (started.elapsed().as_secs_f64() / 2.0).ceil() as u32;
        assert!(guesses <= 31 + refilled, "guessing one name is never held ({guesses} in {:?})", started.elapsed());
    }
    assert!(guesses >= 30, "held after {guesses}");
    assert_eq!(d.login_as("10.0.2.1", "op1001", password("op1001"), &[]).await.status, 429);
}

#[tokio::test]
async fn posts_from_another_origin_are_refused() {
    let d = Dashboard::new("origin", |_| {}).await;
    let session = d.login("10.0.0.1", ADMIN, &[]).await.session();
    let csrf = d.get("/lists", &session).await.csrf();
    let post = |headers: &[(&str, &str)]| {
        let mut request = Request::post("/lists")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "127.0.0.1:8080")
            .header("cookie", session.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::from(format!("operate=add&plate=鲁B12345&list=black&lot=1001&start=2026-12-04+00:00:00&end=2027-12-04+00:00:00&csrf={csrf}"))).expect("request")
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
    let foreign_login = d.login("10.0.0.3", ADMIN, &[("origin", "null")]).await;
    assert_eq!(foreign_login.status, 403);
    // A form without the session's token (one another page of the site made), or with another's, is refused.
    let form = "operate=add&plate=鲁B12345&list=black&lot=1001";
    assert_eq!(d.post("/lists", &session, form).await.status, 403);
    let others = d.get("/lists", &d.session_of("op1001").await).await.csrf();
    assert_eq!(d.post("/lists", &session, &format!("{form}&csrf={others}")).await.status, 403);
    // And a POST without a session goes to the login.
    assert_eq!(d.post("/lists", "", &format!("{form}&csrf={csrf}")).await.status, 303);
}

#[tokio::test]
async fn pages_say_what_they_may_load_and_who_may_frame_them() {
    let d = Dashboard::new("headers", |_| {}).await;
    let session = d.login("10.0.0.1", ADMIN, &[]).await.session();
    for path in [
        "/login",
        "/",
        "/plates",
        "/lists",
        "/audit",
        "/users",
        "/account",
        "/records",
        "/revenue",
        "/arrears",
        "/reconciliation",
    ] {
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
    let session = d.login("10.0.0.2", ADMIN, &[]).await.session();
    for path in ["/", "/plates", "/lists"] {
        assert!(d.get(path, &session).await.body.contains("id=\"sandbox\""), "{path}");
    }
    let off = Dashboard::new("no-channel", |c| c.payments = Default::default()).await;
    let session = off.login("10.0.0.3", ADMIN, &[]).await.session();
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

/// Issue 27 item 1: each role sees and changes only what it may, on the
/// pages and through the admin API (403 elsewhere).
#[tokio::test]
async fn each_role_sees_and_changes_only_what_it_may() {
    let d = Dashboard::new("roles", |_| {}).await;
    let operator = d.session_of("op1001").await;
    assert_eq!(d.get("/lots/1001", &operator).await.status, 200);
    let other = d.get("/lots/1002", &operator).await;
    assert_eq!(other.status, 403, "another lot's page");
    assert!(other.body.contains("无权访问该车场"), "said in the page's language: {}", other.body);
    assert_eq!(d.get("/photos/1002/x", &operator).await.status, 403);
    assert_eq!(d.get("/cloud", &operator).await.status, 403, "city-wide pages");
    assert_eq!(d.get("/users", &operator).await.status, 403);
    let lists = d.get("/lists", &operator).await;
    assert!(lists.body.contains("我的全部车场") && !lists.body.contains("value=\"1002\""), "only its lots to pick");
    // A change for its lot goes; for another lot it is refused and nothing is sent there.
    let csrf = lists.csrf();
    let mine = d.post("/lists", &operator, &format!("operate=add&plate=鲁B11111&list=black&lot=1001&start=2026-12-04+00:00:00&end=2027-12-04+00:00:00&csrf={csrf}")).await;
    assert_eq!(mine.status, 303, "{}", mine.body);
    assert!(mine.header("location").contains("notice="), "sent: {}", mine.header("location"));
    assert!(d.state.store().list_entry("1001", "鲁B11111", 0).await.expect("read").is_some());
    let theirs = d.post("/lists", &operator, &format!("operate=add&plate=鲁B22222&list=black&lot=1002&start=2026-12-04+00:00:00&end=2027-12-04+00:00:00&csrf={csrf}")).await;
    assert_eq!(theirs.status, 403);
    assert!(d.state.store().list_entry("1002", "鲁B22222", 0).await.expect("read").is_none());

    let auditor = d.session_of("auditor").await;
    let lists = d.get("/lists", &auditor).await;
    assert_eq!(lists.status, 200);
    assert!(!lists.body.contains("id=\"add-list\""), "no form the auditor may not send");
    assert_eq!(d.get("/lots/1002", &auditor).await.status, 200, "reads every lot");
    let csrf = lists.csrf();
    let tried = d.post("/lists", &auditor, &format!("operate=add&plate=鲁B33333&list=black&lot=1001&start=2026-12-04+00:00:00&end=2027-12-04+00:00:00&csrf={csrf}")).await;
    assert_eq!(tried.status, 403, "an auditor changes nothing");
    assert_eq!(
        d.post("/users", &auditor, &format!("action=add&name=x&role=admin&password=long%20enough%201&csrf={csrf}"))
            .await
            .status,
        403
    );

    let booth = d.session_of("booth1002").await;
    assert_eq!(d.get("/lots/1002", &booth).await.status, 200);
    assert_eq!(d.get("/lots/1001", &booth).await.status, 403);

    // The admin API: an integration's token has a role and lots too.
    let admin = d.session_of("admin").await;
    let csrf = d.get("/users", &admin).await.csrf();
    let made =
        d.post("/users", &admin, &format!("action=add_token&name=erp&role=operator&lots=1001&csrf={csrf}")).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let at = made.body.find("opk_").expect("the token, shown once");
    let token = format!("opk_{}", &made.body[at + 4..at + 4 + 64]);
    assert!(token.len() == 68 && token.starts_with("opk_"), "{token}");
    assert_eq!(d.api("GET", "/api/admin/records?parkingCode=1001", &token, "").await.status, 200);
    assert_eq!(d.api("GET", "/api/admin/records?parkingCode=1002", &token, "").await.status, 403);
    assert_eq!(d.api("GET", "/api/admin/records", &token, "").await.status, 403, "must name its lot");
    // By the parameter the route reads, once: the other lot parameter's name, or a second value, gets nothing.
    assert_eq!(d.api("GET", "/api/admin/records?parkCode=1001", &token, "").await.status, 403);
    let both = "/api/admin/reports/quality?parkCode=1001&parkingCode=1002&date=2026-12-04";
    assert_eq!(d.api("GET", both, &token, "").await.status, 403);
    assert_eq!(d.api("GET", "/api/admin/records?parkingCode=1001&parkingCode=1002", &token, "").await.status, 400);
    assert_eq!(d.api("GET", "/api/admin/fixed-cars?parkingCode=1001", &token, "").await.status, 403);
    assert_eq!(d.api("GET", "/api/admin/fixed-cars?parkCode=1001", &token, "").await.status, 200);
    assert_eq!(d.api("GET", "/api/admin/lot-events?parkCode=1002", &token, "").await.status, 403);
    assert_eq!(d.api("GET", "/api/admin/lots/1002/berths?date=2026-12-04", &token, "").await.status, 403);
    assert_eq!(d.api("GET", "/api/admin/payments/reconciliation?date=2026-12-04", &token, "").await.status, 403);
    assert_eq!(d.api("GET", "/api/admin/integrators", &token, "").await.status, 403);
    let change = r#"{"accessId":"234","parkingCodes":["1002"],"plateNo":"鲁B44444","list":"black","operate":"add","startTime":"2026-12-04 00:00:00","endTime":"2027-12-04 00:00:00"}"#;
    assert_eq!(d.api("POST", "/api/admin/lists", &token, change).await.status, 403);
    let all = change.replace(r#""parkingCodes":["1002"],"#, "");
    assert_eq!(
        d.api("POST", "/api/admin/lists", &token, &all).await.status,
        403,
        "every lot of the accessID includes another's"
    );
    let own = change.replace("1002", "1001");
    assert_eq!(d.api("POST", "/api/admin/lists", &token, &own).await.status, 200);
    assert_eq!(d.api("POST", "/api/admin/payments/NOPE/refund", &token, r#"{"reason":"x"}"#).await.status, 404);
    assert_eq!(d.api("GET", "/api/admin/lists", "opk_wrong", "").await.status, 401);
    // A revoked token stops at once.
    let csrf = d.get("/users", &admin).await.csrf();
    assert_eq!(d.post("/users", &admin, &format!("action=remove_token&name=erp&csrf={csrf}")).await.status, 200);
    assert_eq!(d.api("GET", "/api/admin/records?parkingCode=1001", &token, "").await.status, 401);
}

/// Every operation the admin API documents has an access policy (a route
/// without one is refused to everyone, the administrator included).
#[tokio::test]
async fn every_admin_operation_has_an_access_policy() {
    let d = Dashboard::new("policy", |_| {}).await;
    let doc: serde_json::Value =
        serde_json::from_str(&d.api("GET", "/api/admin/openapi.json", "test-token", "").await.body).expect("document");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let uri = path
                .replace("{parkingCode}", "1001")
                .replace("{orderId}", "X")
                .replace("{pid}", "X")
                .replace("{serviceName}", "price_sync");
            let answer = d.api(&method.to_uppercase(), &uri, "test-token", "{}").await;
            assert!(!answer.body.contains("no access policy"), "{method} {path}: {}", answer.body);
        }
    }
    assert!(operations > 20, "{operations}");
}

/// Issue 27 item 2: every change is found again in the audit trail, with
/// who, from where, before and after; the trail is searched and exported.
#[tokio::test]
async fn every_change_is_in_the_audit_trail() {
    let d = Dashboard::new("audit", |_| {}).await;
    audit_trail(&d).await;
}

/// The same on PostgreSQL: accounts, sessions and the trail's queries.
#[tokio::test]
async fn every_change_is_in_the_audit_trail_on_postgresql() {
    let Some(pg) = onepark_testkit::pg::PgSchema::new("the audit trail on PostgreSQL").await else { return };
    let url = pg.url.clone();
    let d = Dashboard::new("audit-pg", move |c| c.database = url).await;
    audit_trail(&d).await;
    let elsewhere = d.session_of("op1001").await;
    assert_eq!(d.get("/", &elsewhere).await.status, 200);
    drop(d);
    pg.drop().await;
}

async fn audit_trail(d: &Dashboard) {
    let admin = d.session_of("admin").await;
    let csrf = d.get("/lists", &admin).await.csrf();
    let form = format!(
        "operate=add&plate=鲁B55298&list=white&lot=1001&remark=业主&start=2026-12-04+00:00:00&end=2027-12-04+00:00:00&csrf={csrf}"
    );
    assert_eq!(d.post("/lists", &admin, &form).await.status, 303);
    let made = d.post("/users", &admin, &format!("action=add&name=night&role=auditor&password=&csrf={csrf}")).await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body.contains("id=\"secret\""), "a made password is shown once");
    let reset =
        d.post("/users", &admin, &format!("action=passwd&name=night&password=new%20secret%2099&csrf={csrf}")).await;
    assert_eq!(reset.status, 200);
    let removed = d.post("/users", &admin, &format!("action=remove&name=admin&csrf={csrf}")).await;
    assert!(removed.body.contains("不能删除自己的账户"), "{}", removed.body);

    let page = d.get("/audit", &admin).await;
    assert_eq!(page.status, 200);
    for expected in ["鲁B55298", "备注: 业主", "night", "data-outcome=\"done\""] {
        assert!(page.body.contains(expected), "{expected} in the trail: {}", page.body);
    }
    assert!(!page.body.contains("new secret 99"), "a password is never written to the trail");
    let lists = d.get("/audit?kind=list", &admin).await;
    assert!(lists.body.contains("鲁B55298") && !lists.body.contains("data-kind=\"account\""), "filtered by kind");
    // A lot operator sees its lots' entries and its own, not the city's accounts.
    let operator = d.session_of("op1001").await;
    let theirs = d.get("/audit", &operator).await;
    assert!(theirs.body.contains("鲁B55298") && !theirs.body.contains("data-kind=\"account\""), "{}", theirs.body);
    assert_eq!(d.get("/audit?lot=1002", &operator).await.status, 403);

    for path in [
        "/audit?from=2026-13-01",
        "/records?to=someday",
        "/payments?from=1",
        "/events?to=2026-02-30",
        "/revenue?from=x",
    ] {
        let bad = d.get(path, &admin).await;
        assert_eq!(bad.status, 400, "{path}");
        assert!(bad.body.contains("日期格式应为 yyyy-MM-dd"), "{path}: said in the page's language");
    }
    let csv = d.get("/audit?format=csv", &admin).await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(csv.body.starts_with("\u{feff}时间,操作人,角色"), "{}", csv.body);
    assert!(csv.body.contains("鲁B55298") && csv.body.contains("\"{\"\"carType\"\""), "{}", csv.body);
    // The admin API says the same.
    let api = d.api("GET", "/api/admin/audit?kind=list", "test-token", "").await;
    assert!(api.body.contains("\"actor\":\"admin\"") && api.body.contains("\"outcome\":\"done\""), "{}", api.body);
}

/// A person changes their own password: the current one is needed, and
/// every other session of theirs ends.
#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_other_sessions() {
    let d = Dashboard::new("passwd", |_| {}).await;
    let here = d.session_of("op1001").await;
    let elsewhere = d.session_of("op1001").await;
    let csrf = d.get("/account", &here).await.csrf();
    let wrong = d
        .post(
            "/account",
            &here,
            &format!("current=nope&password=brand%20new%20one&again=brand%20new%20one&csrf={csrf}"),
        )
        .await;
    assert_eq!(wrong.status, 400);
    let short =
        d.post("/account", &here, &format!("current=operator%20password&password=short&again=short&csrf={csrf}")).await;
    assert_eq!(short.status, 400);
    let ok = d
        .post(
            "/account",
            &here,
            &format!("current=operator%20password&password=brand%20new%20one&again=brand%20new%20one&csrf={csrf}"),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(d.get("/", &here).await.status, 200, "this session stays");
    assert_eq!(d.get("/", &elsewhere).await.status, 303, "the others end");
    assert_eq!(d.login_as("10.1.1.1", "op1001", "brand new one", &[]).await.status, 303);
}
