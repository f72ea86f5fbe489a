//! The driver pages (`/pay…`, mobile, Chinese first): enter a plate, see
//! which lot it is in and what it owes (the lot computes the fee: `fee` →
//! uploadFee), pay it, get a receipt once the lot has it (payResult →
//! confirmPayResult); pay arrears across the city. Anyone who types a plate
//! sees only what paying needs (the lot's name, the fee, the amount owed);
//! the entry time, where arrears come from, the history, receipts and the
//! no-stop sign-up need proof of the plate (`crate::http::proof`). Every form
//! carries a CSRF token; fee queries are throttled per client.
//! Server-rendered; the script only refreshes the receipt while the lot confirms.

use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use onepark_domain::plate::Plate;
use onepark_serve::pages::Client;
use onepark_web::{Lang, Nav, yuan};
use serde::Deserialize;

use crate::city::payments::{self, Paying};
use crate::http::proof;
use crate::state::AppState;
use crate::store::{Debt, DownlinkState, PayState, Payment, Purpose, Signup};
use onepark_domain::time::parse_time;

/// The spec gives the lot 5 s to answer `fee`.
pub(crate) const FEE_WAIT: Duration = Duration::from_secs(5);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pay", get(start))
        .route("/pay/fee", post(ask_fee))
        .route("/pay/quote/{id}", get(quote))
        .route("/pay/quote/{id}/pay", post(pay_quote))
        .route("/pay/arrears", post(pay_arrears))
        .route("/pay/signup", post(sign_up))
        .route("/pay/receipt/{order}", get(receipt))
        .route("/pay/verify", post(verify))
}

pub(crate) struct Driver {
    pub(crate) lang: Lang,
    fragment: bool,
    /// The forms' CSRF token, and its cookie when the browser has none yet.
    csrf: String,
    set_csrf: Option<String>,
    /// Plates this browser has proven (history, receipts, sign-up).
    proven: Vec<String>,
    /// The channel is the sandbox (play money): every page says so, and a
    /// plate may be proven on request.
    play_money: bool,
}

pub(crate) fn driver(state: &AppState, headers: &HeaderMap) -> Driver {
    let (csrf, set_csrf) = proof::csrf(headers);
    Driver {
        lang: onepark_serve::pages::lang(headers),
        fragment: headers.contains_key("x-fragment"),
        csrf,
        set_csrf,
        proven: state.proofs().plates(headers, state.clock().now().timestamp()),
        play_money: state.payments().play_money(),
    }
}

impl Driver {
    pub(crate) fn proves(&self, plate_no: &str) -> bool {
        self.proven.iter().any(|p| p == plate_no)
    }

    /// The hidden CSRF field every driver form carries.
    pub(crate) fn token(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }
}

