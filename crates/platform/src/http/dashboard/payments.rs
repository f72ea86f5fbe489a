//! Online payments (`/payments`): every charge the platform made, by date
//! range, lot, a part of the plate, purpose and state, newest first, paged;
//! each leads to its plate's story (where it can be refunded); exported as
//! CSV or Excel.

use onepark_web::xlsx::Cell;

use super::export::{Format, Sheet, keyset, list_link};
use super::records::{date_range, lot_choices};
use super::*;
use crate::store::{PayState, Payment, PaymentSearch, Purpose};

const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub(super) struct PaymentsParams {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    lot: String,
    #[serde(default)]
    plate: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: i64,
    #[serde(default)]
    format: String,
}

const PURPOSES: [(Purpose, &str, &str); 5] = [
    (Purpose::Exit, "出口无感扣费", "no-stop at the exit"),
    (Purpose::Prepay, "场内缴费", "paid in the lot"),
    (Purpose::AfterLeave, "先离场后付费", "after leaving"),
    (Purpose::Arrears, "欠费补缴", "arrears"),
    (Purpose::Renewal, "月卡续费", "card renewal"),
];

const STATES: [(PayState, &str, &str); 4] = [
    (PayState::Paid, "已支付", "paid"),
    (PayState::Refunded, "已退款", "refunded"),
    (PayState::Pending, "处理中", "pending"),
    (PayState::Declined, "未成功", "not paid"),
];

fn label<T: PartialEq + Copy>(lang: Lang, table: &[(T, &'static str, &'static str)], v: T) -> &'static str {
    table.iter().find(|t| t.0 == v).map_or("", |t| lang.t(t.1, t.2))
}

pub(super) async fn payments(
    State(state): State<AppState>,
    v: Viewer,
    Query(p): Query<PaymentsParams>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let (from, to) = match date_range(&v, &p.from, &p.to, lang.t("线上支付", "Payments"), "/payments") {
        Ok(range) => range,
        Err(page) => return Ok(*page),
    };
    let lot = p.lot.trim().to_owned();
    if !lot.is_empty() {
        v.check(Need::Read, &lot)?;
    }
    let page = p.page.clamp(0, 100_000);
    let search = PaymentSearch {
        lots: v.who.lot_filter(),
        parking_code: lot.clone(),
        plate_part: p.plate.trim().to_uppercase(),
        state: PayState::parse(&p.state),
        purpose: Purpose::parse(&p.purpose),
        from,
        to,
        before: None,
        limit: PAGE + 1,
        offset: page * PAGE,
    };
    let lots = lot_choices(&state, &v).await?;
    if let Some(format) = Format::parse(&p.format) {
        return Ok(export(state, lang, format, search, lots));
    }
    let mut rows = state.store().find_payments(&search).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let name = |code: &str| lots.iter().find(|(c, _)| c == code).map_or_else(|| code.to_owned(), |(_, n)| n.clone());
    let filters = [
        ("from", p.from.as_str()),
        ("to", &p.to),
        ("lot", &p.lot),
        ("plate", &p.plate),
        ("purpose", &p.purpose),
        ("state", &p.state),
    ];
    let link = |page: i64, format: &str| list_link("/payments", &filters, page, format);
    let body = html! {
        h1 { (lang.t("线上支付", "Online payments")) }
        div.card {
            form.inline method="get" action="/payments" id="payments-filter" {
                label.field { (lang.t("从", "From")) input type="date" name="from" value=(p.from); }
                label.field { (lang.t("到", "To")) input type="date" name="to" value=(p.to); }
                label.field { (lang.t("车场", "Lot")) select name="lot" {
                    option value="" { (if v.who.city_wide() { lang.t("全部车场", "every lot") } else { lang.t("我的全部车场", "all my lots") }) }
                    @for (code, l) in &lots { option value=(code) selected[*code == lot] { (l) } }
                } }
                label.field { (lang.t("车牌（可输入部分）", "Plate (or a part)")) input name="plate" value=(p.plate); }
                label.field { (lang.t("场景", "Kind")) select name="purpose" {
                    option value="" { (lang.t("全部", "all")) }
                    @for (pp, zh, en) in PURPOSES { option value=(pp.as_str()) selected[p.purpose == pp.as_str()] { (lang.t(zh, en)) } }
                } }
                label.field { (lang.t("状态", "State")) select name="state" {
                    option value="" { (lang.t("全部", "all")) }
                    @for (s, zh, en) in STATES { option value=(s.as_str()) selected[p.state == s.as_str()] { (lang.t(zh, en)) } }
                } }
                button type="submit" { (lang.t("查询", "Search")) }
                a.button.secondary href=(link(0, "xlsx")) id="payments-xlsx" { "Excel" }
                a.button.secondary href=(link(0, "csv")) id="payments-csv" { "CSV" }
            }
        }
        div.card.mt {
            @if rows.is_empty() { p.empty id="no-payments" { (lang.t("没有符合条件的支付", "No payment matches")) } }
            @else { div.scroll { table id="payments-list" {
                thead { tr {
                    th { (lang.t("时间", "Time")) } th { (lang.t("车场", "Lot")) } th { (lang.t("车牌", "Plate")) } th { (lang.t("场景", "Kind")) }
                    th.num { (lang.t("金额", "Amount")) } th.num { (lang.t("已退", "Refunded")) } th { (lang.t("状态", "State")) } th { (lang.t("渠道", "Channel")) } th { (lang.t("订单号", "Order")) }
                } }
                tbody { @for r in &rows { tr data-order=(r.order_id) {
                    td.muted { (r.created_at) }
                    td { a href=(format!("/lots/{}", encode(&r.parking_code))) { (name(&r.parking_code)) } }
                    td.plate { a href=(format!("/plates?plate={}#payments-card", encode(&r.plate_no))) { (r.plate_no) } }
                    td { (label(lang, &PURPOSES, r.purpose)) }
                    td.num { (r.actual_pay.map(yuan).unwrap_or_default()) }
                    td.num { @if r.refunded > 0 { (yuan(r.refunded)) } }
                    td { (label(lang, &STATES, r.state)) }
                    td.muted { (r.channel) }
                    td.muted { code { (r.order_id) } }
                } } }
            } } }
            p.pager {
                @if page > 0 { a href=(link(page - 1, "")) { (lang.t("上一页", "Newer")) } " " }
                @if more { a href=(link(page + 1, "")) id="payments-next" { (lang.t("下一页", "Older")) } }
            }
        }
    };
    Ok(reply(&v, lang.t("线上支付", "Payments"), "/payments", body))
}

