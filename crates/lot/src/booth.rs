//! The booth page (岗亭) at `/booth`: the lanes' latest events with photo,
//! plate and decision; cars held at an exit with what they owe (collect
//! and let out); unread plates to correct; the barrier by hand with a
//! reason; open sessions; month cards. Every action goes through the lane
//! and staff API's own handlers (the same validation, records and audit),
//! so the page cannot do what the API would refuse.
//!
//! Access is the API's (`auth::gate`): this machine only without `[auth]`;
//! with it, staff log in at `/booth/login` and the token rides in an
//! HttpOnly, SameSite=Strict cookie. The gate also refuses what another
//! site's page posts, so a loopback-only booth cannot be driven by one.

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use onepark_web::{Lang, Markup, Nav, html, yuan};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Access, COOKIE, Staff};
use crate::config::Direction;
use crate::feed::LaneEvent;
use crate::state::LotState;
use crate::store::{LedgerEntry, SessionQuery, SessionState, Store};

/// A car refused as unpaid counts as waiting this long.
const WAITING_MINUTES: i64 = 30;

pub fn router() -> Router<LotState> {
    Router::new()
        // The gateway's own address is the booth's (what people type or are given).
        .route("/", get(|| async { axum::response::Redirect::to("/booth") }))
        .route("/booth", get(page))
        .route("/booth/login", get(login_page).post(login))
        .route("/booth/collect", post(collect))
        .route("/booth/arrears", post(arrears))
        .route("/booth/plate", post(correct))
        .route("/booth/open", post(open))
        .route("/booth/match", post(match_exit))
        .route("/booth/shift", get(shift))
        .route("/booth/photos/{id}", get(photo))
        .route("/booth/held/{lane}", get(held_photo))
        .route("/assets/{name}", get(onepark_serve::pages::asset))
}

fn shell(lang: Lang, title: &str, live: u32, body: Markup) -> Markup {
    shell_at(lang, title, "/booth", live, body)
}

fn shell_at(lang: Lang, title: &str, here: &str, live: u32, body: Markup) -> Markup {
    let nav = [
        Nav { href: "/booth", zh: "岗亭", en: "Booth", active: here == "/booth" },
        Nav { href: "/booth/shift", zh: "交接班", en: "Shift report", active: here == "/booth/shift" },
    ];
    onepark_web::page(lang, title, lang.t("onepark 车场岗亭", "onepark booth"), &nav, live, body)
}

#[derive(Deserialize)]
struct Notice {
    notice: Option<String>,
    error: Option<String>,
    /// Cars inside whose plate holds this part, and which page of them.
    q: Option<String>,
    page: Option<i64>,
    /// Month cards whose plates or owner hold this part, and which page.
    cq: Option<String>,
    cpage: Option<i64>,
}

/// Cars inside a page, month cards a page.
const INSIDE_PAGE: i64 = 50;
const CARDS_PAGE: usize = 100;

/// What a search box may hold: letters, digits and Chinese, upper case (as plates are stored).
fn part(text: Option<&str>) -> String {
    text.unwrap_or_default().chars().filter(|c| c.is_alphanumeric()).take(20).collect::<String>().to_uppercase()
}

/// The booth's address with these search and page parameters.
fn booth_url(q: &str, page: i64, cq: &str, cpage: i64) -> String {
    let enc = |t: &str| form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();
    format!("/booth?q={}&page={page}&cq={}&cpage={cpage}", enc(q), enc(cq))
}