pub(crate) fn page(d: &Driver, title: &str, live: u32, body: Markup) -> Response {
    let lang = d.lang;
    let body = html! {
        div.driver {
            @if d.play_money {
                div.notice.bad id="sandbox" { (lang.t("测试环境：沙箱支付渠道，虚拟资金，不产生真实扣款。", "Test system: sandbox payment channel, play money, nothing real is charged.")) }
            }
            (body)
        }
    };
    let mut response = if d.fragment {
        onepark_serve::pages::html(body)
    } else {
        let nav = [Nav { href: "/pay", zh: "缴费", en: "Pay", active: true }];
        onepark_serve::pages::html(onepark_web::page(
            lang,
            title,
            lang.t("青岛停车 · 车主服务", "Qingdao parking · drivers"),
            &nav,
            live,
            body,
        ))
    };
    if let Some(cookie) = d.set_csrf.as_deref().and_then(|c| c.parse().ok()) {
        response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

/// A redirect that also hands the browser proof of `plate_no`.
fn proven_redirect(state: &AppState, headers: &HeaderMap, to: &str, plate_no: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Ok(cookie) = state.proofs().grant(headers, plate_no, state.clock().now().timestamp()).parse() {
        response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

/// To a charge's receipt; a browser whose payment went through has proven
/// the plate (one that started a charge and never approved it has not).
pub(crate) fn paid_redirect(state: &AppState, headers: &HeaderMap, p: &Payment) -> Response {
    let to = receipt_url(state, &p.order_id);
    if p.state == PayState::Paid {
        proven_redirect(state, headers, &to, &p.plate_no)
    } else {
        Redirect::to(&to).into_response()
    }
}

/// A receipt's address, with the key that opens it without proof of the plate.
pub(crate) fn receipt_url(state: &AppState, order_id: &str) -> String {
    format!("/pay/receipt/{order_id}?k={}", state.proofs().link(&format!("receipt\n{order_id}")))
}

pub(crate) fn quote_url(state: &AppState, request_id: i64) -> String {
    format!("/pay/quote/{request_id}?k={}", state.proofs().link(&format!("quote\n{request_id}")))
}

/// A form posted from another site, or without its page's token.
pub(crate) fn forged(d: &Driver) -> Response {
    problem(
        d,
        StatusCode::FORBIDDEN,
        "页面已过期或来自其他网站，请返回缴费页面刷新后重试",
        "This form expired or came from another site; go back, reload and try again",
    )
}

#[derive(Deserialize)]
pub(crate) struct Key {
    pub(crate) k: Option<String>,
}

/// A page that says what went wrong and how to go on (HTTP status kept).
pub(crate) fn problem(d: &Driver, status: StatusCode, zh: &str, en: &str) -> Response {
    let lang = d.lang;
    let body = html! {
        div.card { div.notice.bad { (lang.t(zh, en)) } p { a.button href="/pay" { (lang.t("返回", "Back")) } } }
    };
    (status, page(d, lang.t("出错了", "Something went wrong"), 0, body)).into_response()
}

/// A query a client asks too often: wait `wait` seconds (said, and in Retry-After).
pub(crate) fn too_many(d: &Driver, wait: u64) -> Response {
    let mut response = problem(
        d,
        StatusCode::TOO_MANY_REQUESTS,
        &format!("查询过于频繁，请 {wait} 秒后再试"),
        &format!("Too many queries; try again in {wait} s"),
    );
    if let Ok(value) = wait.to_string().parse() {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

pub(crate) fn failed(d: &Driver, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "driver page failed");
    problem(d, StatusCode::INTERNAL_SERVER_ERROR, "系统繁忙，请稍后再试", "The system is busy, please try again")
}

/// The plate's page (a Location header must be ASCII: the plate is percent-encoded).
pub(crate) fn plate_url(plate_no: &str) -> String {
    format!("/pay?plate={}", form_urlencoded::byte_serialize(plate_no.as_bytes()).collect::<String>())
}

/// The plate as typed on a phone (`鲁b 12345`), normalised; `None` when it is no plate.
fn plate(text: &str) -> Option<String> {
    Plate::parse(text).ok().map(|p| p.to_string())
}

#[derive(Deserialize)]
struct PlateQuery {
    plate: Option<String>,
    /// The province picked beside the plate (a phone's keyboard has no 鲁):
    /// put in front of a plate typed without one.
    province: Option<String>,
}

/// The plate as the form sent it: the province picked, then what was typed
/// (unless it starts with a province itself).
fn typed_plate(q: &PlateQuery) -> String {
    let typed = q.plate.as_deref().unwrap_or_default().trim();
    let starts_with_province = typed.chars().next().is_some_and(|c| onepark_domain::plate::PROVINCES.contains(c));
    match q.province.as_deref().filter(|p| p.chars().count() == 1 && onepark_domain::plate::PROVINCES.contains(*p)) {
        Some(p) if !typed.is_empty() && !starts_with_province => format!("{p}{typed}"),
        _ => typed.to_owned(),
    }
}

/// `/pay`: the plate form, or (with `?plate=`) the plate's page.
async fn start(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PlateQuery>) -> Response {
    let d = driver(&state, &headers);
    let lang = d.lang;
    let typed = typed_plate(&q);
    if typed.trim().is_empty() {
        let body = html! {
            div.card {
                h1 { (lang.t("停车缴费", "Parking payment")) }
                (plate_form(lang, ""))
            }
        };
        return page(&d, lang.t("停车缴费", "Parking payment"), 0, body);
    }
    let Some(plate_no) = plate(&typed) else {
        let body = html! {
            div.card {
                div.notice.bad { (lang.t("车牌号格式不正确，例如：鲁B12345", "Not a plate number, e.g. 鲁B12345")) }
                (plate_form(lang, &typed))
            }
        };
        return (StatusCode::BAD_REQUEST, page(&d, lang.t("停车缴费", "Parking payment"), 0, body)).into_response();
    };
    match plate_page(&state, &d, &plate_no).await {
        Ok(r) => r,
        Err(e) => failed(&d, e),
    }
}

fn plate_form(lang: Lang, value: &str) -> Markup {
    // The province typed already stays in the text; otherwise the picker's (鲁 first: Qingdao).
    let (province, rest) = match value.chars().next() {
        Some(c) if onepark_domain::plate::PROVINCES.contains(c) => (c, &value[c.len_utf8()..]),
        _ => ('鲁', value),
    };
    html! {
        form method="get" action="/pay" {
            p { label.field { (lang.t("车牌号", "Plate number"))
                span.plate-row {
                    select.province name="province" aria-label=(lang.t("省份简称", "Province")) {
                        @for p in onepark_domain::plate::PROVINCES.chars() { option value=(p) selected[p == province] { (p) } }
                    }
                    input.plate-input name="plate" value=(rest) placeholder="B12345" required autofocus
                        autocapitalize="characters" autocomplete="off";
                } } }
            button.wide type="submit" { (lang.t("查询", "Look up")) }
        }
    }
}

async fn plate_page(state: &AppState, d: &Driver, plate_no: &str) -> Result<Response, crate::store::StoreError> {
    let lang = d.lang;
    let store = state.store();
    let proven = d.proves(plate_no);
    let parked = store.parked(plate_no).await?;
    let arrears = store.open_arrears(plate_no).await?;
    let owed: i64 = arrears.iter().map(|a| a.should_pay).sum();
    let signup = if proven { store.signup(plate_no).await? } else { None };
    let history = if proven { store.payments_of(plate_no, 20).await? } else { Vec::new() };
    let online = state.payments().enabled();
    let lot_name = match &parked {
        Some((code, ..)) => store.lot_name(code).await?,
        None => None,
    };
    let cards = store.fixed_cars_of(plate_no).await?.iter().filter(|c| crate::city::renewals::renewable(c)).count();
    // Lots by name, not code, wherever the driver sees one.
    let mut lot_names = std::collections::HashMap::new();
    for code in arrears.iter().map(|a| &a.parking_code).chain(history.iter().map(|p| &p.parking_code)) {
        if !lot_names.contains_key(code)
            && let Some(name) = store.lot_name(code).await?
        {
            lot_names.insert(code.clone(), name);
        }
    }
    let body = html! {
        div.card {
            div.plate.big { (plate_no) }
            @match &parked {
                Some((code, _, _, arrived)) => {
                    p { (lang.t("在场：", "Parked at: ")) strong { (lot_name.as_deref().unwrap_or(code)) } }
                    @if proven { p.muted { (lang.t("入场时间 ", "Entered ")) (arrived) } }
                    @if online {
                        form method="post" action="/pay/fee" {
                            (d.token())
                            input type="hidden" name="plate" value=(plate_no);
                            button.wide type="submit" id="ask-fee" { (lang.t("查询停车费", "Get the parking fee")) }
                        }
                    } @else {
                        p.muted id="offline" { (lang.t("本平台未开通线上支付，请在出口岗亭缴费。", "Online payment is not available here; please pay at the exit booth.")) }
                    }
                }
                None => p.muted { (lang.t("该车辆当前不在任何接入车场内。", "This car is not parked in any connected lot.")) }
            }
        }
        @if owed > 0 {
            div.card id="arrears" {
                h2 { (lang.t("欠费补缴", "Unpaid bills")) }
                p {
                    @match lang {
                        Lang::Zh => { "共 " strong.amount { (yuan(owed)) } "（" (arrears.len()) " 笔）" }
                        Lang::En => { strong.amount { (yuan(owed)) } " in " (arrears.len()) " bills" }
                    }
                }
                @if proven {
                    table {
                        tr { th { (lang.t("车场", "Lot")) } th { (lang.t("离场", "Left")) } th.num { (lang.t("金额", "Amount")) } }
                        @for a in &arrears {
                            tr { td { (lot_names.get(&a.parking_code).map_or(a.parking_code.as_str(), String::as_str)) } td { (a.end_time) } td.num { (yuan(a.should_pay)) } }
                        }
                    }
                }
                @if online {
                    form method="post" action="/pay/arrears" {
                        (d.token())
                        input type="hidden" name="plate" value=(plate_no);
                        button.wide type="submit" id="pay-arrears" { (lang.t("补缴全部欠费", "Pay all")) " " (yuan(owed)) }
                    }
                }
            }
        }
        @if cards > 0 && online {
            div.card id="cards" {
                h2 { (lang.t("月卡", "Month cards")) }
                p { a.button.wide href=(format!("/pay/card?plate={}", form_urlencoded::byte_serialize(plate_no.as_bytes()).collect::<String>())) id="renew" {
                    (lang.t("月卡续费", "Renew a month card")) } }
            }
        }
        @if proven && online {
            div.card id="signup" {
                h2 { (lang.t("无感支付", "Pay without stopping")) }
                (signup_form(d, plate_no, signup.as_ref(), state.payments().money_limit()))
            }
        } @else if online {
            div.card id="verify" {
                h2 { (lang.t("验证车牌", "Prove this plate")) }
                p.muted { (lang.t("输入该车牌任一支付凭证上的查询码，即可查看缴费记录、开通无感支付。", "Enter the code on any of its receipts to see its history and sign up for paying without stopping.")) }
                form method="post" action="/pay/verify" {
                    (d.token())
                    input type="hidden" name="plate" value=(plate_no);
                    p { label.field { (lang.t("查询码", "Receipt code"))
                        input name="code" inputmode="numeric" autocomplete="off" maxlength="8" placeholder="12345678"; } }
                    button.wide.secondary type="submit" id="verify-code" { (lang.t("验证", "Prove")) }
                    @if d.play_money {
                        button.wide.secondary type="submit" name="sandbox" value="1" id="verify-sandbox" { (lang.t("沙箱：直接验证", "Sandbox: prove at once")) }
                    }
                }
            }
        }
        @if !history.is_empty() {
            div.card id="history" {
                h2 { (lang.t("缴费记录", "History")) }
                table {
                    tr { th { (lang.t("时间", "Time")) } th { (lang.t("类型", "Kind")) } th.num { (lang.t("金额", "Amount")) } th { (lang.t("状态", "State")) } }
                    @for p in &history {
                        tr {
                            td { a href=(receipt_url(state, &p.order_id)) { (p.created_at) } }
                            td { (purpose_name(lang, p.purpose)) }
                            td.num { (yuan(p.actual_pay.unwrap_or(p.should_pay))) }
                            td { (state_badge(lang, p.state)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(d, plate_no, 0, body))
}

fn signup_form(d: &Driver, plate_no: &str, signup: Option<&Signup>, default_limit: i64) -> Markup {
    let lang = d.lang;
    let no_stop = signup.is_some_and(|s| s.no_stop);
    let after_leave = signup.is_some_and(|s| s.after_leave);
    let limit = signup.map_or(default_limit, |s| s.money_limit);
    let active = signup.filter(|s| s.no_stop || s.after_leave);
    html! {
        @if let Some(s) = active {
            p.muted { (lang.t("已签约，签约号 ", "Signed up, contract ")) (s.contract_id) }
        } @else {
            p.muted { (lang.t("开通后，出场时自动从账户扣费，无需停车缴费。", "Once signed up, exits are paid from your account without stopping.")) }
        }
        form method="post" action="/pay/signup" id="signup-form"
            data-confirm=(lang.t("确认按所选方式开通（或更新）无感支付？", "Sign up (or update) paying without stopping as chosen?")) {
            (d.token())
            input type="hidden" name="plate" value=(plate_no);
            p { label.check { input type="checkbox" name="no_stop" value="1" checked[no_stop || signup.is_none()];
                (lang.t(" 出场无感扣费", " Deduct at the exit")) } }
            p { label.check { input type="checkbox" name="after_leave" value="1" checked[after_leave];
                (lang.t(" 先离场后付费", " Leave first, pay after")) } }
            p { label.field { (lang.t("单笔限额（元）", "Limit per payment (yuan)"))
                input type="number" name="limit" min="1" max="10000" step="1" value=(limit / 100) required; } }
            button.wide.secondary type="submit" id="sign-up" {
                @if active.is_some() { (lang.t("更新签约", "Update")) } @else { (lang.t("开通无感支付", "Sign up")) }
            }
        }
        @if active.is_some() {
            form method="post" action="/pay/signup" id="cancel-signup"
                data-confirm=(lang.t("确认取消无感支付？之后出场需停车缴费。", "Stop paying without stopping? Exits will need paying at the lane.")) {
                (d.token())
                input type="hidden" name="plate" value=(plate_no);
                input type="hidden" name="limit" value=(limit / 100);
                input type="hidden" name="cancel" value="1";
                button.wide.danger type="submit" id="cancel" { (lang.t("取消无感支付", "Stop paying without stopping")) }
            }
        }
    }
}

fn purpose_name(lang: Lang, p: Purpose) -> &'static str {
    match p {
        Purpose::Exit => lang.t("出口扣费", "At the exit"),
        Purpose::Prepay => lang.t("场内缴费", "Paid in the lot"),
        Purpose::AfterLeave => lang.t("先离场后付费", "Paid after leaving"),
        Purpose::Arrears => lang.t("欠费补缴", "Arrears"),
        Purpose::Renewal => lang.t("月卡续费", "Month-card renewal"),
    }
}

fn state_badge(lang: Lang, s: PayState) -> Markup {
    match s {
        PayState::Paid => html! { span.badge.ok { (lang.t("已支付", "paid")) } },
        PayState::Pending => html! { span.badge.warn { (lang.t("处理中", "pending")) } },
        PayState::Declined => html! { span.badge.bad { (lang.t("未成功", "declined")) } },
        PayState::Refunded => html! { span.badge.off { (lang.t("已退款", "refunded")) } },
    }
}

#[derive(Deserialize)]
struct PlateForm {
    plate: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

pub(crate) fn plate_or_400(d: &Driver, typed: &str) -> Result<String, Box<Response>> {
    plate(typed).ok_or_else(|| {
        Box::new(problem(
            d,
            StatusCode::BAD_REQUEST,
            "车牌号格式不正确，例如：鲁B12345",
            "Not a plate number, e.g. 鲁B12345",
        ))
    })
}

/// A driver form's post: genuine (its page's token, this site) and naming a plate.
pub(crate) fn posted(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
    plate: &str,
) -> Result<(Driver, String), Box<Response>> {
    let d = driver(state, headers);
    if !proof::genuine(headers, csrf) {
        return Err(Box::new(forged(&d)));
    }
    let plate_no = plate_or_400(&d, plate)?;
    Ok((d, plate_no))
}

/// Asks the car's lot for the fee and waits up to 5 s for it.
async fn ask_fee(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(f): Form<PlateForm>,
) -> Response {
    let (d, plate_no) = match posted(&state, &headers, &f.csrf, &f.plate) {
        Ok(posted) => posted,
        Err(r) => return *r,
    };
    if !state.payments().enabled() {
        return offline(&d);
    }
    // Each query is a downlink, a lot's upload and a row: bounded per client.
    if let Err(wait) = state.fee_rate().take(&client.key(), std::time::Instant::now()) {
        return too_many(&d, wait);
    }
    match payments::ask_fee(&state, &plate_no, FEE_WAIT).await {
        Ok(Some((request_id, _))) => Redirect::to(&quote_url(&state, request_id)).into_response(),
        Ok(None) => problem(
            &d,
            StatusCode::NOT_FOUND,
            "该车辆当前不在任何接入车场内",
            "This car is not parked in a connected lot",
        ),
        Err(e) => failed(&d, e),
    }
}

/// A fee quote: the lot's bill and a pay button, or why there is none.
async fn quote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(key): Query<Key>,
) -> Response {
    let d = driver(&state, &headers);
    let lang = d.lang;
    let q = match state.store().fee_quote(id).await {
        Ok(Some(q)) if d.proves(&q.plate_no) || state.proofs().opens(&format!("quote\n{id}"), key.k.as_deref()) => q,
        Ok(_) => return problem(&d, StatusCode::NOT_FOUND, "没有这次查询", "No such fee query"),
        Err(e) => return failed(&d, e),
    };
    let (lot_name, tariff) =
        match (state.store().lot_name(&q.parking_code).await, state.store().lot_tariff(&q.parking_code).await) {
            (Ok(name), Ok(tariff)) => (name.unwrap_or_else(|| q.parking_code.clone()), tariff),
            (Err(e), _) | (_, Err(e)) => return failed(&d, e),
        };
    // How long the car has stayed up to the time charged, and when it must
    // have left once paid (the lots' grace after a payment: 15 minutes).
    let stayed = match (q.arrive_time.as_deref().map(parse_time), q.end_time.as_deref().map(parse_time)) {
        (Some(Ok(a)), Some(Ok(b))) => {
            let m = (b - a).num_minutes().max(0);
            Some(match lang {
                Lang::Zh => format!("{}小时{:02}分", m / 60, m % 60),
                Lang::En => format!("{} h {:02} min", m / 60, m % 60),
            })
        }
        _ => None,
    };
    let leave_by = onepark_domain::time::format_time(state.now() + chrono::Duration::minutes(15));
    let back = plate_url(&q.plate_no);
    let body = match (q.success, q.should_pay) {
        (None, _) => html! {
            div.card {
                div.plate.big { (q.plate_no) }
                div.notice id="waiting" { (lang.t("正在向车场查询费用，请稍候…", "Asking the lot for the fee…")) }
                p { a.button href=(quote_url(&state, id)) { (lang.t("刷新", "Refresh")) } }
            }
        },
        (Some(false), _) => html! {
            div.card {
                div.plate.big { (q.plate_no) }
                div.notice.bad { (lang.t("车场未找到该车辆的在场记录，请到岗亭咨询。", "The lot did not find this car; please ask at the booth.")) }
                p { a.button href=(back) { (lang.t("返回", "Back")) } }
            }
        },
        (Some(true), Some(0)) => html! {
            div.card {
                div.plate.big { (q.plate_no) }
                p.amount id="fee" { (yuan(0)) }
                div.notice { (lang.t("当前无需缴费，可直接出场。", "Nothing to pay now; you may leave.")) }
            }
        },
        (Some(true), Some(fen)) => html! {
            div.card {
                div.plate.big { (q.plate_no) }
                p.muted { (lang.t("车场 ", "Lot ")) (lot_name)
                    @if d.proves(&q.plate_no) { " · " (lang.t("入场 ", "entered ")) (q.arrive_time.clone().unwrap_or_default()) } }
                p.muted { (lang.t("计费至 ", "Charged up to ")) (q.end_time.clone().unwrap_or_default())
                    @if let Some(stayed) = &stayed { " · " (lang.t("停车时长 ", "stayed ")) span id="stayed" { (stayed) } } }
                p.amount id="fee" { (yuan(fen)) }
                p id="leave-by" { (lang.t("支付后请于 ", "After paying, leave by ")) strong { (leave_by.get(11..16).unwrap_or(&leave_by)) }
                    (lang.t(" 前出场（15 分钟内），超时需补缴差额。", " (within 15 minutes); later, only the difference is due.")) }
                @if let Some(t) = &tariff { p.muted id="tariff" { (lang.t("收费标准：", "Tariff: ")) (t) } }
                form method="post" action=(format!("/pay/quote/{id}/pay?k={}", key.k.clone().unwrap_or_default())) {
                    (d.token())
                    button.wide type="submit" id="pay" { (lang.t("立即支付 ", "Pay ")) (yuan(fen)) }
                }
            }
        },
        (Some(true), None) => {
            html! { div.card { div.notice.bad { (lang.t("车场返回的账单不完整", "The lot's bill is incomplete")) } } }
        }
    };
    // Unanswered yet (the lot is reconnecting): the page refreshes itself until the fee arrives.
    let live = if q.success.is_none() { 2 } else { 0 };
    page(&d, lang.t("停车费", "Parking fee"), live, body)
}

/// Pays a quote (an interactive payment: the driver approves it in the channel).
async fn pay_quote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(key): Query<Key>,
    Form(f): Form<TokenForm>,
) -> Response {
    let d = driver(&state, &headers);
    if !proof::genuine(&headers, &f.csrf) {
        return forged(&d);
    }
    let q = match state.store().fee_quote(id).await {
        Ok(Some(q)) if d.proves(&q.plate_no) || state.proofs().opens(&format!("quote\n{id}"), key.k.as_deref()) => q,
        Ok(_) => return problem(&d, StatusCode::NOT_FOUND, "没有这次查询", "No such fee query"),
        Err(e) => return failed(&d, e),
    };
    let (Some(true), Some(fen), Some(bill_id), Some(uid)) = (q.success, q.should_pay, q.bill_id.clone(), q.uid.clone())
    else {
        return problem(&d, StatusCode::CONFLICT, "这次查询没有可支付的账单", "This query has no bill to pay");
    };
    if fen <= 0 {
        return Redirect::to(&quote_url(&state, id)).into_response();
    }
    let p = payments::new_payment(
        &state,
        Purpose::Prepay,
        &q.parking_code,
        &bill_id,
        &uid,
        (&q.plate_no, q.plate_color.unwrap_or(1)),
        (
            q.arrive_time.as_deref().unwrap_or_default(),
            q.end_time.as_deref().unwrap_or_default(),
            q.bill_time.as_deref().unwrap_or_default(),
        ),
        fen,
    );
    // The quote's bill and the stay's fee: a second quote of the same stay,
    // asked before this payment reached the lot, cannot be paid too.
    let stay = Debt::Stay { parking_code: q.parking_code.clone(), uid, asked_at: q.asked_at.clone() };
    let debts = [(Debt::bill(&q.parking_code, &bill_id), fen), (stay, fen)];
    match payments::pay(&state, p, &debts, true).await {
        Ok(Paying::Charge(p)) => paid_redirect(&state, &headers, &p),
        Ok(Paying::Mismatch(_)) => problem(
            &d,
            StatusCode::CONFLICT,
            "这次查询的账单已按其他金额支付过",
            "This bill was paid with another amount",
        ),
        Ok(Paying::Claimed(holder)) => already_paying(&state, &d, &holder),
        Err(e) => failed(&d, e),
    }
}

/// Online payment is off (no channel configured).
pub(crate) fn offline(d: &Driver) -> Response {
    problem(
        d,
        StatusCode::SERVICE_UNAVAILABLE,
        "本平台未开通线上支付，请在出口岗亭缴费",
        "Online payment is not available here; please pay at the exit booth",
    )
}

/// Another charge is paying (or has paid) this debt: no second one; the
/// driver sees that one and how to go on.
pub(crate) fn already_paying(state: &AppState, d: &Driver, holder: &Payment) -> Response {
    let lang = d.lang;
    let body = html! {
        div.card {
            div.notice.bad id="already" {
                @if holder.state == PayState::Pending {
                    (lang.t("这笔费用已有一笔支付正在处理中，未再次收费。", "A payment of this is already being processed; you were not charged again."))
                } @else {
                    (lang.t("这笔费用已经支付，未再次收费。如需继续缴费，请重新查询停车费。", "This was already paid; you were not charged again. Ask for the fee again to pay any more."))
                }
            }
            @if d.proves(&holder.plate_no) {
                p { a.button href=(receipt_url(state, &holder.order_id)) { (lang.t("查看该笔支付", "See that payment")) } }
            }
            p { a.button.secondary href=(plate_url(&holder.plate_no)) { (lang.t("返回", "Back")) } }
        }
    };
    (StatusCode::CONFLICT, page(d, lang.t("已支付", "Already paid"), 0, body)).into_response()
}

async fn pay_arrears(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<PlateForm>) -> Response {
    let (d, plate_no) = match posted(&state, &headers, &f.csrf, &f.plate) {
        Ok(posted) => posted,
        Err(r) => return *r,
    };
    if !state.payments().enabled() {
        return offline(&d);
    }
    match payments::pay_arrears(&state, &plate_no).await {
        // A second tap finds the first charge: its receipt, not a new one.
        Ok(Some(Paying::Charge(p))) => paid_redirect(&state, &headers, &p),
        // Another tap's charge: its receipt (the key in the address opens it), no proof.
        Ok(Some(Paying::Claimed(p))) if p.purpose == Purpose::Arrears => {
            Redirect::to(&receipt_url(&state, &p.order_id)).into_response()
        }
        Ok(Some(Paying::Claimed(p) | Paying::Mismatch(p))) => already_paying(&state, &d, &p),
        Ok(None) => Redirect::to(&plate_url(&plate_no)).into_response(),
        Err(e) => failed(&d, e),
    }
}

#[derive(Deserialize)]
struct SignupForm {
    plate: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    no_stop: Option<String>,
    #[serde(default)]
    after_leave: Option<String>,
    /// yuan
    limit: String,
    /// Stop both (the driver cancels the sign-up).
    #[serde(default)]
    cancel: Option<String>,
}

async fn sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> Response {
    let (d, plate_no) = match posted(&state, &headers, &f.csrf, &f.plate) {
        Ok(posted) => posted,
        Err(r) => return *r,
    };
    if !d.proves(&plate_no) {
        return problem(
            &d,
            StatusCode::FORBIDDEN,
            "请先验证车牌（输入支付凭证上的查询码），再开通或变更无感支付",
            "Prove this plate first (the code on one of its receipts) to sign it up",
        );
    }
    let Some(limit) = f.limit.trim().parse::<i64>().ok().filter(|y| (1..=10_000).contains(y)).map(|y| y * 100) else {
        return problem(
            &d,
            StatusCode::BAD_REQUEST,
            "单笔限额应为 1 到 10000 元的整数",
            "The limit is 1 to 10000 yuan",
        );
    };
    let cancel = f.cancel.is_some();
    if !cancel && f.no_stop.is_none() && f.after_leave.is_none() {
        return problem(
            &d,
            StatusCode::BAD_REQUEST,
            "请至少选择一种无感支付方式（出场无感扣费或先离场后付费）",
            "Choose at least one way: deduct at the exit, or leave first and pay after",
        );
    }
    // A cancellation keeps the contract's id (nothing is signed at the channel); nothing
    // signed up, nothing to cancel.
    let contract_id = if cancel {
        match state.store().signup(&plate_no).await {
            Ok(Some(s)) if s.no_stop || s.after_leave => s.contract_id,
            Ok(_) => return Redirect::to(&format!("{}#signup", plate_url(&plate_no))).into_response(),
            Err(e) => return failed(&d, e),
        }
    } else {
        match state.payments().channel().sign_up(&plate_no, limit).await {
            Ok(c) => c.contract_id,
            Err(e) => return failed(&d, e),
        }
    };
    let signup = Signup {
        plate_color: if plate_no.chars().count() == 8 { 5 } else { 1 },
        plate_no: plate_no.clone(),
        no_stop: !cancel && f.no_stop.is_some(),
        after_leave: !cancel && f.after_leave.is_some(),
        money_limit: limit,
        channel: state.payments().channel().name().to_owned(),
        contract_id,
        updated_at: onepark_domain::time::format_time(state.now()),
    };
    let before = match state.store().signup(&plate_no).await {
        Ok(before) => before,
        Err(e) => return failed(&d, e),
    };
    let change = crate::city::audit::Change::new("signup", "", &plate_no)
        .old(before.as_ref().map(|b| serde_json::json!({ "noStop": b.no_stop, "afterLeave": b.after_leave, "limit": b.money_limit })))
        .new_value(serde_json::json!({ "noStop": signup.no_stop, "afterLeave": signup.after_leave, "limit": signup.money_limit }));
    let client = client.to_string();
    let pending =
        match crate::city::audit::begin_as(state.store(), ("driver", "driver", &client), &signup.updated_at, change)
            .await
        {
            Ok(pending) => pending,
            Err(e) => return failed(&d, e),
        };
    let stored = state.store().put_signup(&signup).await;
    pending.finish(state.store(), &stored).await;
    if let Err(e) = stored {
        return failed(&d, e);
    }
    tracing::info!(plate = plate_no, no_stop = signup.no_stop, after_leave = signup.after_leave, "driver signed up");
    Redirect::to(&format!("{}#signup", plate_url(&plate_no))).into_response()
}

/// A payment's receipt; refreshes itself until the lot has confirmed it.
async fn receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(order): Path<String>,
    Query(key): Query<Key>,
) -> Response {
    let d = driver(&state, &headers);
    let lang = d.lang;
    let opens = state.proofs().opens(&format!("receipt\n{order}"), key.k.as_deref());
    let p = match state.store().payment_by_order(&order).await {
        Ok(Some(p)) if opens || d.proves(&p.plate_no) => p,
        Ok(_) => return problem(&d, StatusCode::NOT_FOUND, "没有这笔支付", "No such payment"),
        Err(e) => return failed(&d, e),
    };
    // Only a payment that went through proves its plate.
    let code = (p.state == PayState::Paid).then(|| state.proofs().receipt_code(&p.order_id));
    let lot_name = match state.store().lot_name(&p.parking_code).await {
        Ok(name) => name.unwrap_or_else(|| p.parking_code.clone()),
        Err(e) => return failed(&d, e),
    };
    let delivered = match lot_heard(&state, &p).await {
        Ok(d) => d,
        Err(e) => return failed(&d, e),
    };
    let settled = p.state != PayState::Pending
        && delivered.is_none_or(|s| s != DownlinkState::Queued && s != DownlinkState::Published);
    let body = html! {
        div.card.receipt {
            h1 { (lang.t("支付凭证", "Receipt")) }
            div.plate.big { (p.plate_no) }
            p.amount id="paid" { (yuan(p.actual_pay.unwrap_or(p.should_pay))) }
            p id="state" { (state_badge(lang, p.state)) " " (purpose_name(lang, p.purpose)) }
            table {
                tr { th { (lang.t("订单号", "Order")) } td { (p.order_id) } }
                @if let Some(code) = &code { tr { th { (lang.t("查询码", "Receipt code")) } td id="receipt-code" { (code) } } }
                @if let Some(txn) = &p.txn_id { tr { th { (lang.t("交易流水号", "Transaction")) } td { (txn) } } }
                @if let Some(t) = &p.deal_time { tr { th { (lang.t("支付时间", "Paid at")) } td { (t) } } }
                @if !p.parking_code.is_empty() { tr { th { (lang.t("车场", "Lot")) } td { (lot_name) } } }
                @if let Some(reason) = &p.reason { tr { th { (lang.t("原因", "Reason")) } td { (reason) } } }
                @if p.refunded > 0 { tr { th { (lang.t("已退款", "Refunded")) } td { (yuan(p.refunded)) " " (p.refund_reason.clone().unwrap_or_default()) } } }
            }
            @match (p.state, delivered) {
                (PayState::Paid, Some(DownlinkState::Confirmed)) => div.notice id="lot" { (lang.t("车场已确认，请在 15 分钟内出场。", "The lot has confirmed; please leave within 15 minutes.")) },
                (PayState::Paid, Some(DownlinkState::Refused)) => div.notice.bad id="lot" { (lang.t("车场未能确认本次支付，请到岗亭出示凭证。", "The lot could not confirm this payment; show this receipt at the booth.")) },
                (PayState::Paid, Some(_)) => div.notice id="lot" { (lang.t("正在通知车场…", "Telling the lot…")) },
                (PayState::Pending, _) => div.notice id="lot" { (lang.t("支付处理中…", "Processing…")) },
                _ => {}
            }
            p { a.button href=(plate_url(&p.plate_no)) { (lang.t("返回", "Back")) } }
        }
    };
    page(&d, lang.t("支付凭证", "Receipt"), if settled { 0 } else { 2 }, body)
}

/// For a prepayment, how far its payResult to the lot has come.
async fn lot_heard(state: &AppState, p: &Payment) -> Result<Option<DownlinkState>, crate::store::StoreError> {
    if p.purpose != Purpose::Prepay || p.state != PayState::Paid {
        return Ok(None);
    }
    state.store().pay_result_delivery(&p.parking_code, &p.plate_no, &p.updated_at).await
}

#[derive(Deserialize)]
struct VerifyForm {
    plate: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    sandbox: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Proof of a plate: the 查询码 of one of its receipts (or, with the sandbox
/// channel only, on request). The seam where a deployment's channel login goes.
async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Form(f): Form<VerifyForm>,
) -> Response {
    let (d, plate_no) = match posted(&state, &headers, &f.csrf, &f.plate) {
        Ok(posted) => posted,
        Err(r) => return *r,
    };
    let code = f.code.trim();
    let proven = if f.sandbox.is_some() && d.play_money {
        true
    } else {
        // Guessing codes: bounded per client and per plate (10 and 30 a minute:
        // 10^8 codes take years), whatever fee queries are allowed.
        let now = std::time::Instant::now();
        let limits = state.verify_rates();
        if limits.0.take(&client.key(), now).is_err() || limits.1.take(&plate_no, now).is_err() {
            return problem(
                &d,
                StatusCode::TOO_MANY_REQUESTS,
                "尝试过于频繁，请稍后再试",
                "Too many tries; try again later",
            );
        }
        match state.store().payments_of(&plate_no, 200).await {
            Ok(paid) => {
                !code.is_empty()
                    && paid
                        .iter()
                        .any(|p| p.state == PayState::Paid && state.proofs().receipt_code(&p.order_id) == code)
            }
            Err(e) => return failed(&d, e),
        }
    };
    if !proven {
        return problem(
            &d,
            StatusCode::FORBIDDEN,
            "查询码不正确：请输入该车牌任一支付凭证上的 8 位查询码",
            "Wrong code: enter the 8-digit code on one of this plate's receipts",
        );
    }
    proven_redirect(&state, &headers, &plate_url(&plate_no), &plate_no)
}
