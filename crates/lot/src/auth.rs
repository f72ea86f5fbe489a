//! Who may drive the lot's API.
//!
//! - **Devices** (cameras, barrier controllers): a bearer token each, for
//!   the lanes it serves; it may post entries and exits there, nothing else.
//! - **Staff** (booth page, staff API): user and password (PBKDF2 hash in the
//!   config, made with `onepark lot hash-password`), `POST /api/login` → a
//!   bearer token valid for 12 hours; staff may do everything.
//! - Without an `[auth]` section the API answers only this machine
//!   (loopback), so a fresh install is not open to the LAN; every other
//!   caller is told to configure `[auth]`.
//!
//! `/metrics`, `/api/status` and `/api/login` need no token.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::{Config, host_part, ip_literal};
pub use onepark_serve::password::hash_password;
use onepark_serve::password::verify;

/// The staff member a request comes from (their login name), for the
/// handlers that record who did what.
#[derive(Clone, Debug)]
pub struct Staff(pub String);

impl Staff {
    /// Who did it: the logged-in name, or "本机" (this machine) without `[auth]`.
    pub fn name(staff: Option<&axum::Extension<Staff>>) -> String {
        staff.map_or_else(|| "本机".to_owned(), |s| s.0.0.clone())
    }
}

/// The cookie that carries a staff token for the booth page.
pub(crate) const COOKIE: &str = "onepark_staff";

/// What the gate and the login need of the gateway (`FromRef` of its state).
#[derive(Clone)]
pub struct Access {
    pub(crate) config: Arc<Config>,
    pub(crate) sessions: Arc<Sessions>,
}

const SESSION: Duration = Duration::from_secs(12 * 3600);
/// Login attempts per user a minute that may reach the password check;
/// failed ones use it up, a successful one gives its attempt back.
const MAX_FAILURES: u32 = 5;
/// The throttle's window.
const WINDOW: Duration = Duration::from_secs(60);
/// A user name longer than this (bytes) is refused before anything: staff
/// names are short, and a name is never kept, only a hash of it.
pub const MAX_USER_BYTES: usize = 64;
/// Names the throttle tracks at most (~40 bytes each): beyond, after expired
/// windows are pruned, an untracked name that is not a configured user is
/// held off until windows expire. Configured users always get a window.
const MAX_TRACKED: usize = 10_000;

/// Staff sessions and the login throttle, in memory (a restart logs staff out).
#[derive(Default)]
pub struct Sessions {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    throttle: Mutex<Throttle>,
}

impl Sessions {
    fn user(&self, token: &str, now: Instant) -> Option<String> {
        let mut tokens = self.tokens.lock().ok()?;
        tokens.retain(|_, (_, until)| *until > now);
        tokens.get(token).map(|(user, _)| user.clone())
    }

    /// How many names the login throttle holds a window for (bounded by
    /// [`MAX_TRACKED`] plus the configured users).
    pub fn tracked_logins(&self) -> usize {
        self.throttle.lock().map_or(0, |t| t.windows.len())
    }
}

/// Login attempts per user name and minute. An attempt is *reserved* before
/// the slow password check, under the lock, so concurrent tries of one name
/// cannot all pass the check before any of them is counted (60 concurrent
/// tries used to check 38 passwords). Names are keyed by a keyed hash (SipHash
/// with this process's random keys: an attacker cannot aim collisions), never
/// stored; windows expire after a minute and are pruned.
struct Throttle {
    keys: std::hash::RandomState,
    windows: HashMap<u64, Window>,
    max_tracked: usize,
    pruned: Instant,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    attempts: u32,
}

/// Why a login attempt may not reach the password check.
#[derive(Debug, PartialEq, Eq)]
enum Held {
    /// This name used its attempts for the minute.
    User,
    /// The throttle is full of live windows (a flood of names).
    Full,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            keys: std::hash::RandomState::new(),
            windows: HashMap::new(),
            max_tracked: MAX_TRACKED,
            pruned: Instant::now(),
        }
    }
}