async fn page(State(state): State<LotState>, headers: HeaderMap, Query(n): Query<Notice>) -> Response {
    let lang = onepark_serve::pages::lang(&headers);
    let store = state.store();
    let (q, cq) = (part(n.q.as_deref()), part(n.cq.as_deref()));
    let (page_no, cpage) = (n.page.unwrap_or(1).clamp(1, 10_000), n.cpage.unwrap_or(1).clamp(1, 10_000));
    let open = SessionQuery {
        state: Some(SessionState::Open),
        plate_part: q.clone(),
        limit: INSIDE_PAGE + 1,
        offset: (page_no - 1) * INSIDE_PAGE,
        ..SessionQuery::default()
    };
    let unresolved =
        SessionQuery { state: Some(SessionState::Open), unresolved: true, limit: 50, ..SessionQuery::default() };
    let (open, unresolved, cards, berths) = match (
        store.sessions(&open).await,
        store.sessions(&unresolved).await,
        store.cards().await,
        state.berths().await,
    ) {
        (Ok(o), Ok(u), Ok(c), Ok(b)) => (o, u, c, b),
        _ => return (StatusCode::INTERNAL_SERVER_ERROR, "存储读取失败 / storage unreadable").into_response(),
    };
    let events = state.feed().latest();
    let now = state.now();
    let since = onepark_domain::time::format_time(now - chrono::Duration::minutes(WAITING_MINUTES));
    // Held at an exit as unpaid, and not let out since.
    let mut waiting: Vec<&LaneEvent> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let holding = |r: Option<&str>| matches!(r, Some("unpaid" | "arrears"));
        let held = e.direction == Direction::Exit && !e.open && holding(e.reason.as_deref()) && e.at >= since;
        let later = events[..i].iter().any(|l| l.uid == e.uid && (l.open || holding(l.reason.as_deref())));
        if held && !later && e.uid.is_some() {
            waiting.push(e);
        }
    }
    // Read at an exit but matched to no stay (an unread or misread plate),
    // and no car at that lane since: the attendant matches it by hand.
    let mut unmatched: Vec<&LaneEvent> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let fresh =
            e.direction == Direction::Exit && !e.open && e.reason.as_deref() == Some("no_session") && e.at >= since;
        if fresh && !events[..i].iter().any(|l| l.lane == e.lane) {
            unmatched.push(e);
        }
    }
    // The stays it could be: the unresolved ones, and those whose plate reads like it.
    let mut candidates: Vec<crate::store::Session> = unresolved.iter().map(|r| r.session.clone()).collect();
    for e in &unmatched {
        let alike = crate::lane::candidates(&e.plate_no);
        if let Ok(found) = store.open_sessions(&alike).await {
            candidates
                .extend(found.into_iter().filter(|s| !candidates.iter().any(|c| c.uid == s.uid)).collect::<Vec<_>>());
        }
    }
    candidates.truncate(20);
    // Entry photos of the stays shown with a picture: waiting, and candidates.
    let mut uids: Vec<String> = candidates.iter().map(|c| c.uid.clone()).collect();
    uids.extend(waiting.iter().filter_map(|e| e.uid.clone()));
    let entry_photos: std::collections::HashMap<String, String> = store
        .session_photos(&uids)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, _, kind)| *kind == 1)
        .map(|(uid, id, _)| (uid, id))
        .collect();
    let stay_of = |uid: &str| -> Option<(String, String)> {
        open.iter()
            .chain(unresolved.iter())
            .find(|r| r.session.uid == uid)
            .map(|r| (r.session.entry_time.clone(), r.session.entry_lane.clone()))
    };
    let thumb = |id: &str, alt: &str| {
        html! {
            a href=(format!("/booth/photos/{id}")) target="_blank" title=(lang.t("点击放大", "open full size")) {
                img src=(format!("/booth/photos/{id}")) alt=(alt) loading="lazy";
            }
        }
    };
    let held = |lane: &str, at: &str, alt: &str| {
        let src = format!("/booth/held/{}?at={}", encode(lane), encode(at));
        html! { a href=(src) target="_blank" title=(lang.t("点击放大", "open full size")) { img src=(src) alt=(alt) loading="lazy"; } }
    };
    let config = state.config();
    let (total, open_berths, free) = berths;
    let matching: Vec<&crate::store::MonthCard> = cards
        .iter()
        .filter(|c| cq.is_empty() || c.owner.to_uppercase().contains(&cq) || c.plates.iter().any(|p| p.contains(&cq)))
        .collect();
    let body = html! {
        h1 { (config.name) span.muted { " · " (config.parking_code) " · " (lang.t("空余", "free")) " " (free) " / " (open_berths) " · " (lang.t("总泊位", "berths")) " " (total) } }
        @if let Some(t) = &n.notice { div.notice id="notice" { (t) } }
        @if let Some(t) = &n.error { div.notice.bad id="notice" { (t) } }
        div.grid {
            @if !unmatched.is_empty() { div.card.span-12 id="unmatched" {
                h2 { (lang.t("出口车辆待匹配", "Cars at an exit to match")) }
                p.muted { (lang.t("出口识别的车牌没有对应的在场记录：请对照照片选择它的入场记录，或输入正确车牌。",
                    "The plate read at the exit matches no stay: pick its entry by the photos, or type the right plate.")) }
                @for e in &unmatched {
                    form.match.mb method="post" action="/booth/match" data-lane=(e.lane) {
                        input type="hidden" name="lane" value=(e.lane);
                        div.side {
                            div { strong { (lang.t("出口 ", "Exit ")) (e.lane) } " · " (e.at.get(11..).unwrap_or(&e.at)) " · "
                                (lang.t("识别为 ", "read as ")) span.plate { (e.plate_no) } }
                            @if state.feed().held_photo(&e.lane, &e.at).is_some() { div.photos.big { (held(&e.lane, &e.at, &e.plate_no)) } }
                        }
                        div.candidates {
                            @for c in &candidates {
                                label.candidate data-uid=(c.uid) {
                                    input type="radio" name="uid" value=(c.uid);
                                    @if let Some(id) = entry_photos.get(&c.uid) { div.photos { (thumb(id, &c.plate_no)) } }
                                    span { span.plate { (c.plate_no) } br; span.muted { (lang.t("入场 ", "in ")) (c.entry_time) } br;
                                        span.muted { (lang.t("已停 ", "stayed ")) (stayed(lang, &c.entry_time, now)) } }
                                }
                            }
                        }
                        div.inline.row {
                            label.field { (lang.t("或输入车牌", "or type the plate")) input name="plate" maxlength="20" placeholder="鲁B12345"; }
                            button type="submit" { (lang.t("匹配并计费", "Match and charge")) }
                        }
                    }
                }
            } }
            div.card.span-8 {
                h2 { (lang.t("车道事件", "Lane events")) }
                @if events.is_empty() { p.empty { (lang.t("启动以来还没有车辆经过。", "No car since the gateway started.")) } }
                @else { div.scroll { table id="events" {
                    thead { tr { th { (lang.t("时间", "Time")) } th { (lang.t("车道", "Lane")) } th { (lang.t("车牌", "Plate")) }
                        th { (lang.t("结果", "Decision")) } th.num { (lang.t("费用", "Fee")) } th { (lang.t("照片", "Photo")) } } }
                    tbody { @for e in events.iter().take(15) { tr.event data-reason=(e.reason.as_deref().unwrap_or("open")) {
                        td { (e.at.get(11..).unwrap_or(&e.at)) }
                        td { (e.lane) " " span.muted { (if e.direction == Direction::Entry { lang.t("入", "in") } else { lang.t("出", "out") }) } }
                        td.plate { (e.plate_no) }
                        td { @if e.open { span.badge.ok { (lang.t("放行", "open")) } } @else { span.badge.bad { (lang.t("未放行", "closed")) } } " " span.msg { (e.msg) } }
                        td.num { (e.fee.map(yuan).unwrap_or_default()) }
                        td { @if let Some(id) = &e.photo_id { div.photos { img src=(format!("/booth/photos/{id}")) alt=(e.plate_no) loading="lazy"; } } }
                    } } }
                } } }
            }
            div.card.span-4 {
                h2 { (lang.t("出口等待缴费", "Waiting at an exit")) }
                @if waiting.is_empty() { p.empty { (lang.t("没有等待的车辆", "No car waiting")) } }
                @for e in waiting.iter().filter(|e| e.reason.as_deref() == Some("arrears")) {
                    form.waiting.arrears.mb method="post" action="/booth/arrears"
                        data-confirm=(format!("{} {} {}？", lang.t("确认收取欠费", "Collect arrears"), e.due.map(yuan).unwrap_or_default(), e.plate_no)) {
                        input type="hidden" name="plate" value=(e.plate_no);
                        input type="hidden" name="amount" value=(e.due.unwrap_or(0));
                        div { span.plate { (e.plate_no) } " · " (e.lane) " · " span.badge.bad { (lang.t("全市欠费", "city arrears")) } " " strong { (e.due.map(yuan).unwrap_or_default()) } }
                        div.inline.row {
                            (method_select(lang))
                            button type="submit" { (lang.t("收取欠费", "Collect arrears")) }
                        }
                    }
                }
                @for e in waiting.iter().filter(|e| e.reason.as_deref() == Some("unpaid")) {
                    form.waiting.mb method="post" action="/booth/collect"
                        data-confirm=(format!("{} {} {}？", lang.t("确认收取", "Collect"), e.due.map(yuan).unwrap_or_default(), e.plate_no)) {
                        input type="hidden" name="lane" value=(e.lane);
                        input type="hidden" name="uid" value=(e.uid.as_deref().unwrap_or_default());
                        input type="hidden" name="plate" value=(e.plate_no);
                        div { span.plate { (e.plate_no) } " · " (e.lane) " · " (lang.t("应收", "due")) " " strong { (e.due.map(yuan).unwrap_or_default()) } }
                        @if let Some((entered, entry_lane)) = e.uid.as_deref().and_then(stay_of) {
                            div.muted { (lang.t("入场 ", "in ")) (entered) " · " (entry_lane) " · " (lang.t("已停 ", "stayed ")) (stayed(lang, &entered, now)) }
                        }
                        div.photos.pair {
                            @if let Some(id) = e.uid.as_deref().and_then(|u| entry_photos.get(u)) { figure { (thumb(id, &e.plate_no)) figcaption { (lang.t("入场", "in")) } } }
                            @if state.feed().held_photo(&e.lane, &e.at).is_some() { figure { (held(&e.lane, &e.at, &e.plate_no)) figcaption { (lang.t("出场", "out")) } } }
                        }
                        div.inline.row {
                            (method_select(lang))
                            button type="submit" { (lang.t("收费放行", "Collect and open")) }
                        }
                    }
                }
                p { a href="/booth/shift" id="shift-link" { (lang.t("交接班报表", "Shift report")) } }
                h2.mt { (lang.t("手动开闸", "Open by hand")) }
                form.inline method="post" action="/booth/open" id="manual-open" {
                    label.field { (lang.t("车道", "Lane")) select name="lane" { @for l in &config.lanes { option value=(l.id) { (l.id) } } } }
                    label.field { (lang.t("原因（必填）", "Reason (required)")) input name="reason" required maxlength="200" placeholder=(lang.t("救护车 / 设备故障", "ambulance / fault")); }
                    label.field { (lang.t("车牌", "Plate")) input name="plate" maxlength="20"; }
                    button.danger type="submit" { (lang.t("开闸", "Open")) }
                }
            }
            div.card.span-6 {
                h2 { (lang.t("待确认车牌", "Plates to resolve")) " (" (unresolved.len()) ")" }
                @if unresolved.is_empty() { p.empty { (lang.t("没有未识别或无牌的在场车辆", "No unread or plateless car inside")) } }
                @for s in &unresolved {
                    form.inline.mb method="post" action="/booth/plate" {
                        input type="hidden" name="uid" value=(s.session.uid);
                        span { (s.session.plate_no) " · " (s.session.entry_time) " · " (s.session.entry_lane) }
                        input name="plate" required placeholder="鲁B12345" maxlength="20";
                        button.secondary type="submit" { (lang.t("更正", "Correct")) }
                    }
                }
            }
            div.card.span-6 {
                h2 { (lang.t("在场车辆", "Cars inside")) }
                form.inline method="get" action="/booth" id="inside-search" {
                    input type="hidden" name="cq" value=(cq);
                    label.field { (lang.t("车牌（可输入部分）", "Plate (or a part)")) input name="q" value=(q) maxlength="20" placeholder="55298"; }
                    button.secondary type="submit" { (lang.t("查找", "Find")) }
                }
                @if open.is_empty() { p.empty { (lang.t("没有符合的在场车辆", "No matching car inside")) } }
                div.scroll { table id="inside" { tbody { @for s in open.iter().take(INSIDE_PAGE as usize) { tr {
                    td.plate { (s.session.plate_no) } td { (s.session.entry_time) }
                    td { @if let Some(card) = &s.session.card_id { span.badge { (lang.t("月卡 ", "card ")) (card) } } }
                } } } } }
                p.pager {
                    @if page_no > 1 { a.button.secondary href=(booth_url(&q, page_no - 1, &cq, cpage)) { (lang.t("上一页", "Previous")) } " " }
                    span.muted { (lang.t("第 ", "Page ")) (page_no) (lang.t(" 页", "")) }
                    @if open.len() as i64 > INSIDE_PAGE { " " a.button.secondary href=(booth_url(&q, page_no + 1, &cq, cpage)) { (lang.t("下一页", "Next")) } }
                }
            }
            div.card.span-12 {
                h2 { (lang.t("月卡", "Month cards")) " (" (matching.len()) ")" }
                form.inline method="get" action="/booth" id="cards-search" {
                    input type="hidden" name="q" value=(q);
                    label.field { (lang.t("车牌或车主（可输入部分）", "Plate or owner (or a part)")) input name="cq" value=(cq) maxlength="20"; }
                    button.secondary type="submit" { (lang.t("查找", "Find")) }
                }
                @if matching.is_empty() { p.empty { (lang.t("没有符合的月卡", "No matching month card")) } }
                @else { div.scroll { table id="cards" { tbody { @for c in matching.iter().skip((cpage as usize - 1) * CARDS_PAGE).take(CARDS_PAGE) { tr {
                    td { (c.id) } td { (c.owner) } td.plate { (c.plates.join(" ")) } td { (c.start_time) " ~ " (c.end_time) }
                } } } } } }
                p.pager {
                    @if cpage > 1 { a.button.secondary href=(booth_url(&q, page_no, &cq, cpage - 1)) { (lang.t("上一页", "Previous")) } " " }
                    span.muted { (lang.t("第 ", "Page ")) (cpage) (lang.t(" 页", "")) }
                    @if matching.len() > cpage as usize * CARDS_PAGE { " " a.button.secondary href=(booth_url(&q, page_no, &cq, cpage + 1)) { (lang.t("下一页", "Next")) } }
                }
            }
        }
    };
    let live = if headers.get("x-fragment").is_some() { body } else { shell(lang, lang.t("岗亭", "Booth"), 2, body) };
    onepark_serve::pages::html(live)
}