fn export(
    state: AppState,
    lang: Lang,
    format: Format,
    mut search: PaymentSearch,
    lots: Vec<(String, String)>,
) -> Response {
    search.limit = 2000;
    search.offset = 0;
    let zh = lang == Lang::Zh;
    let sheet = Sheet {
        name: format!(
            "{}-{}",
            if zh { "线上支付" } else { "payments" },
            format_time(state.now()).get(..10).unwrap_or("")
        ),
        title: lang.t("线上支付", "Payments").to_owned(),
        headers: if zh {
            vec![
                "时间",
                "车场编号",
                "车场名称",
                "车牌",
                "场景",
                "应付（元）",
                "实付（元）",
                "已退（元）",
                "状态",
                "渠道",
                "订单号",
                "支付时间",
            ]
        } else {
            vec![
                "time",
                "lot",
                "lot name",
                "plate",
                "kind",
                "due (yuan)",
                "paid (yuan)",
                "refunded (yuan)",
                "state",
                "channel",
                "order",
                "paid at",
            ]
        },
        widths: vec![20, 14, 20, 12, 14, 10, 10, 10, 8, 10, 36, 20],
    };
    let row = move |r: &Payment| -> Vec<Cell> {
        let lot_name = lots.iter().find(|(c, _)| *c == r.parking_code).map_or_else(String::new, |(_, n)| n.clone());
        vec![
            Cell::Text(r.created_at.clone()),
            Cell::Text(r.parking_code.clone()),
            Cell::Text(lot_name),
            Cell::Text(r.plate_no.clone()),
            Cell::Text(label(lang, &PURPOSES, r.purpose).to_owned()),
            Cell::Fen(r.should_pay),
            r.actual_pay.map_or(Cell::Empty, Cell::Fen),
            Cell::Fen(r.refunded),
            Cell::Text(label(lang, &STATES, r.state).to_owned()),
            Cell::Text(r.channel.clone()),
            Cell::Text(r.order_id.clone()),
            Cell::Text(r.deal_time.clone().unwrap_or_default()),
        ]
    };
    let batches = keyset(
        state,
        search,
        2000,
        |state: AppState, q: PaymentSearch| async move {
            let rows = state.store().find_payments(&q).await;
            (q, rows)
        },
        |q, r: &Payment| q.before = Some((r.created_at.clone(), r.order_id.clone())),
        row,
    );
    super::export::respond(format, sheet, batches)
}