impl Throttle {
    fn key(&self, user: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.keys, user)
    }

    /// Takes one of the name's attempts for this minute, or says why not.
    fn reserve(&mut self, key: u64, configured: bool, now: Instant) -> Result<(), Held> {
        if now.duration_since(self.pruned) >= WINDOW
            || (!self.windows.contains_key(&key) && self.windows.len() >= self.max_tracked)
        {
            self.windows.retain(|_, w| now.duration_since(w.start) < WINDOW);
            self.pruned = now;
        }
        if !self.windows.contains_key(&key) && self.windows.len() >= self.max_tracked && !configured {
            return Err(Held::Full);
        }
        let window = self.windows.entry(key).or_insert(Window { start: now, attempts: 0 });
        if now.duration_since(window.start) >= WINDOW {
            *window = Window { start: now, attempts: 0 };
        }
        if window.attempts >= MAX_FAILURES {
            return Err(Held::User);
        }
        window.attempts += 1;
        Ok(())
    }

    /// A successful login gives its attempt back.
    fn release(&mut self, key: u64) {
        if let Some(window) = self.windows.get_mut(&key) {
            window.attempts = window.attempts.saturating_sub(1);
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

fn refuse(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "open": false, "reason": "unauthorized", "msg": msg }))).into_response()
}

/// What a request may do, decided before its handler runs.
pub async fn gate(State(access): State<Access>, request: Request, next: Next) -> Response {
    if let Some(host) = foreign_host(&access.config.hosts, &request) {
        let host: String = host.chars().take(64).collect();
        let msg = format!(
            "拒绝访问：主机名 {host} 不是本网关的名称（防 DNS 重绑定）；请用 IP 地址或 localhost 访问，\
             或把该名称加入配置 hosts（Host `{host}` is not a name of this gateway: use an IP address or \
             localhost, or add it to `hosts`)"
        );
        return (StatusCode::FORBIDDEN, axum::Json(json!({ "open": false, "reason": "foreign_host", "msg": msg })))
            .into_response();
    }
    // Without `[auth]` the gateway trusts this machine, and must not trust
    // every page this machine's browser shows; with it, the booth's cookie
    // would otherwise ride along (`onepark_serve::pages::cross_site`).
    if !request.method().is_safe() && onepark_serve::pages::cross_site(request.headers()) {
        return refuse(StatusCode::FORBIDDEN, "拒绝其他网站页面发起的请求");
    }
    let path = request.uri().path().to_owned();
    if matches!(path.as_str(), "/" | "/metrics" | "/api/status" | "/api/login" | "/api/openapi.json" | "/booth/login")
        || path.starts_with("/assets/")
    {
        return next.run(request).await;
    }
    let booth = path == "/booth" || path.starts_with("/booth/");
    let Some(auth) = access.config.auth.as_ref() else {
        // In-process callers (tests) have no peer address.
        let local = request.extensions().get::<ConnectInfo<SocketAddr>>().is_none_or(|c| c.0.ip().is_loopback());
        if local {
            return next.run(request).await;
        }
        return refuse(
            StatusCode::UNAUTHORIZED,
            "未配置 [auth]：车场接口仅允许本机访问；请为设备与岗亭人员配置令牌和账号",
        );
    };
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    // The booth page's browser carries the staff token in its cookie.
    let token = match onepark_serve::pages::cookie(request.headers(), COOKIE) {
        Some(cookie) if token.is_empty() && booth => cookie.to_owned(),
        _ => token,
    };
    let user = access.sessions.user(&token, Instant::now());
    if booth && user.is_none() {
        return axum::response::Redirect::to("/booth/login").into_response();
    }
    if token.is_empty() {
        return refuse(StatusCode::UNAUTHORIZED, "缺少令牌：请在 Authorization: Bearer 中提供设备令牌或登录令牌");
    }
    if let Some(user) = user {
        // Who did it: the booth's ledger and audit name the person.
        let mut request = request;
        request.extensions_mut().insert(Staff(user));
        return next.run(request).await;
    }
    if let Some(device) = auth.devices.iter().find(|d| same(&d.token, &token)) {
        // Devices report lane events and take their lane's barrier orders, nothing else.
        let lane_event = path
            .strip_prefix("/api/lanes/")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(_, action)| matches!(*action, "entry" | "exit" | "commands") || action.starts_with("commands/"));
        return match lane_event {
            Some((lane, _)) if device.lanes.is_empty() || device.lanes.iter().any(|l| l == lane) => {
                next.run(request).await
            }
            Some((lane, _)) => refuse(StatusCode::FORBIDDEN, &format!("设备 {} 无权操作车道 {lane}", device.name)),
            None => {
                refuse(StatusCode::FORBIDDEN, &format!("设备 {} 只能上报车道进出事件、接收本车道道闸指令", device.name))
            }
        };
    }
    refuse(StatusCode::UNAUTHORIZED, "令牌无效或已过期：请重新登录")
}

