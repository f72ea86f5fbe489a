//! The operator dashboard at `/`: the city overview, a lot's detail, a
//! plate across the city, black/white lists with each lot's confirmation,
//! accounts, the audit trail. Server-rendered (maud, `onepark-web`),
//! refreshed in place every few seconds; it reads the same functions as the
//! admin API, so its numbers are the API's.
//!
//! People log in with a name and password (`crate::http::caller`); each
//! page shows what their role and lots allow (`crate::access`) and answers
//! 403 for another lot. Every POST must come from this origin and carry the
//! session's form token: SameSite does not separate two origins of one site
//! (another port of the same host), so `Sec-Fetch-Site` and `Origin` are
//! checked too, and the token stops a form another page of the site posts.

mod accounts;
mod arrears;
mod audit;
mod city;
mod cloud;
mod events;
mod export;
mod lists;
mod login;
mod lot;
mod payments;
mod photo;
mod plates;
pub mod qr;
mod reconcile;
mod records;
mod revenue;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{Datelike as _, Duration, NaiveDate, Timelike as _};
use onepark_domain::time::format_time;
use onepark_serve::pages::Client;
use onepark_web::chart::{self, Axes, Place, Series};
use onepark_web::{Lang, Markup, Nav, html, percent, yuan};
use serde::Deserialize;
use std::collections::BTreeMap;

use crate::access::{Denied, Need, Role, Who};
use crate::city::lists::{BLACK, WHITE};
use crate::city::overview::{LotOverview, Overview, Warning, overview};
pub use crate::http::session::Guard;
use crate::http::session::{COOKIE, SESSION};
use crate::state::AppState;
use crate::store::{DownlinkState, RecordQuery, StoreError};

/// Seconds between live refreshes.
const LIVE: u32 = 5;
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(city::city))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", axum::routing::post(login::logout))
        .route("/lots/{code}", get(lot::lot))
        .route("/lots/{code}/qr", get(qr::qr))
        .route("/plates", get(plates::plates))
        .route("/plates/refund", axum::routing::post(plates::refund))
        .route("/plates/waive", axum::routing::post(plates::waive))
        .route("/lists", get(lists::lists).post(lists::change_list))
        .route("/cloud", get(cloud::cloud).post(cloud::change))
        .route("/events", get(events::events))
        .route("/photos/{code}/{photo_id}", get(photo::photo))
        .route("/users", get(accounts::users).post(accounts::change))
        .route("/account", get(accounts::own).post(accounts::change_own))
        .route("/audit", get(audit::audit))
        .route("/records", get(records::records))
        .route("/revenue", get(revenue::revenue))
        .route("/arrears", get(arrears::arrears))
        .route("/payments", get(payments::payments))
        .route("/reconciliation", get(reconcile::reconciliation))
        .route("/assets/{name}", get(onepark_serve::pages::asset))
        .layer(axum::middleware::from_fn_with_state(state, guard_posts))
}

/// Whether the request reached us over TLS (through a proxy that says so),
/// or the configuration says the dashboard is only ever served so.
fn secure(guard: &Guard, headers: &HeaderMap) -> bool {
    let forwarded = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
    guard.secure_cookie || forwarded.is_some_and(|p| p.split(',').next().is_some_and(|p| p.trim() == "https"))
}

/// The largest form the console takes (a list change, an account).
const MAX_FORM: usize = 64 * 1024;

/// Refuses a POST that a browser says came from another origin: a page of
/// another site, or of another origin of this site (SameSite=Strict sends
/// the cookie to every port of the host). `Origin: null` (a sandboxed frame,
/// a redirect) is foreign. A request with neither header is no browser's
/// cross-origin form. Then every POST but the login must carry its
/// session's form token (`csrf` field, or `x-csrf-token` header); the
/// caller found on the way is handed to the page (no second lookup).
async fn guard_posts(State(state): State<AppState>, Client(client): Client, request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let lang = onepark_serve::pages::lang(request.headers());
    if onepark_serve::pages::cross_site(request.headers()) {
        tracing::warn!(
            origin = ?request.headers().get(header::ORIGIN),
            fetch_site = ?request.headers().get("sec-fetch-site"),
            path = request.uri().path(),
            "dashboard POST from another origin refused"
        );
        return (StatusCode::FORBIDDEN, lang.t("拒绝跨站提交", "Cross-origin form refused")).into_response();
    }
    if request.uri().path() == "/login" {
        return next.run(request).await;
    }
    let who = match crate::http::caller::from_cookie(&state, request.headers(), client).await {
        Ok(Some(who)) => who,
        Ok(None) => return Refused::Login.into_response(),
        Err(e) => return Refused::Store(e).into_response(),
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, lang.t("表单过大", "Form too large")).into_response();
    };
    let header_token = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let given =
        header_token.or_else(|| form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned()));
    if !given.is_some_and(|t| crate::secret::same_secret(&t, &who.csrf)) {
        tracing::warn!(%client, actor = %who.actor, path = parts.uri.path(), "dashboard POST without its form token refused");
        return (
            StatusCode::FORBIDDEN,
            lang.t(
                "表单已过期或来源不明，请刷新页面后重试",
                "The form expired or came from elsewhere: reload the page and try again",
            ),
        )
            .into_response();
    }
    let mut request = Request::from_parts(parts, axum::body::Body::from(bytes));
    request.extensions_mut().insert(who);
    next.run(request).await
}

