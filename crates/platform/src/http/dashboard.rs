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
        .route("/", get(city))
        .route("/login", get(login_page).post(login))
        .route("/logout", get(logout).post(logout))
        .route("/lots/{code}", get(lot))
        .route("/plates", get(plates))
        .route("/lists", get(lists).post(change_list))
        .route("/photos/{code}/{photo_id}", get(photo))
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

const NAV: [(&str, &str, &str); 3] =
    [("/", "全市概览", "City"), ("/plates", "车牌查询", "Plates"), ("/lists", "黑白名单", "Lists")];

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

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The overview; `/?token=…` logs in (the demo prints that link).
async fn city(
    State(state): State<AppState>,
    viewer: Result<Viewer, Refused>,
    Client(client): Client,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, Refused> {
    if let Some(token) = q.token {
        return Ok(log_in(&state, client, &token, &headers));
    }
    let v = viewer?;
    let o = overview(&state).await?;
    let money = state.store().money_today(state.now().date()).await?;
    Ok(reply(&v, v.lang.t("全市概览", "City overview"), "/", city_body(v.lang, &o, &money)))
}

/// Today's takings by channel and what is owed or undecided per lot.
fn money_cards(lang: Lang, m: &crate::store::MoneyDay, o: &Overview) -> Markup {
    let total: i64 = m.takings.iter().map(|t| t.3).sum();
    let mut codes: Vec<&str> =
        m.arrears.iter().map(|a| a.0.as_str()).chain(m.pending.iter().map(|p| p.0.as_str())).collect();
    codes.sort_unstable();
    codes.dedup();
    let lot_name = |code: &str| {
        o.lots.iter().find(|l| l.parking_code == code).and_then(|l| l.name.clone()).unwrap_or_else(|| code.to_owned())
    };
    let purpose = |p: &str| -> String {
        match p {
            "exit" => lang.t("出口无感扣费", "no-stop at the exit"),
            "prepay" => lang.t("场内缴费", "paid in the lot"),
            "after_leave" => lang.t("先离场后付费", "after leaving"),
            "arrears" => lang.t("欠费补缴", "arrears"),
            other => other,
        }
        .to_owned()
    };
    html! {
        div.card.span-6 id="takings" {
            h2 { (lang.t("今日线上收款", "Online takings today")) " " span.muted { (yuan(total)) } }
            @if m.takings.is_empty() { p.empty { (lang.t("今天还没有线上收款", "No online payment today yet")) } }
            @else { table {
                thead { tr { th { (lang.t("渠道", "Channel")) } th { (lang.t("场景", "Kind")) } th.num { (lang.t("笔数", "Count")) } th.num { (lang.t("金额", "Amount")) } } }
                tbody { @for (channel, p, n, fen) in &m.takings { tr {
                    td { (channel) } td { (purpose(p)) } td.num { (n) } td.num { (yuan(*fen)) }
                } } }
            } }
        }
        div.card.span-6 id="owed" {
            h2 { (lang.t("欠费与待定扣款", "Arrears and undecided charges")) }
            @if m.arrears.is_empty() && m.pending.is_empty() { p.empty { (lang.t("没有欠费", "Nothing owed")) } }
            @else { table {
                thead { tr { th { (lang.t("车场", "Lot")) } th.num { (lang.t("欠费笔数", "Unpaid bills")) } th.num { (lang.t("欠费金额", "Owed")) } th.num { (lang.t("待定扣款", "Undecided")) } } }
                tbody {
                    @for code in &codes {
                        @let owed = m.arrears.iter().find(|a| a.0 == *code);
                        @let pending = m.pending.iter().find(|p| p.0 == *code);
                        tr data-code=(code) {
                            td { (if code.is_empty() { lang.t("全市补缴", "city-wide").to_owned() } else { lot_name(code) }) }
                            td.num { (owed.map_or(0, |a| a.1)) }
                            td.num { (yuan(owed.map_or(0, |a| a.2))) }
                            td.num { (pending.map_or(0, |p| p.1)) }
                        }
                    }
                }
            } }
        }
    }
}

fn city_body(lang: Lang, o: &Overview, money: &crate::store::MoneyDay) -> Markup {
    let c = &o.city;
    let occupied = c.open_berths - c.free_berths;
    let mut lots: Vec<&LotOverview> = o.lots.iter().collect();
    // What needs attention first, then by name.
    lots.sort_by_key(|l| (l.warnings.is_empty(), l.parking_code.clone()));
    let warned: Vec<&LotOverview> = lots.iter().copied().filter(|l| !l.warnings.is_empty()).collect();
    html! {
        h1 { (lang.t("全市概览", "City overview")) span.muted { " · " (o.now) } }
        div.grid {
            (stat(lang.t("在线车场", "Lots online"), &format!("{} / {}", c.online, c.lots), "", "stat-online"))
            (stat(lang.t("空余泊位", "Free berths"), &c.free_berths.to_string(),
                &format!("{} {} · {} {}%", lang.t("开放", "open"), c.open_berths, lang.t("占用", "occupied"), percent(occupied, c.open_berths)), "stat-free"))
            (stat(lang.t("今日入场", "Entries today"), &c.entries_today.to_string(), "", "stat-entries"))
            (stat(lang.t("今日出场", "Exits today"), &c.exits_today.to_string(), "", "stat-exits"))
            div.card.span-8 {
                h2 { (lang.t("今日全市泊位占用率", "The city's occupancy today")) }
                (occupancy_chart(lang, o))
            }
            div.card.span-4 {
                h2 { (lang.t("需要关注", "Needs attention")) }
                @if warned.is_empty() && c.downlinks_overdue == 0 {
                    p.empty { (lang.t("一切正常", "All well")) }
                }
                ul.warnings id="warnings" {
                    @if c.downlinks_overdue > 0 {
                        li { span.badge.warn { (lang.t("下发超时", "Overdue")) } " "
                            (c.downlinks_overdue) (lang.t(" 条下发未在时限内确认", " downlinks not confirmed in time")) }
                    }
                    @for l in &warned {
                        li { a href=(format!("/lots/{}", l.parking_code)) { (name(l)) } " "
                            @for w in &l.warnings { (warning_badge(lang, *w, l)) " " } }
                    }
                }
            }
            div.card.span-5 {
                h2 { (lang.t("车场分布", "Lots on the map")) }
                (city_map(lang, &o.lots))
            }
            div.card.span-7 {
                h2 { (lang.t("车场", "Lots")) }
                div.scroll { table id="lots" {
                    thead { tr {
                        th { (lang.t("车场", "Lot")) }
                        th { (lang.t("状态", "State")) }
                        th.num { (lang.t("空余/开放", "Free/open")) }
                        th { (lang.t("占用", "Occupied")) }
                        th.num { (lang.t("入场", "In")) }
                        th.num { (lang.t("出场", "Out")) }
                    } }
                    tbody {
                        @for l in &lots {
                            tr data-code=(l.parking_code) {
                                td { a href=(format!("/lots/{}", l.parking_code)) { (name(l)) } br; span.muted { (l.parking_code) } }
                                td { (online_badge(lang, l.online)) }
                                td.num.free { (l.free_berths.unwrap_or(0)) " / " (l.open_berths.unwrap_or(0)) }
                                td { (bar(l.open_berths.unwrap_or(0) - l.free_berths.unwrap_or(0), l.open_berths.unwrap_or(0))) }
                                td.num.entries { (l.entries_today) }
                                td.num.exits { (l.exits_today) }
                            }
                        }
                    }
                } }
                @if lots.is_empty() { p.empty { (lang.t("还没有车场上报数据。", "No lot has reported yet.")) } }
            }
            (money_cards(lang, money, o))
        }
    }
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

fn bar(part: i64, whole: i64) -> Markup {
    let p = percent(part, whole).clamp(0, 100);
    let class = if p >= 95 {
        "bar full"
    } else if p >= 80 {
        "bar hot"
    } else {
        "bar"
    };
    html! {
        svg class=(class) viewBox="0 0 100 6" preserveAspectRatio="none" role="img" aria-label=(format!("{p}%")) {
            title { (p) "%" }
            rect width=(p) height="6" {}
        }
    }
}

fn day_ticks() -> Vec<(f64, String)> {
    (0..=24).step_by(3).map(|h| (f64::from(h) * 60.0, format!("{h:02}:00"))).collect()
}

fn minutes(hhmm: &str) -> Option<f64> {
    let (h, m) = hhmm.split_once(':')?;
    Some(h.parse::<f64>().ok()? * 60.0 + m.get(..2)?.parse::<f64>().ok()?)
}

/// The share of the city's open berths occupied, slot by slot: lots that
/// did not report in a slot do not drag the line down, as a sum would.
fn occupancy_chart(lang: Lang, o: &Overview) -> Markup {
    let share = o
        .occupancy
        .iter()
        .filter(|s| s.open_berths > 0)
        .filter_map(|s| Some((minutes(&s.at)?, s.occupied as f64 * 100.0 / s.open_berths as f64)))
        .collect();
    let axes = Axes { x_min: 0.0, x_max: 24.0 * 60.0, x_ticks: day_ticks(), y_max: 100.0, y_unit: "%" };
    chart::line(
        lang.t("今日全市泊位占用率", "The city's occupancy today"),
        &axes,
        &[Series {
            name: lang.t("开放泊位占用率", "open berths occupied"), class: "s1", points: share, area: true
        }],
    )
}

fn city_map(lang: Lang, lots: &[LotOverview]) -> Markup {
    let titles: Vec<(String, &LotOverview)> = lots
        .iter()
        .map(|l| {
            let free = l.free_berths.unwrap_or(0);
            (format!("{} · {} {free} / {}", name(l), lang.t("空余", "free"), l.open_berths.unwrap_or(0)), l)
        })
        .collect();
    let hrefs: Vec<String> = lots.iter().map(|l| format!("/lots/{}", l.parking_code)).collect();
    // Each dot shows its free berths (a large city shows dots alone).
    let frees: Vec<String> = lots
        .iter()
        .map(|l| if lots.len() <= 60 { l.free_berths.unwrap_or(0).to_string() } else { String::new() })
        .collect();
    let places: Vec<Place> = titles
        .iter()
        .zip(&hrefs)
        .zip(&frees)
        .filter_map(|(((title, l), href), free)| {
            let [x, y] = l.position?;
            let open = l.open_berths.unwrap_or(0);
            let class = if !l.online {
                "off"
            } else if percent(open - l.free_berths.unwrap_or(0), open) >= 95 {
                "bad"
            } else if l.warnings.is_empty() {
                "ok"
            } else {
                "warn"
            };
            Some(Place {
                x,
                y,
                label: free,
                class,
                href,
                radius: if lots.len() <= 60 {
                    9.0 + (open.max(1) as f64).sqrt() / 3.0
                } else {
                    3.0 + (open.max(1) as f64).sqrt() / 6.0
                },
                title: title.clone(),
            })
        })
        .collect();
    html! {
        @if places.is_empty() { p.empty { (lang.t("车场尚未上报位置（uploadParkingInfo）。", "No lot has sent its position (uploadParkingInfo) yet.")) } }
        @else { (chart::map(lang.t("车场分布", "Lots on the map"), &places)) }
        p.legend {
            span.key.s2 { (lang.t("正常", "fine")) } span.key.s3 { (lang.t("需关注", "warning")) }
            span.muted { (lang.t("红：已满 · 灰：离线 · 圆大小：泊位数 · 数字：空余泊位", "red: full · grey: offline · size: berths · number: free berths")) }
        }
    }
}

async fn lot(State(state): State<AppState>, v: Viewer, Path(code): Path<String>) -> Result<Response, Refused> {
    Ok(match lot_body(&state, v.lang, &code).await? {
        Some((title, body)) => reply(&v, title.as_str(), "", body),
        None => (
            StatusCode::NOT_FOUND,
            reply(
                &v,
                "404",
                "",
                html! {
                    div.card { p { (v.lang.t("没有这个车场：", "No such lot: ")) (code) } }
                },
            ),
        )
            .into_response(),
    })
}

async fn lot_body(state: &AppState, lang: Lang, code: &str) -> Result<Option<(String, Markup)>, StoreError> {
    let o = overview(state).await?;
    let Some(l) = o.lots.iter().find(|l| l.parking_code == code) else { return Ok(None) };
    let store = state.store();
    let now = state.now();
    let today = now.date();
    let from = format!("{today} 00:00:00");
    let points = store.berth_series(code, &from, &format_time(now + Duration::minutes(1))).await?;
    let query = RecordQuery {
        parking_code: code.to_owned(),
        plate_no: String::new(),
        from: "0000-01-01 00:00:00".into(),
        to: "9999-12-31 23:59:59".into(),
        limit: 15,
        offset: 0,
    };
    let records = store.search(&query).await?;
    let uids: Vec<String> = records.iter().map(|r| r.uid.clone()).collect();
    let mut photos: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let since = records.iter().map(|r| r.arrive_time.as_str()).min().unwrap_or_default();
    for (uid, photo_id) in store.photos_of(code, since, &uids).await? {
        photos.entry(uid).or_default().push(photo_id);
    }
    let days: Vec<NaiveDate> = [today.pred_opt(), Some(today)].into_iter().flatten().collect();
    let mut reconciliation = Vec::new();
    for day in &days {
        reconciliation.push((*day, store.day_counts(code, *day).await?, store.latest_check(code, *day).await?));
    }
    let cutoff = format_time(now - Duration::days(7));
    let quality = store.quality(code, today, &cutoff).await?;
    let entries = store.list_entries(Some(code), None).await?;
    let title = name(l).to_owned();
    // One point per minute at most (berth states also come with every record).
    let mut series: Vec<(f64, f64)> = Vec::new();
    let mut free: Vec<(f64, f64)> = Vec::new();
    for p in &points {
        let Some(m) = minutes(p.at.get(11..16).unwrap_or_default()) else { continue };
        if series.last().is_some_and(|(x, _)| *x == m) {
            continue;
        }
        series.push((m, (p.open - p.free) as f64));
        free.push((m, p.free as f64));
    }
    let axes = Axes {
        x_min: 0.0,
        x_max: 24.0 * 60.0,
        x_ticks: day_ticks(),
        y_max: l.open_berths.unwrap_or(0) as f64,
        y_unit: "",
    };
    let body = html! {
        h1 { (title) " " (online_badge(lang, l.online)) span.muted { " · " (l.parking_code) " · accessID " (l.access_id) } }
        @if let Some(address) = &l.address { p.muted { (address) } }
        div.grid {
            (stat(lang.t("空余泊位", "Free berths"), &l.free_berths.unwrap_or(0).to_string(),
                &format!("{} {}", lang.t("开放", "open"), l.open_berths.unwrap_or(0)), "stat-free"))
            (stat(lang.t("今日入场", "Entries today"), &l.entries_today.to_string(), "", "stat-entries"))
            (stat(lang.t("今日出场", "Exits today"), &l.exits_today.to_string(), "", "stat-exits"))
            (stat(lang.t("今日在线率", "Online today"), &format!("{:.1}%", l.online_rate_today * 100.0),
                &format!("{} {}", lang.t("最近上报", "last heard"), l.last_seen), "stat-online"))
            div.card.span-8 {
                h2 { (lang.t("今日泊位", "Berths today")) }
                (chart::line(lang.t("今日泊位", "Berths today"), &axes, &[
                    Series { name: lang.t("占用", "occupied"), class: "s1", points: series, area: true },
                    Series { name: lang.t("空余", "free"), class: "s2", points: free, area: false },
                ]))
            }
            div.card.span-4 {
                h2 { (lang.t("今日数据质量", "Data quality today")) }
                table {
                    tr { td { (lang.t("记录", "records")) } td.num { (quality.records) } }
                    tr { td { (lang.t("迟报（>5 秒）", "late (> 5 s)")) } td.num { (quality.late) } }
                    tr { td { (lang.t("车牌无效", "invalid plates")) } td.num { (quality.invalid_plates) } }
                    tr { td { (lang.t("无入场的出场", "exits without entry")) } td.num { (quality.exits_without_entry) } }
                    tr { td { (lang.t("超 7 天未出场", "open > 7 days")) } td.num { (quality.entries_open_too_long) } }
                }
            }
            div.card.span-12 {
                h2 { (lang.t("最近进出", "Latest stays")) }
                div.scroll { table id="records" {
                    thead { tr {
                        th { (lang.t("车牌", "Plate")) } th { (lang.t("入场", "Entered")) } th { (lang.t("出场", "Left")) }
                        th.num { (lang.t("应收", "Due")) } th { (lang.t("照片", "Photos")) }
                    } }
                    tbody { @for r in &records { tr {
                        td { a.plate href=(format!("/plates?plate={}", r.plate_no)) { (r.plate_no) }
                            @if r.deleted { " " span.badge.off { (lang.t("已删除", "deleted")) } } }
                        td { (r.arrive_time) }
                        td { (r.end_time.as_deref().unwrap_or("—")) }
                        td.num { (r.should_pay.map(yuan).unwrap_or_default()) }
                        td { div.photos { @for id in photos.get(&r.uid).map(Vec::as_slice).unwrap_or_default() {
                            a href=(format!("/photos/{code}/{id}")) { img loading="lazy" alt=(r.plate_no) src=(format!("/photos/{code}/{id}")); }
                        } } }
                    } } }
                } }
            }
            div.card.span-6 {
                h2 { (lang.t("对账", "Reconciliation")) }
                table {
                    thead { tr { th { (lang.t("日期", "Day")) } th.num { (lang.t("入/出", "In/out")) } th.num { (lang.t("照片", "Photos")) }
                        th.num { (lang.t("收费", "Takings")) } th { (lang.t("车场对账", "Lot's check")) } } }
                    tbody { @for (day, counts, check) in &reconciliation { tr {
                        td { (day) }
                        td.num { (counts.arrive) " / " (counts.leave) }
                        td.num { (counts.photo) }
                        td.num { (yuan(counts.pay_total)) " (" (counts.pay_num) ")" }
                        td { @match check {
                            Some(c) if c.account_mark == 1 && c.photo_mark == 1 => span.badge.ok { (lang.t("一致", "balanced")) },
                            Some(_) => span.badge.bad { (lang.t("不一致", "differs")) },
                            None => span.muted { (lang.t("未上报", "not sent")) },
                        } }
                    } } }
                }
            }
            div.card.span-6 {
                h2 { (lang.t("黑白名单", "Lists")) }
                @if entries.is_empty() { p.empty { (lang.t("无名单记录", "No list entries")) } }
                @else { table { tbody { @for (e, delivery) in &entries { tr {
                    td.plate { (e.plate_no) }
                    td { (list_name(lang, e.list_kind)) @if e.deleted { " " span.badge.off { (lang.t("已移除", "removed")) } } }
                    td { (e.start_time) " ~ " (e.end_time) }
                    td { (delivery_badge(lang, *delivery)) }
                } } } } }
            }
        }
    };
    Ok(Some((title, body)))
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

#[derive(Deserialize)]
struct PlateQuery {
    plate: Option<String>,
}

async fn plates(State(state): State<AppState>, v: Viewer, Query(q): Query<PlateQuery>) -> Result<Response, Refused> {
    let lang = v.lang;
    let plate = q.plate.unwrap_or_default().trim().to_owned();
    // Typed as on a windscreen (`鲁b-12345`): searched as stored.
    let normal = stored_plate(&plate);
    let (records, entries) = if normal.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let query = RecordQuery {
            parking_code: String::new(),
            plate_no: normal.clone(),
            from: "0000-01-01 00:00:00".into(),
            to: "9999-12-31 23:59:59".into(),
            limit: 100,
            offset: 0,
        };
        (state.store().search(&query).await?, state.store().list_entries(None, Some(&normal)).await?)
    };
    let body = html! {
        h1 { (lang.t("车牌查询", "Find a plate")) }
        div.card {
            form.inline method="get" action="/plates" {
                label.field { (lang.t("车牌号", "Plate")) input name="plate" value=(plate) placeholder="鲁B12345" autofocus; }
                button type="submit" { (lang.t("查询", "Search")) }
            }
        }
        @if !normal.is_empty() {
            div.grid.mt {
                div.card.span-8 {
                    h2 { (normal) " · " (lang.t("停车记录", "stays")) " (" (records.len()) ")" }
                    @if records.is_empty() { p.empty { (lang.t("全市没有该车牌的记录。", "No stays of this plate in the city.")) } }
                    @else { div.scroll { table id="stays" {
                        thead { tr { th { (lang.t("车场", "Lot")) } th { (lang.t("入场", "Entered")) } th { (lang.t("出场", "Left")) } th.num { (lang.t("应收", "Due")) } } }
                        tbody { @for r in &records { tr {
                            td { a href=(format!("/lots/{}", r.parking_code)) { (r.parking_code) } }
                            td { (r.arrive_time) } td { (r.end_time.as_deref().unwrap_or(lang.t("在场", "inside"))) }
                            td.num { (r.should_pay.map(yuan).unwrap_or_default()) }
                        } } }
                    } } }
                }
                div.card.span-4 {
                    h2 { (lang.t("名单", "Lists")) }
                    @if entries.is_empty() { p.empty { (lang.t("不在任何名单中", "On no list")) } }
                    @else { table { tbody { @for (e, delivery) in &entries { tr {
                        td { a href=(format!("/lots/{}", e.parking_code)) { (e.parking_code) } }
                        td { (list_name(lang, e.list_kind)) @if e.deleted { " " span.badge.off { (lang.t("已移除", "removed")) } } }
                        td { (delivery_badge(lang, *delivery)) }
                    } } } } }
                }
            }
        }
    };
    Ok(reply(&v, lang.t("车牌查询", "Find a plate"), "/plates", body))
}

#[derive(Deserialize)]
struct ListsQuery {
    notice: Option<String>,
    error: Option<String>,
}

async fn lists(State(state): State<AppState>, v: Viewer, Query(q): Query<ListsQuery>) -> Result<Response, Refused> {
    let lang = v.lang;
    let (entries, lots) = (state.store().list_entries(None, None).await?, state.store().lot_statuses().await?);
    // One row per plate and list, one badge per lot.
    let mut rows: BTreeMap<(String, i64), Vec<LotCopy>> = BTreeMap::new();
    for (e, delivery) in &entries {
        rows.entry((e.plate_no.clone(), e.list_kind)).or_default().push((e.parking_code.clone(), e.deleted, *delivery));
    }
    let now = state.now();
    let body = html! {
        h1 { (lang.t("黑白名单", "Black and white lists")) }
        @if let Some(n) = &q.notice { div.notice id="notice" { (n) } }
        @if let Some(e) = &q.error { div.notice.bad id="notice" { (e) } }
        div.card {
            h2 { (lang.t("新增名单", "Add an entry")) }
            form.inline method="post" action="/lists" id="add-list" {
                input type="hidden" name="operate" value="add";
                label.field { (lang.t("车牌号", "Plate")) input name="plate" required placeholder="鲁B12345"; }
                label.field { (lang.t("名单", "List")) select name="list" {
                    option value="black" { (lang.t("黑名单", "black")) } option value="white" { (lang.t("白名单", "white")) } } }
                label.field { (lang.t("车场", "Lots")) select name="lot" {
                    option value="" { (lang.t("全部车场", "every lot")) }
                    @for l in &lots { option value=(l.parking_code) { (l.parking_code) } } } }
                label.field { (lang.t("开始", "From")) input name="start" value=(format_time(now.with_second(0).unwrap_or(now))); }
                label.field { (lang.t("结束", "Until")) input name="end" value=(format_time(now.with_second(0).unwrap_or(now) + Duration::days(365))); }
                label.field { (lang.t("备注", "Remark")) input name="remark" maxlength="50"; }
                button type="submit" { (lang.t("下发", "Send")) }
            }
        }
        div.card.mt {
            h2 { (lang.t("名单与各车场确认", "Entries and each lot's confirmation")) }
            @if rows.is_empty() { p.empty { (lang.t("暂无名单", "No entries yet")) } }
            @else { div.scroll { table id="list-entries" {
                thead { tr { th { (lang.t("车牌", "Plate")) } th { (lang.t("名单", "List")) } th { (lang.t("各车场", "Lots")) } th {} } }
                tbody { @for ((plate, kind), lots) in &rows {
                    @let live: Vec<&String> = lots.iter().filter(|(_, deleted, _)| !deleted).map(|(c, _, _)| c).collect();
                    tr data-plate=(plate) {
                        td.plate { a href=(format!("/plates?plate={plate}")) { (plate) } }
                        td { (list_name(lang, *kind)) }
                        td { @for (code, deleted, delivery) in lots {
                            span.lot-state data-code=(code) { (code) " " @if *deleted { span.badge.off { (lang.t("移除", "removal")) } " " } (delivery_badge(lang, *delivery)) } " "
                        } }
                        td { @if !live.is_empty() {
                            form method="post" action="/lists" data-confirm=(format!("{} {plate}？", lang.t("确认从所有车场移除", "Remove from every lot:"))) {
                                input type="hidden" name="operate" value="delete";
                                input type="hidden" name="plate" value=(plate);
                                input type="hidden" name="list" value=(if *kind == BLACK { "black" } else { "white" });
                                button.danger type="submit" { (lang.t("移除", "Remove")) }
                            }
                        } }
                    }
                } }
            } } }
        }
    };
    Ok(reply(&v, lang.t("黑白名单", "Lists"), "/lists", body))
}

/// One lot's copy of a list entry: its parkingCode, whether its latest
/// change is a removal, and that change's delivery.
type LotCopy = (String, bool, Option<DownlinkState>);

#[derive(Deserialize)]
struct ListForm {
    operate: String,
    plate: String,
    list: String,
    #[serde(default)]
    lot: String,
    start: Option<String>,
    end: Option<String>,
    remark: Option<String>,
}

/// The list form: one change per accessID of the chosen lots (every lot,
/// or one), through the admin API's own validation and downlinks.
async fn change_list(State(state): State<AppState>, v: Viewer, Form(f): Form<ListForm>) -> Result<Response, Refused> {
    let lang = v.lang;
    let add = f.operate == "add";
    let black = f.list != "white";
    let plate = f.plate.trim().to_owned();
    let mut by_access: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for lot in state.store().lot_statuses().await?.into_iter().filter(|l| f.lot.is_empty() || l.parking_code == f.lot) {
        by_access.entry(lot.access_id).or_default().push(lot.parking_code);
    }
    if !add {
        // A removal goes to the lots where the entry is live.
        let kind = if black { BLACK } else { WHITE };
        let live = state.store().list_entries(None, Some(&stored_plate(&plate))).await?;
        for codes in by_access.values_mut() {
            codes.retain(|c| live.iter().any(|(e, _)| e.parking_code == *c && e.list_kind == kind && !e.deleted));
        }
        by_access.retain(|_, codes| !codes.is_empty());
    }
    let mut sent = 0;
    let mut errors = Vec::new();
    for (access_id, codes) in by_access {
        let mut change = crate::city::lists::Change::new(&access_id, codes, &plate, black, add);
        if add {
            let remark = f.remark.clone().filter(|r| !r.trim().is_empty());
            change = change.during(f.start.clone().unwrap_or_default(), f.end.clone().unwrap_or_default(), remark);
        }
        match crate::city::lists::apply(&state, change).await {
            Ok(reply) => sent += reply.lots(),
            Err(e) => errors.push(e.message().to_owned()),
        }
    }
    let query = if let Some(first) = errors.first() {
        format!("error={}", encode(&format!("{}{first}", lang.t("未下发：", "not sent: "))))
    } else if sent == 0 {
        format!("error={}", encode(lang.t("没有可下发的车场", "no lot to send it to")))
    } else {
        let verb = if add { lang.t("已下发", "sent") } else { lang.t("已下发移除", "removal sent") };
        format!(
            "notice={}",
            encode(&format!("{plate} {verb} → {sent} {}", lang.t("个车场，等待确认", "lots; confirmations follow")))
        )
    };
    Ok(Redirect::to(&format!("/lists?{query}")).into_response())
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn photo(
    State(state): State<AppState>,
    _: Viewer,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, Refused> {
    let Some(sha) = state.store().photo_sha(&code, &id).await? else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    Ok(match tokio::fs::read(crate::photo::path(state.photo_dir(), &sha)).await {
        Ok(jpeg) => onepark_serve::pages::jpeg(jpeg),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    })
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, onepark_serve::pages::lang(&headers), Notice::None)
}

/// What the login page says above its form.
enum Notice {
    None,
    Wrong,
    /// Too many tries from this address: seconds to wait.
    Throttled(u64),
}

fn login_form(state: &AppState, lang: Lang, notice: Notice) -> Response {
    if state.admin_token().is_none() {
        return Refused::Disabled(lang).into_response();
    }
    let body = html! {
        div.card.login {
            h1 { (lang.t("登录控制台", "Sign in")) }
            @match notice {
                Notice::Wrong => div.notice.bad { (lang.t("令牌不正确", "Wrong token")) },
                Notice::Throttled(wait) => div.notice.bad {
                    (lang.t("尝试次数过多，请稍后再试（秒）：", "Too many tries; try again in (seconds): ")) (wait)
                },
                Notice::None => {},
            }
            form method="post" action="/login" {
                p { label.field { (lang.t("管理令牌（admin_token）", "Admin token (admin_token)"))
                    input type="password" name="token" required autofocus; } }
                button type="submit" { (lang.t("登录", "Sign in")) }
            }
        }
    };
    let page = onepark_serve::pages::html(page(lang, lang.t("登录", "Sign in"), "", 0, body));
    match notice {
        Notice::None => page,
        Notice::Wrong => (StatusCode::UNAUTHORIZED, page).into_response(),
        Notice::Throttled(wait) => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, wait.to_string())], page).into_response()
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    log_in(&state, client, &f.token, &headers)
}

/// The admin token, from the form or the demo's `/?token=` link, for a session.
fn log_in(state: &AppState, client: IpAddr, token: &str, headers: &HeaderMap) -> Response {
    let lang = onepark_serve::pages::lang(headers);
    let Some(expected) = state.admin_token() else { return Refused::Disabled(lang).into_response() };
    let guard = state.dashboard();
    let now = Instant::now();
    // Counted before the comparison, so concurrent tries cannot all slip
    // under the limit while earlier ones are being compared.
    if let Err(wait) = guard.logins.take(&client.to_string(), now) {
        tracing::warn!(%client, "dashboard login throttled");
        return login_form(state, lang, Notice::Throttled(wait));
    }
    if !crate::secret::same_secret(token, expected) {
        return login_form(state, lang, Notice::Wrong);
    }
    let Some(id) = guard.open(now) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no random session id").into_response();
    };
    let secure = if secure(guard, headers) { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", SESSION.as_secs());
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

/// Ends the session server-side (a copied cookie stops working) and clears it.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = onepark_serve::pages::cookie(&headers, COOKIE) {
        state.dashboard().close(id);
    }
    let secure = if secure(state.dashboard(), &headers) { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