/// The request's Host when it names neither an IP address, `localhost`, nor
/// one of `hosts` (DNS rebinding). A page on `evil.example` whose name the
/// attacker re-points at 127.0.0.1 reaches a loopback-only gateway from the
/// booth's own browser, and the browser calls that *same-origin*: the Host
/// header, which still says `evil.example`, is the one thing that tells. An IP
/// literal cannot be rebound (the page's origin is then the gateway itself),
/// so cameras and the LAN may use any address the gateway listens on. No Host
/// (HTTP/1.0, in-process callers) is not a browser.
pub(crate) fn foreign_host<'r>(hosts: &[String], request: &'r Request) -> Option<&'r str> {
    let host = match request.headers().get(axum::http::header::HOST) {
        Some(value) => value.to_str().unwrap_or("\u{fffd}"),
        None => request.uri().authority()?.as_str(),
    };
    let name = host_part(host).trim_end_matches('.').to_ascii_lowercase();
    let allowed = ip_literal(&name).is_some() || name == "localhost" || hosts.contains(&name);
    (!allowed).then_some(host)
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct Login {
    /// At most 64 bytes (16 characters are always within it).
    #[schema(max_length = 16)]
    user: String,
    password: String,
}

/// A staff token, to send as `Authorization: Bearer <token>`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Token {
    token: String,
    user: String,
    /// 43200 (12 hours); a restart logs staff out.
    expires_in_secs: u64,
}

/// Why a caller may not: `{"open": false, "reason": "unauthorized", "msg"}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Refused {
    open: bool,
    reason: String,
    msg: String,
}

/// Staff login: a token for the booth page and the staff API. Five failures
/// of one user in a minute hold that user off for the rest of it (429); the
/// attempt is counted before the password is checked. A user name over 64
/// bytes is refused (400) before anything.
#[utoipa::path(post, path = "/api/login", tag = "gateway", request_body = Login,
    responses((status = 200, body = Token), (status = 400, description = "not {user, password}, or a user name over 64 bytes", body = Refused),
        (status = 401, description = "wrong user or password", body = Refused),
        (status = 404, description = "no [auth] configured: no login needed (this machine only)", body = Refused),
        (status = 429, description = "too many failures", body = Refused)))]
pub(crate) async fn login(State(access): State<Access>, bytes: axum::body::Bytes) -> Response {
    let Ok(login) = onepark_serve::json::decode::<Login>(&bytes) else {
        return refuse(StatusCode::BAD_REQUEST, "请求应为 {\"user\":…, \"password\":…}");
    };
    let Some(auth) = access.config.auth.as_ref() else {
        return refuse(StatusCode::NOT_FOUND, "未配置 [auth]，无需登录（仅允许本机访问）");
    };
    if login.user.len() > MAX_USER_BYTES {
        return refuse(StatusCode::BAD_REQUEST, &format!("用户名过长（最多 {MAX_USER_BYTES} 字节）"));
    }
    let sessions = &access.sessions;
    let now = Instant::now();
    let staff = auth.staff.iter().find(|s| s.user == login.user);
    // Counted before the slow check, so concurrent tries cannot outrun the count.
    let reserved = sessions.throttle.lock().map_err(|_| ()).and_then(|mut throttle| {
        let key = throttle.key(&login.user);
        throttle.reserve(key, staff.is_some(), now).map(|()| key).map_err(|held| {
            tracing::warn!(?held, user = %login.user.chars().take(40).collect::<String>(), "staff login held off");
        })
    });
    let Ok(key) = reserved else {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "登录失败次数过多，请一分钟后再试");
    };
    let password = login.password;
    let encoded = staff.map(|s| s.password.clone());
    // Hashing is deliberately slow: off the reactor. An unknown name costs a
    // check too (a hash of nothing anyone knows), so timing tells no names.
    let ok = tokio::task::spawn_blocking(move || match encoded {
        Some(e) => verify(&password, &e),
        None => {
            let _ = verify(&password, onepark_serve::password::DUMMY);
            false
        }
    })
    .await;
    if !matches!(ok, Ok(true)) {
        tracing::warn!(user = %login.user.chars().take(40).collect::<String>(), "staff login failed");
        return refuse(StatusCode::UNAUTHORIZED, "用户名或密码错误");
    }
    if let Ok(mut throttle) = sessions.throttle.lock() {
        throttle.release(key);
    }
    let mut bytes = [0u8; 24];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "系统错误：无法生成令牌");
    }
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Ok(mut tokens) = sessions.tokens.lock() {
        tokens.insert(token.clone(), (login.user.clone(), now + SESSION));
    }
    tracing::info!(user = %login.user, "staff logged in");
    axum::Json(Token { token, user: login.user, expires_in_secs: SESSION.as_secs() }).into_response()
}

