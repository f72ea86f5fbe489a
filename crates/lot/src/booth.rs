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

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use onepark_web::{Lang, Markup, Nav, html, yuan};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Access, COOKIE};
use crate::config::Direction;
use crate::feed::LaneEvent;
use crate::state::LotState;
use crate::store::{SessionQuery, SessionState, Store};

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
        .route("/booth/photos/{id}", get(photo))
        .route("/assets/{name}", get(onepark_serve::pages::asset))
}

fn shell(lang: Lang, title: &str, live: u32, body: Markup) -> Markup {
    let nav = [Nav { href: "/booth", zh: "岗亭", en: "Booth", active: true }];
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
                        input type="hidden" name="paid" value=(e.fee.unwrap_or(0));
                        div { span.plate { (e.plate_no) } " · " (e.lane) " · " (lang.t("应收", "due")) " " strong { (e.due.map(yuan).unwrap_or_default()) } }
                        div.inline.row {
                            select name="paidType" { option value="1" { (lang.t("现金", "cash")) } option value="3" { (lang.t("微信", "WeChat")) }
                                option value="2" { (lang.t("支付宝", "Alipay")) } option value="6" { (lang.t("银联", "UnionPay")) } }
                            button type="submit" { (lang.t("收费放行", "Collect and open")) }
                        }
                    }
                }
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
    paid: i64,
    #[serde(rename = "paidType")]
    paid_type: i64,
}

/// Collect what the exit asked and let the car out: the exit lane's own
/// call, with the payment (it is reported as a bill).
async fn collect(State(state): State<LotState>, Form(c): Form<Collect>) -> Response {
    let body = json!({ "uid": c.uid, "plateNo": c.plate, "paid": c.paid, "paidType": c.paid_type, "payScene": 103 });
    let reply = crate::barrier::exit(State(state.clone()), Path(c.lane.clone()), Bytes::from(body.to_string())).await;
    let (_, v) = answer(reply.into_response()).await;
    let msg = v["msg"].as_str().unwrap_or_default();
    if v["open"] == true {
        let note = format!("{} 岗亭收费 {}", c.plate, yuan(c.paid));
        crate::leave::raise(&state, &c.lane, "岗亭", &note).await;
        back(true, &format!("{} {} · {}", c.plate, yuan(c.paid), msg))
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
}

/// Arrears collected at the booth: the hold lifts; the car then leaves as any other.
async fn arrears(State(state): State<LotState>, headers: HeaderMap, Form(a): Form<Arrears>) -> Response {
    let lang = onepark_serve::pages::lang(&headers);
    let body = json!({ "amount": a.amount, "operator": "booth" });
    let reply =
        crate::staff::arrears_collected(State(state.clone()), Path(a.plate.clone()), Bytes::from(body.to_string()))
            .await;
    let (ok, v) = answer(reply.into_response()).await;
    if ok {
        let done = lang.t("已收欠费，已通知平台核销", "arrears collected; the platform is told");
        // The car held at an exit for them leaves now, as its camera's exit would decide.
        let Some(lane) = crate::leave::waiting_lane(&state, &a.plate) else {
            return back(true, &format!("{} {} · {done}", a.plate, yuan(a.amount)));
        };
        let note = format!("{} 欠费已收", a.plate);
        let left = match crate::leave::let_out(&state, &lane, &a.plate, "岗亭", &note).await {
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
async fn correct(State(state): State<LotState>, headers: HeaderMap, Form(c): Form<Correct>) -> Response {
    let lang = onepark_serve::pages::lang(&headers);
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
    let body = json!({ "plateNo": plate, "operator": "booth" });
    let reply = crate::staff::correct_plate(State(state), Path(c.uid), Bytes::from(body.to_string())).await;
    let (ok, v) = answer(reply.into_response()).await;
    if ok {
        back(
            true,
            &format!("{} → {}", v["uid"].as_str().unwrap_or_default(), v["plateNo"].as_str().unwrap_or_default()),
        )
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

async fn open(State(state): State<LotState>, Form(o): Form<Open>) -> Response {
    let plate = Some(o.plate.trim()).filter(|p| !p.is_empty());
    let body = json!({ "reason": o.reason, "operator": "booth", "plateNo": plate });
    let reply =
        crate::barrier::open_by_hand(State(state.clone()), Path(o.lane.clone()), Bytes::from(body.to_string())).await;
    let (_, v) = answer(reply.into_response()).await;
    let msg = v["msg"].as_str().unwrap_or_default();
    if v["open"] == true {
        crate::leave::raise(&state, &o.lane, "岗亭", &format!("岗亭手动抬杆：{}", o.reason)).await;
        back(true, &format!("{} {msg}", o.lane))
    } else {
        back(false, &format!("{msg} {}", v["error"].as_str().unwrap_or_default()))
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
