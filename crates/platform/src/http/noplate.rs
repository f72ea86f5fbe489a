//! The lane QR pages of a Bolink lot, printed at its lanes. Entrance
//! (`/pay/in/{park_id}/{lane}`): a driver whose plate the camera cannot
//! read scans it, taps "enter", and the lot is asked to let them in
//! (`link::bolink::scan`); the page says what came of it in the driver's
//! language. Exit (`/pay/out/{park_id}/{lane}`): the same driver sees the
//! fee of their stay, asked of the lot at that lane, and pays it on the
//! driver pages; the paid lot opens the lane. The driver is known by a
//! random id in a cookie (standing in for the WeChat/Alipay user id), so
//! the same phone is the same pseudo-plate at every scan and at the exit.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use onepark_domain::record::Protocol;
use onepark_serve::pages::Client;
use onepark_web::Lang;
use serde::Deserialize;

use crate::http::driver::{Driver, driver, failed, forged, page, problem};
use crate::link::bolink::scan::{self, Outcome};
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/pay/in/{park_id}/{lane}", get(show).post(scan))
        .route("/pay/out/{park_id}/{lane}", get(exit).post(ask_exit_fee))
}

/// The driver's id cookie.
const DRIVER: &str = "op_driver";

/// The driver's id, and its cookie when the browser has none yet (or a
/// forged one). The cookie is `{id}.{mac}`: only the platform makes ids, so
/// nobody can pick one whose pseudo-plate matches another car's.
fn driver_id(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let signed = onepark_serve::pages::cookie(headers, DRIVER)
        .and_then(|c| c.split_once('.'))
        .filter(|(id, mac)| id.len() == 32 && state.proofs().opens(&format!("driver\n{id}"), Some(mac)));
    match signed {
        Some((id, _)) => (id.to_owned(), None),
        None => {
            let id = crate::secret::random_hex(16).unwrap_or_default();
            let mac = state.proofs().link(&format!("driver\n{id}"));
            let cookie = format!("{DRIVER}={id}.{mac}; Path=/pay; Max-Age=31536000; HttpOnly; SameSite=Lax");
            (id, Some(cookie))
        }
    }
}

/// A scan's budget: per client and per lane (a lane holds one car at a time).
fn throttled(state: &AppState, d: &Driver, client: &Client, park_id: &str, lane: &str) -> Option<Response> {
    let now = std::time::Instant::now();
    let (per_client, per_lane) = state.scan_rates();
    let wait = per_client.take(&client.key(), now).and_then(|()| per_lane.take(&format!("{park_id}\n{lane}"), now));
    wait.err().map(|wait| {
        let body = html! { div.card { div.notice.bad {
            (d.lang.t("扫码过于频繁，请稍后再试（", "Too many scans; try again in ")) (wait) (d.lang.t(" 秒）", "s"))
        } } };
        (StatusCode::TOO_MANY_REQUESTS, page(d, d.lang.t("请稍候", "Please wait"), 0, body)).into_response()
    })
}

fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().append(axum::http::header::SET_COOKIE, c);
    }
    response
}

/// The lot (a Bolink one) and its name for the page.
async fn lot_name(state: &AppState, park_id: &str) -> Result<Option<String>, crate::store::StoreError> {
    let Some(lot) = state.lot(park_id).await?.filter(|l| l.protocol() == Protocol::Bolink) else { return Ok(None) };
    let code = lot.parking_codes.first().cloned().unwrap_or_default();
    Ok(Some(state.store().lot_name(&code).await?.unwrap_or(code)))
}

/// The name of the Bolink lot whose lane a page is for, or the page saying there is none.
async fn lane_lot(state: &AppState, d: &Driver, park_id: &str, lane: &str, exit: bool) -> Result<String, Response> {
    match lot_name(state, park_id).await {
        Ok(Some(name)) if valid_lane(lane) => Ok(name),
        Ok(_) if exit => Err(problem(d, StatusCode::NOT_FOUND, "未找到该车场或出口", "No such car park or exit")),
        Ok(_) => Err(problem(d, StatusCode::NOT_FOUND, "未找到该车场或入口", "No such car park or entrance")),
        Err(e) => Err(failed(d, e)),
    }
}