/// Who is asking, in which language, for a whole page or `<main>` only.
struct Viewer {
    lang: Lang,
    fragment: bool,
    /// The payment channel is the sandbox: every page says so.
    play_money: bool,
    who: Who,
}

impl Viewer {
    /// Refuses unless the viewer may do `need` at `lot`.
    fn check(&self, need: Need, lot: &str) -> Result<(), Refused> {
        self.who.check(need, lot).map_err(|d| Refused::Denied(self.lang, d))
    }

    /// Refuses unless the viewer may do `need` across the city.
    fn check_city(&self, need: Need) -> Result<(), Refused> {
        self.who.check_city(need).map_err(|d| Refused::Denied(self.lang, d))
    }

    /// The form token every form of the page carries.
    fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.who.csrf); }
    }
}

enum Refused {
    Login,
    Denied(Lang, Denied),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Login => Redirect::to("/login").into_response(),
            Refused::Denied(lang, d) => (
                StatusCode::FORBIDDEN,
                onepark_serve::pages::html(page(
                    lang,
                    lang.t("无权访问", "Not allowed"),
                    "",
                    0,
                    html! {
                        div.card.login id="denied" {
                            h1 { (lang.t("无权访问", "Not allowed")) }
                            p { (lang.t(d.zh, d.en)) }
                            p { a href="/" { (lang.t("返回首页", "Back to the start")) } }
                        }
                    },
                )),
            )
                .into_response(),
            Refused::Store(e) => {
                tracing::error!(error = %e, "dashboard query failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "数据库错误 / database error").into_response()
            }
        }
    }
}

/// Every dashboard page but the login asks for a viewer: a live session's
/// cookie, else a redirect to the login.
impl FromRequestParts<AppState> for Viewer {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = onepark_serve::pages::lang(&parts.headers);
        let who = match parts.extensions.get::<Who>() {
            Some(who) => who.clone(),
            None => {
                let Client(client) = Client::from_request_parts(parts, state).await.unwrap_or_else(|e| match e {});
                crate::http::caller::from_cookie(state, &parts.headers, client).await?.ok_or(Refused::Login)?
            }
        };
        let play_money = state.payments().play_money();
        Ok(Viewer { lang, fragment: parts.headers.get("x-fragment").is_some(), play_money, who })
    }
}

/// A plate as typed (`鲁b-12345`), as the store holds it; kept as typed when it is no plate.
fn stored_plate(typed: &str) -> String {
    onepark_domain::plate::Plate::parse(typed).map_or_else(|_| typed.to_owned(), |p| p.to_string())
}

