//! The driver's month-card renewal (月卡续费): a plate's cards at every lot,
//! the months to buy, the lot's price asked (`city::renewals`), paid like a
//! parking fee, the receipt. A quote's page opens with its link key or with
//! proof of the plate, as a fee quote's does.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use onepark_serve::pages::Client;
use onepark_web::yuan;
use serde::Deserialize;

use crate::city::announce::AnnounceError;
use crate::city::payments::Paying;
use crate::city::renewals::{self, MONTHS};
use crate::http::driver::{
    Driver, FEE_WAIT, Key, TokenForm, already_paying, driver, failed, forged, offline, page, plate_url, posted,
    problem, receipt_url, too_many,
};
use crate::http::proof;
use crate::state::AppState;
use crate::store::Renewal;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pay/card", get(cards))
        .route("/pay/card/quote", post(ask))
        .route("/pay/card/{trade_no}", get(quote))
        .route("/pay/card/{trade_no}/pay", post(pay))
}

fn quote_url(state: &AppState, trade_no: &str) -> String {
    format!("/pay/card/{trade_no}?k={}", state.proofs().link(&format!("renewal\n{trade_no}")))
}

#[derive(Deserialize)]
struct CardsQuery {
    plate: Option<String>,
}

/// The plate's month cards, each with the months to buy.
async fn cards(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<CardsQuery>) -> Response {
    let d = driver(&state, &headers);
    let lang = d.lang;
    let Some(plate_no) = q.plate.as_deref().and_then(|p| onepark_domain::plate::Plate::parse(p).ok()) else {
        return Redirect::to("/pay").into_response();
    };
    let plate_no = plate_no.to_string();
    let cars = match state.store().fixed_cars_of(&plate_no).await {
        Ok(cars) => cars.into_iter().filter(renewals::renewable).collect::<Vec<_>>(),
        Err(e) => return failed(&d, e),
    };
    let mut named = Vec::new();
    for car in cars {
        match state.store().lot_name(&car.park_code).await {
            Ok(name) => named.push((name.unwrap_or_else(|| car.park_code.clone()), car)),
            Err(e) => return failed(&d, e),
        }
    }
    let proven = d.proves(&plate_no);
    let body = html! {
        div.card {
            div.plate.big { (plate_no) }
            h2 { (lang.t("月卡续费", "Renew a month card")) }
            @if named.is_empty() {
                p.muted id="no-cards" { (lang.t("该车牌在接入车场没有月卡。", "This plate has no month card at a connected lot.")) }
            }
        }
        @for (name, car) in &named {
            div.card.renewal {
                p { strong { (name) } }
                @if proven { p.muted { (lang.t("有效期至 ", "Valid until ")) (car.end_time) } }
                @if let Some(fee) = car.monthly_fee.filter(|f| *f > 0) {
                    p.muted { (lang.t("月租 ", "Monthly ")) (yuan(fee)) }
                }
                form method="post" action="/pay/card/quote" {
                    (d.token())
                    input type="hidden" name="plate" value=(plate_no);
                    input type="hidden" name="code" value=(car.park_code);
                    input type="hidden" name="card" value=(car.uuid);
                    p { label.field { (lang.t("续费时长", "Months"))
                        select name="months" {
                            @for m in MONTHS {
                                option value=(m) { (m) (lang.t(" 个月", if m == 1 { " month" } else { " months" })) }
                            }
                        }
                    } }
                    button.wide type="submit" id=(format!("renew-{}", car.uuid)) { (lang.t("查询续费价格", "Get the price")) }
                }
            }
        }
        p { a.button.secondary href=(plate_url(&plate_no)) { (lang.t("返回", "Back")) } }
    };
    page(&d, lang.t("月卡续费", "Month-card renewal"), 0, body)
}

#[derive(Deserialize)]
struct AskForm {
    plate: String,
    code: String,
    card: String,
    months: String,
    #[serde(default)]
    csrf: String,
}

/// Asks the card's lot the price and waits up to 5 s for it.
async fn ask(State(state): State<AppState>, headers: HeaderMap, client: Client, Form(f): Form<AskForm>) -> Response {
    let (d, plate_no) = match posted(&state, &headers, &f.csrf, &f.plate) {
        Ok(posted) => posted,
        Err(r) => return *r,
    };
    if !state.payments().enabled() {
        return offline(&d);
    }
    let Some(months) = f.months.trim().parse::<i64>().ok().filter(|m| MONTHS.contains(m)) else {
        return problem(&d, StatusCode::BAD_REQUEST, "请选择 1、3、6 或 12 个月", "Choose 1, 3, 6 or 12 months");
    };
    // The card must be this plate's: a form naming another plate's card renews nothing.
    match state.store().fixed_car(&f.code, &f.card).await {
        Ok(Some(car)) if car.plate_no == plate_no && renewals::renewable(&car) => {}
        Ok(_) => return problem(&d, StatusCode::NOT_FOUND, "没有这张月卡", "No such month card"),
        Err(e) => return failed(&d, e),
    }
    if let Err(wait) = state.fee_rate().take(&client.key(), std::time::Instant::now()) {
        return too_many(&d, wait);
    }
    match renewals::ask_price(&state, &f.code, &f.card, months, FEE_WAIT).await {
        Ok(Some((trade_no, _))) => Redirect::to(&quote_url(&state, &trade_no)).into_response(),
        Ok(None) => problem(&d, StatusCode::NOT_FOUND, "没有这张月卡", "No such month card"),
        Err(AnnounceError::NotCarried { .. } | AnnounceError::NoLink(_)) => problem(
            &d,
            StatusCode::CONFLICT,
            "该车场暂不支持线上续费，请到车场岗亭办理",
            "This lot does not renew cards online; please renew at its booth",
        ),
        Err(e) => failed(&d, e),
    }
}