fn valid_lane(lane: &str) -> bool {
    !lane.is_empty() && lane.chars().count() <= 24 && !lane.chars().any(char::is_control)
}

fn outcome_card(lang: Lang, outcome: &Outcome) -> Markup {
    match outcome {
        Outcome::Entered { plate } => html! {
            div.notice.ok id="entered" {
                strong { (lang.t("入场成功，请通行", "You are in: drive on")) }
                p { (lang.t("您的临时车牌：", "Your temporary plate: ")) strong.plate { (plate) } }
                p.muted { (lang.t("离场时请扫描出口二维码缴费。", "At the exit, scan the exit code to pay.")) }
            }
        },
        Outcome::Refused(why) => html! {
            div.notice.bad id="refused" { (lang.t("车场未允许入场：", "The car park did not let you in: ")) (why) }
        },
        Outcome::Pending => html! {
            div.notice id="pending" { (lang.t("车场正在处理，请稍候……", "The car park is handling it, please wait…")) }
        },
        Outcome::Offline => html! {
            div.notice.bad id="offline" { (lang.t("车场网络异常，请联系岗亭工作人员。", "The car park is offline; please ask the booth.")) }
        },
        Outcome::UnknownLot => html! {
            div.notice.bad { (lang.t("未找到该车场。", "No such car park.")) }
        },
    }
}

fn scan_page(d: &Driver, name: &str, lane: &str, outcome: Option<&Outcome>, path: &str) -> Response {
    let lang = d.lang;
    let pending = matches!(outcome, Some(Outcome::Pending));
    let body = html! {
        div.card {
            h1 { (lang.t("无牌车扫码入场", "No-plate entry")) }
            p { (name) " · " (lang.t("入口 ", "entrance ")) strong { (lane) } }
            @if let Some(o) = outcome { (outcome_card(lang, o)) }
            @if !matches!(outcome, Some(Outcome::Entered { .. })) && !pending {
                p.muted { (lang.t("车牌无法识别时，点击下方按钮入场，道闸将自动抬起。", "If the camera cannot read your plate, tap below and the barrier opens.")) }
                form method="post" action=(path) {
                    (d.token())
                    button.button.primary type="submit" id="enter" { (lang.t("确认入场", "Enter")) }
                }
            }
        }
    };
    // A pending scan looks again every 2 s (the page's refresh, no script needed).
    page(d, lang.t("无牌车扫码入场", "No-plate entry"), if pending { 2 } else { 0 }, body)
}

/// `GET /pay/in/{park_id}/{lane}`: the form, or (a rescan within 30 s) what the last scan came to.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((park_id, lane)): Path<(String, String)>,
) -> Response {
    let d = driver(&state, &headers);
    let (user, cookie) = driver_id(&state, &headers);
    let path = format!("/pay/in/{park_id}/{lane}");
    let name = match lane_lot(&state, &d, &park_id, &lane, false).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let status = match scan::status(&state, &park_id, &user).await {
        Ok(status) => status,
        Err(e) => return failed(&d, e),
    };
    with_cookie(scan_page(&d, &name, &lane, status.as_ref(), &path), cookie)
}

#[derive(Deserialize)]
pub struct ScanForm {
    csrf: String,
}

/// A lane page's post: genuine (its CSRF token), within the scans' budget;
/// (the page's driver, their id, their id's cookie if new).
fn posted(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    form: &ScanForm,
    park_id: &str,
    lane: &str,
) -> Result<(Driver, String, Option<String>), Box<Response>> {
    let d = driver(state, headers);
    if !crate::http::proof::genuine(headers, &form.csrf) {
        return Err(Box::new(forged(&d)));
    }
    if let Some(wait) = throttled(state, &d, client, park_id, lane) {
        return Err(Box::new(wait));
    }
    let (user, cookie) = driver_id(state, headers);
    Ok((d, user, cookie))
}

