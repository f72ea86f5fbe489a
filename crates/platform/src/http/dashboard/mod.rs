//! The operator dashboard at `/`: the city overview, a lot's detail, a
//! plate across the city, black/white lists with each lot's confirmation.
//! Server-rendered (maud, `onepark-web`), refreshed in place every few
//! seconds; it reads the same functions as the admin API, so its numbers
//! are the API's.
//!
//! Login: the admin token is the secret (accounts come later), exchanged for
//! a random session id kept server-side ([`Guard`]): an HttpOnly,
//! SameSite=Strict cookie that expires after [`SESSION`], is revoked by
//! logout, and is `Secure` behind TLS. Tries are throttled per client
//! address, counted before the comparison. Every POST must come from this
//! origin: SameSite does not separate two origins of one site (another port
//! of the same host), so `Sec-Fetch-Site` and `Origin` are checked too.

mod city;
mod cloud;
mod events;
mod lists;
mod login;
mod lot;
mod photo;
mod plates;
pub mod qr;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{Duration, NaiveDate, Timelike as _};
use onepark_domain::time::format_time;
use onepark_serve::pages::Client;
use onepark_web::chart::{self, Axes, Place, Series};
use onepark_web::{Lang, Markup, Nav, html, percent, yuan};
use serde::Deserialize;

use crate::city::lists::{BLACK, WHITE};
use crate::city::overview::{LotOverview, Overview, Warning, overview};
pub use crate::http::session::Guard;
use crate::http::session::SESSION;
use crate::state::AppState;
use crate::store::{DownlinkState, RecordQuery, StoreError};

/// The session cookie: a random id, never the admin token.
const COOKIE: &str = "onepark_session";
/// Seconds between live refreshes.
const LIVE: u32 = 5;
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(city::city))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", get(login::logout).post(login::logout))
        .route("/lots/{code}", get(lot::lot))
        .route("/lots/{code}/qr", get(qr::qr))
        .route("/plates", get(plates::plates))
        .route("/lists", get(lists::lists).post(lists::change_list))
        .route("/cloud", get(cloud::cloud).post(cloud::change))
        .route("/events", get(events::events))
        .route("/photos/{code}/{photo_id}", get(photo::photo))
        .route("/assets/{name}", get(onepark_serve::pages::asset))
        .layer(axum::middleware::from_fn(same_origin_posts))
}

/// Whether the request reached us over TLS (through a proxy that says so),
/// or the configuration says the dashboard is only ever served so.
fn secure(guard: &Guard, headers: &HeaderMap) -> bool {
    let forwarded = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
    guard.secure_cookie || forwarded.is_some_and(|p| p.split(',').next().is_some_and(|p| p.trim() == "https"))
}

/// Refuses a POST that a browser says came from another origin: a page of
/// another site, or of another origin of this site (SameSite=Strict sends
/// the cookie to every port of the host). `Origin: null` (a sandboxed frame,
/// a redirect) is foreign. A request with neither header is no browser's
/// cross-origin form.
async fn same_origin_posts(request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST || !onepark_serve::pages::cross_site(request.headers()) {
        return next.run(request).await;
    }
    let lang = onepark_serve::pages::lang(request.headers());
    tracing::warn!(
        origin = ?request.headers().get(header::ORIGIN),
        fetch_site = ?request.headers().get("sec-fetch-site"),
        path = request.uri().path(),
        "dashboard POST from another origin refused"
    );
    (StatusCode::FORBIDDEN, lang.t("拒绝跨站提交", "Cross-origin form refused")).into_response()
}

/// Who is asking, in which language, for a whole page or `<main>` only.
struct Viewer {
    lang: Lang,
    fragment: bool,
    /// The payment channel is the sandbox: every page says so.
    play_money: bool,
}

enum Refused {
    Login,
    Disabled(Lang),
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
            Refused::Disabled(lang) => (
                StatusCode::FORBIDDEN,
                onepark_serve::pages::html(page(
                    lang,
                    lang.t("控制台未启用", "Dashboard disabled"),
                    "",
                    0,
                    html! {
                        div.card.login { p { (lang.t("配置中未设置 admin_token，控制台与管理接口均未启用。",
                            "No admin_token in the configuration: the dashboard and admin API are off.")) } }
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

/// Every dashboard page but the login asks for a viewer: the admin
/// token's cookie, else a redirect to the login.
impl FromRequestParts<AppState> for Viewer {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = onepark_serve::pages::lang(&parts.headers);
        if state.admin_token().is_none() {
            return Err(Refused::Disabled(lang));
        }
        let given = onepark_serve::pages::cookie(&parts.headers, COOKIE).unwrap_or_default();
        if !state.dashboard().valid(given, Instant::now()) {
            return Err(Refused::Login);
        }
        let play_money = state.payments().play_money();
        Ok(Viewer { lang, fragment: parts.headers.get("x-fragment").is_some(), play_money })
    }
}

/// A plate as typed (`鲁b-12345`), as the store holds it; kept as typed when it is no plate.
fn stored_plate(typed: &str) -> String {
    onepark_domain::plate::Plate::parse(typed).map_or_else(|_| typed.to_owned(), |p| p.to_string())
}

const NAV: [(&str, &str, &str); 5] = [
    ("/", "全市概览", "City"),
    ("/plates", "车牌查询", "Plates"),
    ("/lists", "黑白名单", "Lists"),
    ("/events", "告警与事件", "Alarms"),
    ("/cloud", "云平台接口", "Cloud API"),
];

fn page(lang: Lang, title: &str, here: &str, live: u32, body: Markup) -> Markup {
    let nav: Vec<Nav> = NAV.iter().map(|(href, zh, en)| Nav { href, zh, en, active: *href == here }).collect();
    onepark_web::page(lang, title, lang.t("onepark 城市停车平台", "onepark city parking"), &nav, live, body)
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
    onepark_serve::pages::html(if v.fragment { body } else { page(lang, title, here, LIVE, body) })
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