/// A link of the console's navigation: (href, 中文, English, who sees it).
type NavItem = (&'static str, &'static str, &'static str, fn(&Who) -> bool);

/// The console's pages.
const NAV: [NavItem; 12] = [
    ("/", "全市概览", "City", |_| true),
    ("/records", "停车记录", "Records", |_| true),
    ("/revenue", "收入报表", "Revenue", |_| true),
    ("/payments", "线上支付", "Payments", |_| true),
    ("/arrears", "欠费", "Arrears", |_| true),
    ("/reconciliation", "对账", "Reconcile", |w| w.city_wide()),
    ("/plates", "车牌查询", "Plates", |_| true),
    ("/lists", "黑白名单", "Lists", |_| true),
    ("/events", "告警与事件", "Alarms", |_| true),
    ("/cloud", "云平台接口", "Cloud API", |w| w.city_wide()),
    ("/audit", "操作日志", "Audit", |_| true),
    ("/users", "账户", "Accounts", |w| w.role == Role::Admin),
];

/// A page without a viewer (the login, a refusal).
fn page(lang: Lang, title: &str, here: &str, live: u32, body: Markup) -> Markup {
    let nav: Vec<Nav> = NAV[..1].iter().map(|(href, zh, en, _)| Nav { href, zh, en, active: *href == here }).collect();
    onepark_web::page(lang, title, lang.t("onepark 城市停车平台", "onepark city parking"), &nav, live, body)
}

/// A page for a viewer: the links their role has, their name and a way out.
fn page_for(v: &Viewer, title: &str, here: &str, live: u32, body: Markup) -> Markup {
    let lang = v.lang;
    let nav: Vec<Nav> = NAV
        .iter()
        .filter(|(_, _, _, shown)| shown(&v.who))
        .map(|(href, zh, en, _)| Nav { href, zh, en, active: *href == here })
        .collect();
    let (zh, en) = v.who.role.label();
    let user = html! {
        span.user id="user" {
            a href="/account" title=(lang.t(zh, en)) { (v.who.actor) }
            form method="post" action="/logout" { (v.csrf()) button type="submit" { (lang.t("退出", "Sign out")) } }
        }
    };
    onepark_web::page_as(lang, title, lang.t("onepark 城市停车平台", "onepark city parking"), &nav, live, user, body)
}

/// The page, or its `<main>` alone for a live refresh.
fn reply(v: &Viewer, title: &str, here: &str, body: Markup) -> Response {
    let lang = v.lang;
    let body = html! {
        @if v.play_money {
            div.notice.bad id="sandbox" { (lang.t("测试环境：支付渠道为沙箱（虚拟资金），线上收入均非真实资金。", "Test system: the payment channel is the sandbox (play money); online takings are not real money.")) }
        }
        (body)
    };
    onepark_serve::pages::html(if v.fragment { body } else { page_for(v, title, here, LIVE, body) })
}

fn stat(label: &str, value: &str, sub: &str, id: &str) -> Markup {
    html! {
        div.card.stat.span-3 id=(id) {
            div.label { (label) }
            div.value { (value) }
            @if !sub.is_empty() { div.sub { (sub) } }
        }
    }
}

fn name(l: &LotOverview) -> &str {
    l.name.as_deref().unwrap_or(&l.parking_code)
}

fn online_badge(lang: Lang, online: bool) -> Markup {
    if online {
        html! { span.badge.ok { (lang.t("在线", "online")) } }
    } else {
        html! { span.badge.off { (lang.t("离线", "offline")) } }
    }
}

fn warning_badge(lang: Lang, w: Warning, l: &LotOverview) -> Markup {
    match w {
        Warning::Offline => html! { span.badge.bad { (lang.t("离线", "offline")) } },
        Warning::OnlineRate => html! { span.badge.warn {
        (lang.t("在线率 ", "online ")) (format!("{:.0}%", l.online_rate_today * 100.0)) } },
        Warning::ExitsWithoutEntry => html! { span.badge.warn {
        (lang.t("无入场出场 ", "exits without entry ")) (l.exits_without_entry_today) } },
        Warning::DownlinksOverdue => html! { span.badge.warn {
        (lang.t("下发超时 ", "overdue ")) (l.downlinks_overdue) } },
    }
}

fn list_name(lang: Lang, kind: i64) -> &'static str {
    if kind == BLACK { lang.t("黑名单", "black") } else { lang.t("白名单", "white") }
}

fn delivery_badge(lang: Lang, state: Option<DownlinkState>) -> Markup {
    match state {
        Some(DownlinkState::Confirmed) => {
            html! { span.badge.ok.delivery data-state="confirmed" { (lang.t("已确认", "confirmed")) } }
        }
        Some(DownlinkState::Published) => {
            html! { span.badge.warn.delivery data-state="published" { (lang.t("已下发", "published")) } }
        }
        Some(DownlinkState::Queued) => {
            html! { span.badge.delivery data-state="queued" { (lang.t("排队中", "queued")) } }
        }
        Some(DownlinkState::Expired) => {
            html! { span.badge.bad.delivery data-state="expired" { (lang.t("已过期", "expired")) } }
        }
        Some(DownlinkState::Refused) => {
            html! { span.badge.bad.delivery data-state="refused" { (lang.t("车场拒绝", "refused")) } }
        }
        None => html! { span.muted { "—" } },
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