/// `POST /pay/in/{park_id}/{lane}`: the scan.
pub async fn scan(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Path((park_id, lane)): Path<(String, String)>,
    Form(form): Form<ScanForm>,
) -> Response {
    let (d, user, cookie) = match posted(&state, &headers, &client, &form, &park_id, &lane) {
        Ok(posted) => posted,
        Err(page) => return *page,
    };
    let path = format!("/pay/in/{park_id}/{lane}");
    let name = match lane_lot(&state, &d, &park_id, &lane, false).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let outcome = match scan::enter(&state, &park_id, &lane, &user, None).await {
        Ok(o) => o,
        Err(e) => return failed(&d, e),
    };
    let status = if matches!(outcome, Outcome::Offline) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, with_cookie(scan_page(&d, &name, &lane, Some(&outcome), &path), cookie)).into_response()
}

/// `GET /pay/out/{park_id}/{lane}`: the driver's stay and a button to see its fee.
pub async fn exit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((park_id, lane)): Path<(String, String)>,
) -> Response {
    let d = driver(&state, &headers);
    let lang = d.lang;
    let (user, cookie) = driver_id(&state, &headers);
    let name = match lane_lot(&state, &d, &park_id, &lane, true).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let stay = match scan::open_stay(&state, &park_id, &user).await {
        Ok(stay) => stay,
        Err(e) => return failed(&d, e),
    };
    let path = format!("/pay/out/{park_id}/{lane}");
    let body = html! {
        div.card {
            h1 { (lang.t("扫码出场缴费", "Pay to exit")) }
            p { (name) " · " (lang.t("出口 ", "exit ")) strong { (lane) } }
            @match &stay {
                Some(plate) => {
                    p { (lang.t("您的临时车牌：", "Your temporary plate: ")) strong.plate id="plate" { (plate) } }
                    form method="post" action=(path) {
                        (d.token())
                        button.button.primary type="submit" id="fee" { (lang.t("查询停车费", "See the fee")) }
                    }
                }
                None => div.notice.bad id="no-stay" {
                    (lang.t("没有找到您在本车场的入场记录（请用入场时扫码的手机扫码），或请联系岗亭工作人员。",
                        "No stay of yours here (scan with the phone you entered with), or ask the booth."))
                },
            }
        }
    };
    with_cookie(page(&d, lang.t("扫码出场缴费", "Pay to exit"), 0, body), cookie)
}

/// `POST /pay/out/{park_id}/{lane}`: the lot is asked the fee at this lane; on to the quote to pay.
pub async fn ask_exit_fee(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    Path((park_id, lane)): Path<(String, String)>,
    Form(form): Form<ScanForm>,
) -> Response {
    let (d, user, _) = match posted(&state, &headers, &client, &form, &park_id, &lane) {
        Ok(posted) => posted,
        Err(page) => return *page,
    };
    if !valid_lane(&lane) {
        return problem(&d, StatusCode::NOT_FOUND, "未找到该出口", "No such exit");
    }
    let plate = match scan::open_stay(&state, &park_id, &user).await {
        Ok(Some(plate)) => plate,
        Ok(None) => return problem(&d, StatusCode::NOT_FOUND, "没有找到您的在场记录", "No stay of yours here"),
        Err(e) => return failed(&d, e),
    };
    match crate::city::payments::ask_fee_at(&state, &plate, Some(&lane), crate::http::driver::FEE_WAIT).await {
        Ok(Some((request_id, _))) => {
            axum::response::Redirect::to(&crate::http::driver::quote_url(&state, request_id)).into_response()
        }
        Ok(None) => problem(&d, StatusCode::NOT_FOUND, "没有找到您的在场记录", "No stay of yours here"),
        Err(e) => failed(&d, e),
    }
}