/// Adds to the generated document what the gate answers for every gated
/// operation (401 no or unknown token / not this machine, 403 a device
/// outside its lanes) and the two bearer schemes; 400 where there is input.
pub(crate) fn document(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let components = openapi.components.get_or_insert_with(Default::default);
    let bearer = || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
    components.add_security_scheme("device", bearer());
    components.add_security_scheme("staff", bearer());
    let response = |text: &str, schema: &str| {
        ResponseBuilder::new()
            .description(text)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
            .build()
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        let open = matches!(path.as_str(), "/metrics" | "/api/status" | "/api/login");
        let lane = path.starts_with("/api/lanes/") && !path.ends_with("/open");
        let error = if path.starts_with("/api/lanes/") || open { "Refused" } else { "Error" };
        for operation in [&mut item.get, &mut item.post, &mut item.put, &mut item.delete].into_iter().flatten() {
            let input =
                operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) || operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            if input {
                responses
                    .entry("400".into())
                    .or_insert_with(|| response("a parameter or field is invalid (named)", error).into());
            }
            if !open {
                responses.entry("401".into()).or_insert_with(|| {
                    response("no or unknown token (without [auth]: not called from this machine)", "Refused").into()
                });
                responses
                    .entry("403".into())
                    .or_insert_with(|| response("a device outside its lanes, or a staff-only call", "Refused").into());
                responses.entry("500".into()).or_insert_with(|| response("the lot's storage failed", error).into());
                let schemes: &[&str] = if lane { &["device", "staff"] } else { &["staff"] };
                operation.security =
                    Some(schemes.iter().map(|s| SecurityRequirement::new(*s, Vec::<String>::new())).collect());
            }
        }
    }
    if let Some(schemas) = openapi.components.as_mut().map(|c| &mut c.schemas) {
        schemas.entry("Refused".into()).or_insert_with(|| {
            use utoipa::PartialSchema;
            Refused::schema()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_counts_before_the_check_and_stays_bounded() {
        let t0 = Instant::now();
        let mut throttle = Throttle { max_tracked: 3, ..Throttle::default() };
        let zhang = throttle.key("zhang");
        for _ in 0..MAX_FAILURES {
            assert_eq!(throttle.reserve(zhang, true, t0), Ok(()));
        }
        assert_eq!(throttle.reserve(zhang, true, t0), Err(Held::User), "reserved, not yet checked: still counted");
        throttle.release(zhang);
        assert_eq!(throttle.reserve(zhang, true, t0), Ok(()), "a success gives its attempt back");
        // A flood of names: the cap holds, a configured user still gets a window.
        for name in ["a", "b"] {
            assert_eq!(throttle.reserve(throttle.key(name), false, t0), Ok(()));
        }
        assert_eq!(throttle.reserve(throttle.key("c"), false, t0), Err(Held::Full));
        assert_eq!(throttle.windows.len(), 3);
        assert_eq!(throttle.reserve(throttle.key("li"), true, t0), Ok(()));
        // A minute later every window has expired and is pruned.
        let later = t0 + WINDOW;
        assert_eq!(throttle.reserve(throttle.key("c"), false, later), Ok(()));
        assert_eq!(throttle.windows.len(), 1, "expired windows pruned");
        assert_eq!(throttle.reserve(zhang, true, later), Ok(()), "a new minute");
    }
}