/// The ways the booth takes money (spec §7 paidType): (code, 中文, English).
const METHODS: [(i64, &str, &str); 5] = [
    (1, "现金", "cash"),
    (3, "微信", "WeChat"),
    (2, "支付宝", "Alipay"),
    (6, "银联卡", "bank card"),
    (10, "ETC", "ETC"),
];

fn method_name(lang: Lang, code: Option<i64>) -> String {
    match code.and_then(|c| METHODS.iter().find(|m| m.0 == c)) {
        Some((_, zh, en)) => lang.t(zh, en).to_owned(),
        None => code.map(|c| c.to_string()).unwrap_or_default(),
    }
}

fn method_select(lang: Lang) -> Markup {
    html! {
        select name="paidType" required {
            @for (code, zh, en) in METHODS { option value=(code) { (lang.t(zh, en)) } }
        }
    }
}

/// Back to the page with what the API answered.
fn back(ok: bool, text: &str) -> Response {
    let key = if ok { "notice" } else { "error" };
    let text: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
    Redirect::to(&format!("/booth?{key}={text}")).into_response()
}

/// What an API handler answered: its status and JSON body.
async fn answer(response: Response) -> (bool, serde_json::Value) {
    let ok = response.status().is_success();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default();
    (ok, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[derive(Deserialize)]
struct Collect {
    lane: String,
    uid: String,
    plate: String,
    #[serde(rename = "paidType")]
    paid_type: i64,
}

/// Collect what the exit asked and let the car out: the exit lane's own
/// call, with the payment (it is reported as a bill).
async fn collect(State(state): State<LotState>, staff: Option<Extension<Staff>>, Form(c): Form<Collect>) -> Response {
    let staff = Staff::name(staff.as_ref());
    if !METHODS.iter().any(|m| m.0 == c.paid_type) {
        return back(false, "paidType: 请选择收款方式 / choose how it was paid");
    }
    // Only the car the lane holds there now, for what it was told it owes
    // (not what the form says): a second click or an old screen finds it gone.
    let since = onepark_domain::time::format_time(state.now() - chrono::Duration::minutes(WAITING_MINUTES));
    let held = state.feed().latest().into_iter().find(|e| e.lane == c.lane).filter(|e| {
        e.uid.as_deref() == Some(c.uid.as_str()) && !e.open && e.reason.as_deref() == Some("unpaid") && e.at >= since
    });
    let Some(due) = held.and_then(|e| e.due) else {
        return back(false, &format!("{} 已不在 {} 号出口等待缴费 / no longer waits at that exit", c.plate, c.lane));
    };
    let photo = held_now(&state, &c.lane);
    let body = json!({ "uid": c.uid, "plateNo": c.plate, "paid": due, "paidType": c.paid_type, "payScene": 103, "photo": photo });
    let person = Some(Extension(Staff(staff.clone())));
    let reply =
        crate::barrier::exit(State(state.clone()), Path(c.lane.clone()), person, Bytes::from(body.to_string())).await;
    let (_, v) = answer(reply.into_response()).await;
    let msg = v["msg"].as_str().unwrap_or_default();
    if v["open"] == true {
        let note = format!("{} 岗亭收费 {}", c.plate, yuan(due));
        crate::leave::raise(&state, &c.lane, &staff, &note).await;
        back(true, &format!("{} {} · {}", c.plate, yuan(due), msg))
    } else {
        // The fee may have grown since the car was held (a new period began).
        let due = v["due"].as_i64().map(yuan).unwrap_or_default();
        back(false, &format!("{} {msg} {due}", c.plate))
    }
}

#[derive(Deserialize)]
struct Arrears {
    plate: String,
    amount: i64,
    #[serde(rename = "paidType")]
    paid_type: i64,
}

/// Arrears collected at the booth: the hold lifts; the car then leaves as any other.
async fn arrears(
    State(state): State<LotState>,
    staff: Option<Extension<Staff>>,
    headers: HeaderMap,
    Form(a): Form<Arrears>,
) -> Response {
    let lang = onepark_serve::pages::lang(&headers);
    let staff = Staff::name(staff.as_ref());
    if !METHODS.iter().any(|m| m.0 == a.paid_type) {
        return back(false, lang.t("请选择收款方式", "Choose how it was paid"));
    }
    let body = json!({ "amount": a.amount, "operator": staff, "paidType": a.paid_type });
    let reply = crate::staff::arrears_collected(
        State(state.clone()),
        Path(a.plate.clone()),
        None,
        Bytes::from(body.to_string()),
    )
    .await;
    let (ok, v) = answer(reply.into_response()).await;
    if ok {
        let done = lang.t("已收欠费，已通知平台核销", "arrears collected; the platform is told");
        // The car held at an exit for them leaves now, as its camera's exit would decide.
        let Some(lane) = crate::leave::waiting_lane(&state, &a.plate) else {
            return back(true, &format!("{} {} · {done}", a.plate, yuan(a.amount)));
        };
        let note = format!("{} 欠费已收", a.plate);
        let left = match crate::leave::let_out(&state, &lane, &a.plate, &staff, &note).await {
            Ok(d) if d["open"] == true => lang.t("已放行", "let out").to_owned(),
            Ok(d) => format!(
                "{} {}",
                lang.t("仍需缴纳停车费", "the parking fee is still due"),
                d["due"].as_i64().map(yuan).unwrap_or_default()
            ),
            Err(why) => why,
        };
        back(true, &format!("{} {} · {done} · {left}", a.plate, yuan(a.amount)))
    } else {
        let why = v["error"].as_str().unwrap_or_default();
        back(false, &format!("{} {why}", lang.t("欠费收取失败：", "Collecting the arrears failed:")))
    }
}

#[derive(Deserialize)]
struct Correct {
    uid: String,
    plate: String,
}

/// A plate corrected at the booth; what went wrong said in the page's language.
async fn correct(
    State(state): State<LotState>,
    staff: Option<Extension<Staff>>,
    headers: HeaderMap,
    Form(c): Form<Correct>,
) -> Response {
    let lang = onepark_serve::pages::lang(&headers);
    let staff = Staff::name(staff.as_ref());
    let plate = match onepark_domain::plate::Plate::parse(c.plate.trim()) {
        Ok(p) if !p.kind().is_placeholder() => p.as_str().to_owned(),
        Ok(_) => return back(false, lang.t("请填写车辆的真实车牌", "Type the car's real plate")),
        Err(e) => return back(false, &if lang == Lang::Zh { e.zh() } else { e.to_string() }),
    };
    match state.store().open_sessions(std::slice::from_ref(&plate)).await {
        Ok(inside) if inside.iter().any(|s| s.uid != c.uid) => {
            let zh = format!("车牌 {plate} 已有在场记录，不能再更正为该车牌");
            let en = format!("{plate} is already inside in another stay");
            return back(false, lang.t(&zh, &en));
        }
        _ => {}
    }
    let body = json!({ "plateNo": plate, "operator": staff });
    let reply =
        crate::staff::correct_plate(State(state.clone()), Path(c.uid), None, Bytes::from(body.to_string())).await;
    let (ok, v) = answer(reply.into_response()).await;
    if ok {
        let uid = v["uid"].as_str().unwrap_or_default();
        let corrected = v["plateNo"].as_str().unwrap_or_default();
        back(true, &format!("{uid} → {corrected}"))
    } else {
        let why = v["error"].as_str().unwrap_or_default();
        back(false, &format!("{} {why}", lang.t("更正失败：", "Correction failed:")))
    }
}

#[derive(Deserialize)]
struct Open {
    lane: String,
    reason: String,
    #[serde(default)]
    plate: String,
}

async fn open(State(state): State<LotState>, staff: Option<Extension<Staff>>, Form(o): Form<Open>) -> Response {
    let staff = Staff::name(staff.as_ref());
    let plate = Some(o.plate.trim()).filter(|p| !p.is_empty());
    let body = json!({ "reason": o.reason, "operator": staff, "plateNo": plate });
    let reply =
        crate::barrier::open_by_hand(State(state.clone()), Path(o.lane.clone()), None, Bytes::from(body.to_string()))
            .await;
    let (_, v) = answer(reply.into_response()).await;
    let msg = v["msg"].as_str().unwrap_or_default();
    if v["open"] == true {
        crate::leave::raise(&state, &o.lane, &staff, &format!("岗亭手动抬杆：{}", o.reason)).await;
        back(true, &format!("{} {msg}", o.lane))
    } else {
        back(false, &format!("{msg} {}", v["error"].as_str().unwrap_or_default()))
    }
}

/// How long a car has stayed since `entered`, as people say it.
fn stayed(lang: Lang, entered: &str, now: chrono::NaiveDateTime) -> String {
    let Ok(at) = onepark_domain::time::parse_time(entered) else { return String::new() };
    let minutes = (now - at).num_minutes().max(0);
    let (h, m) = (minutes / 60, minutes % 60);
    if lang == Lang::Zh { format!("{h}小时{m:02}分") } else { format!("{h} h {m:02} min") }
}

#[derive(Deserialize)]
struct MatchForm {
    lane: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    plate: String,
}

/// A car at an exit whose plate matched no stay, matched by the attendant
/// (a stay picked by its photos, or the plate typed): the exit is decided
/// again for that stay, as the lane would have: open (paid, card, free) or
/// its fee to collect. Only a car the lane reported waits to be matched.
async fn match_exit(
    State(state): State<LotState>,
    staff: Option<Extension<Staff>>,
    headers: HeaderMap,
    Form(m): Form<MatchForm>,
) -> Response {
    let lang = onepark_serve::pages::lang(&headers);
    let staff = Staff::name(staff.as_ref());
    let since = onepark_domain::time::format_time(state.now() - chrono::Duration::minutes(WAITING_MINUTES));
    let events = state.feed().latest();
    let read = events.iter().find(|e| e.lane == m.lane).filter(|e| {
        e.direction == Direction::Exit && !e.open && e.reason.as_deref() == Some("no_session") && e.at >= since
    });
    let Some(read) = read.map(|e| e.plate_no.clone()) else {
        return back(false, lang.t("该出口没有等待匹配的车辆", "No car waits to be matched at that exit"));
    };
    let session = if !m.uid.trim().is_empty() {
        state.store().open_session(m.uid.trim()).await
    } else {
        match onepark_domain::plate::Plate::parse(m.plate.trim()) {
            Ok(p) if !p.kind().is_placeholder() => {
                state.store().open_sessions(&[p.as_str().to_owned()]).await.map(|found| found.into_iter().next())
            }
            _ => {
                return back(
                    false,
                    lang.t("请选择入场记录，或输入车辆的真实车牌", "Pick the entry, or type the car's real plate"),
                );
            }
        }
    };
    let session = match session {
        Ok(Some(s)) => s,
        Ok(None) => return back(false, lang.t("没有该车的在场记录", "No stay inside for that car")),
        Err(_) => return back(false, lang.t("存储读取失败", "Storage unreadable")),
    };
    // A stay picked from the list is one the page offered: unread, or read alike.
    let offered = onepark_domain::plate::Plate::parse(&session.plate_no).is_ok_and(|p| p.kind().is_placeholder())
        || crate::lane::candidates(&read).contains(&session.plate_no);
    if !m.uid.trim().is_empty() && !offered {
        return back(
            false,
            lang.t(
                "只能选择未识别或车牌相近的入场记录；其他车辆请输入车牌",
                "Pick an unread or alike entry, or type the plate",
            ),
        );
    }
    let photo = held_now(&state, &m.lane);
    let body = json!({ "uid": session.uid, "plateNo": session.plate_no, "photo": photo });
    let reply =
        crate::barrier::exit(State(state.clone()), Path(m.lane.clone()), None, Bytes::from(body.to_string())).await;
    let (_, v) = answer(reply.into_response()).await;
    let note = format!("{read} → {}", session.plate_no);
    if v["open"] == true {
        crate::shift::record(
            &state,
            LedgerEntry {
                note: note.clone(),
                ..crate::shift::did(&staff, "match", &m.lane, &session.plate_no, &session.uid)
            },
        )
        .await;
        crate::leave::raise(&state, &m.lane, &staff, &format!("岗亭匹配放行：{note}")).await;
        back(true, &format!("{note} · {}", lang.t("已放行", "let out")))
    } else if v["reason"] == "unpaid" {
        crate::shift::record(
            &state,
            LedgerEntry {
                note: note.clone(),
                ..crate::shift::did(&staff, "match", &m.lane, &session.plate_no, &session.uid)
            },
        )
        .await;
        let due = v["due"].as_i64().map(yuan).unwrap_or_default();
        back(true, &format!("{note} · {} {due}", lang.t("请收费，应收", "collect the fee: due")))
    } else {
        back(false, &format!("{note} · {}", v["msg"].as_str().unwrap_or_default()))
    }
}

/// One person's shift: (method → (count, fen)), barriers opened, exits matched.
type Person = (std::collections::BTreeMap<i64, (i64, i64)>, i64, i64);

#[derive(Deserialize, Default)]
struct ShiftParams {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The shift report (交接班): what each staff member took by method, and
/// what they opened or matched by hand, between two times (default: today);
/// printable.
async fn shift(State(state): State<LotState>, headers: HeaderMap, Query(p): Query<ShiftParams>) -> Response {
    let lang = onepark_serve::pages::lang(&headers);
    let now = state.now();
    let time = |text: &str, default: chrono::NaiveDateTime| {
        let text = text.trim().replace('T', " ");
        onepark_domain::time::parse_time(&text)
            .or_else(|_| onepark_domain::time::parse_time(&format!("{text}:00")))
            .unwrap_or(default)
    };
    // Default: today, to its end (what happens while the page is open counts too).
    let midnight = now.date().and_hms_opt(0, 0, 0).unwrap_or(now);
    let from = time(&p.from, midnight);
    let to = time(&p.to, midnight + chrono::Duration::days(1));
    let (from_text, to_text) = (onepark_domain::time::format_time(from), onepark_domain::time::format_time(to));
    let Ok(entries) = state.store().ledger(&from_text, &to_text).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "存储读取失败 / storage unreadable").into_response();
    };
    // staff → (method → (count, fen)), opened, matched
    let mut people: std::collections::BTreeMap<&str, Person> = std::collections::BTreeMap::new();
    for e in &entries {
        let person = people.entry(e.staff.as_str()).or_default();
        match (e.kind.as_str(), e.paid_type) {
            ("fee" | "arrears", Some(method)) => {
                let m = person.0.entry(method).or_default();
                m.0 += 1;
                m.1 += e.fen;
            }
            ("open", _) => person.1 += 1,
            ("match", _) => person.2 += 1,
            _ => {}
        }
    }
    let input_time = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M").to_string();
    let body = html! {
        h1 { (lang.t("交接班报表", "Shift report")) span.muted { " · " (state.config().name) } }
        div.card.noprint {
            form.inline method="get" action="/booth/shift" id="shift-filter" {
                label.field { (lang.t("从", "From")) input type="datetime-local" name="from" value=(input_time(from)); }
                label.field { (lang.t("到", "To")) input type="datetime-local" name="to" value=(input_time(to)); }
                button type="submit" { (lang.t("查询", "Show")) }
                button.secondary type="button" data-print="1" { (lang.t("打印", "Print")) }
            }
        }
        p { (from_text) " — " (to_text) }
        @if people.is_empty() { div.card { p.empty id="no-shift" { (lang.t("这段时间没有岗亭收费或操作", "Nothing was taken or done at the booth in this time")) } } }
        @for (person, (methods, opened, matched)) in &people {
            div.card.mt.person data-staff=(person) {
                h2 { (person) }
                table { tbody {
                    @for (method, (n, fen)) in methods { tr data-method=(method) {
                        td { (method_name(lang, Some(*method))) } td.num { (n) (lang.t(" 笔", "")) } td.num { (yuan(*fen)) }
                    } }
                    tr.total { th { (lang.t("合计", "Total")) } th.num { (methods.values().map(|m| m.0).sum::<i64>()) (lang.t(" 笔", "")) }
                        th.num { (yuan(methods.values().map(|m| m.1).sum())) } }
                } }
                p.muted { (lang.t("手动开闸 ", "Opened by hand: ")) (opened) (lang.t(" 次 · 出口匹配 ", " · exits matched: ")) (matched) (lang.t(" 次", "")) }
            }
        }
        @if !entries.is_empty() { div.card.mt {
            h2 { (lang.t("明细", "Every entry")) }
            div.scroll { table id="ledger" {
                thead { tr { th { (lang.t("时间", "Time")) } th { (lang.t("人员", "Staff")) } th { (lang.t("事项", "What")) } th { (lang.t("车牌", "Plate")) }
                    th { (lang.t("车道", "Lane")) } th { (lang.t("方式", "Method")) } th.num { (lang.t("金额", "Amount")) } th { (lang.t("备注", "Note")) } } }
                tbody { @for e in &entries { tr {
                    td { (e.at) } td { (e.staff) }
                    td { (match e.kind.as_str() { "fee" => lang.t("停车费", "parking fee"), "arrears" => lang.t("欠费", "arrears"),
                        "open" => lang.t("手动开闸", "opened by hand"), "match" => lang.t("出口匹配", "exit matched"),
                        "correct" => lang.t("车牌更正", "plate corrected"), other => other }) }
                    td.plate { (e.plate_no) } td { (e.lane) } td { (method_name(lang, e.paid_type)) }
                    td.num { @if e.fen != 0 { (yuan(e.fen)) } } td { (e.note) }
                } } }
            } }
        } }
    };
    onepark_serve::pages::html(shell_at(lang, lang.t("交接班", "Shift report"), "/booth/shift", 0, body))
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The photo of the car held at `lane` now (the lane's latest event), for
/// the exit record the booth's decision makes.
fn held_now(state: &LotState, lane: &str) -> Option<String> {
    let latest = state.feed().latest().into_iter().find(|e| e.lane == lane)?;
    state.feed().held_photo(lane, &latest.at)
}

#[derive(Deserialize)]
struct HeldAt {
    #[serde(default)]
    at: String,
}

/// The held car's photo at a lane, while it is held.
async fn held_photo(State(state): State<LotState>, Path(lane): Path<String>, Query(q): Query<HeldAt>) -> Response {
    use base64::Engine;
    let Some(b64) = state.feed().held_photo(&lane, &q.at) else { return StatusCode::NOT_FOUND.into_response() };
    match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
        Ok(jpeg) => ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, max-age=300")], jpeg)
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn photo(State(store): State<Store>, Path(id): Path<String>) -> Response {
    use base64::Engine;
    match store.photo_file(&id).await {
        Ok(Some(b64)) => match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(jpeg) => {
                ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, max-age=86400")], jpeg)
                    .into_response()
            }
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn login_page(State(state): State<LotState>, headers: HeaderMap) -> Response {
    login_form(&state, onepark_serve::pages::lang(&headers), None)
}

fn login_form(state: &LotState, lang: Lang, error: Option<&str>) -> Response {
    if state.config().auth.is_none() {
        return Redirect::to("/booth").into_response();
    }
    let body = html! {
        div.card.login {
            h1 { (lang.t("岗亭登录", "Booth sign-in")) }
            @if let Some(e) = error { div.notice.bad { (e) } }
            form method="post" action="/booth/login" {
                p { label.field { (lang.t("用户名", "User")) input name="user" required autofocus; } }
                p { label.field { (lang.t("密码", "Password")) input type="password" name="password" required; } }
                button type="submit" { (lang.t("登录", "Sign in")) }
            }
        }
    };
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    (status, onepark_serve::pages::html(shell(lang, lang.t("登录", "Sign in"), 0, body))).into_response()
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

/// The staff login of the API (`POST /api/login`: its checks and its hold
/// on repeated failures), its token kept in the cookie.
async fn login(State(state): State<LotState>, headers: HeaderMap, Form(l): Form<Login>) -> Response {
    let body = json!({ "user": l.user, "password": l.password });
    let (ok, v) =
        answer(crate::auth::login(State(Access::from_ref(&state)), Bytes::from(body.to_string())).await).await;
    match v["token"].as_str().filter(|_| ok) {
        Some(token) => {
            let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200");
            ([(header::SET_COOKIE, cookie)], Redirect::to("/booth")).into_response()
        }
        None => login_form(&state, onepark_serve::pages::lang(&headers), Some(v["msg"].as_str().unwrap_or("登录失败"))),
    }
}