/// The renewal `trade_no`, for a browser that proved its plate or holds its link's key.
async fn opened(state: &AppState, d: &Driver, trade_no: &str, key: &Key) -> Result<Renewal, Box<Response>> {
    match state.store().renewal(trade_no).await {
        Ok(Some(r))
            if d.proves(&r.plate_no) || state.proofs().opens(&format!("renewal\n{trade_no}"), key.k.as_deref()) =>
        {
            Ok(r)
        }
        Ok(_) => Err(Box::new(problem(d, StatusCode::NOT_FOUND, "没有这次续费查询", "No such renewal"))),
        Err(e) => Err(Box::new(failed(d, e))),
    }
}

/// A renewal's quote: the lot's price and a pay button, or why there is none.
async fn quote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(trade_no): Path<String>,
    Query(key): Query<Key>,
) -> Response {
    let d = driver(&state, &headers);
    let lang = d.lang;
    let r = match opened(&state, &d, &trade_no, &key).await {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let lot_name = match state.store().lot_name(&r.parking_code).await {
        Ok(name) => name.unwrap_or_else(|| r.parking_code.clone()),
        Err(e) => return failed(&d, e),
    };
    let months = html! { (r.months) (lang.t(" 个月", if r.months == 1 { " month" } else { " months" })) };
    let body = html! {
        div.card {
            div.plate.big { (r.plate_no) }
            p.muted { (lang.t("车场 ", "Lot ")) (lot_name) " · " (lang.t("月卡续费 ", "renewal for ")) (months) }
            p.muted { (lang.t("续费后有效期 ", "Valid ")) (r.start_time) " — " (r.end_time) }
            @match r.state.as_str() {
                "asked" => div.notice id="waiting" { (lang.t("正在向车场查询价格，请稍候…", "Asking the lot for the price…")) },
                "refused" => div.notice.bad id="refused" {
                    (lang.t("车场未给出价格：", "The lot gave no price: ")) (r.errmsg.clone().unwrap_or_default())
                },
                "quoted" => {
                    p.amount id="price" { (yuan(r.price.unwrap_or(0))) }
                    form method="post" action=(format!("/pay/card/{}/pay?k={}", r.trade_no, key.k.clone().unwrap_or_default())) {
                        (d.token())
                        button.wide type="submit" id="pay" { (lang.t("立即支付 ", "Pay ")) (yuan(r.price.unwrap_or(0))) }
                    }
                },
                "paid" => div.notice id="paid" { (lang.t("已支付，正在通知车场续期。", "Paid; the lot is being told to renew the card.")) },
                "delivered" => div.notice id="delivered" { (lang.t("续费成功，车场已更新月卡有效期。", "Renewed: the lot has updated the card.")) },
                _ => div.notice.bad id="failed" {
                    (lang.t("车场未能续期，款项已原路退回：", "The lot could not renew the card; your money was refunded: "))
                    (r.errmsg.clone().unwrap_or_default())
                },
            }
            p { a.button.secondary href=(plate_url(&r.plate_no)) { (lang.t("返回", "Back")) } }
        }
    };
    let live = if matches!(r.state.as_str(), "asked" | "paid") { 2 } else { 0 };
    page(&d, lang.t("月卡续费", "Month-card renewal"), live, body)
}

/// Pays a quoted renewal.
async fn pay(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(trade_no): Path<String>,
    Query(key): Query<Key>,
    Form(f): Form<TokenForm>,
) -> Response {
    let d = driver(&state, &headers);
    if !proof::genuine(&headers, &f.csrf) {
        return forged(&d);
    }
    let r = match opened(&state, &d, &trade_no, &key).await {
        Ok(r) => r,
        Err(page) => return *page,
    };
    if r.state != "quoted" && r.state != "paid" && r.state != "delivered" {
        return problem(&d, StatusCode::CONFLICT, "这次查询没有可支付的价格", "This query has no price to pay");
    }
    // A fresh quote only: the months it prices must still be the ones it would buy.
    if r.state == "quoted" {
        match renewals::stale(&state, &r).await {
            Ok(None) => {}
            Ok(Some(renewals::Stale::Expired)) => {
                return problem(
                    &d,
                    StatusCode::CONFLICT,
                    "报价已过期，请重新查询续费价格",
                    "This price expired; ask again",
                );
            }
            Ok(Some(renewals::Stale::CardMoved)) => {
                return problem(
                    &d,
                    StatusCode::CONFLICT,
                    "月卡有效期已变化，请重新查询续费价格",
                    "The card's validity changed; ask for the price again",
                );
            }
            Err(e) => return failed(&d, e),
        }
    }
    match renewals::pay(&state, &r).await {
        // To the receipt, without proof of the plate: anyone may pay a card's renewal.
        Ok(Some(Paying::Charge(p))) => Redirect::to(&receipt_url(&state, &p.order_id)).into_response(),
        Ok(Some(Paying::Mismatch(_))) => {
            problem(&d, StatusCode::CONFLICT, "这次续费已按其他金额支付过", "This renewal was paid with another amount")
        }
        Ok(Some(Paying::Claimed(holder))) => already_paying(&state, &d, &holder),
        Ok(None) => problem(&d, StatusCode::CONFLICT, "这次查询没有可支付的价格", "This query has no price to pay"),
        Err(e) => failed(&d, e),
    }
}
