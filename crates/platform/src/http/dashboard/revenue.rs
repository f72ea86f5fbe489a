//! Revenue (`/revenue`): what every lot took per day or per month, by
//! payment method, as the lots report it (their bills: the booth's cash and
//! cards, the online payments they booked), beside what the platform took
//! online itself (net of refunds); per lot, with totals, a chart, and an
//! export. A lot operator sees its lots.

use futures_util::Stream;
use onepark_web::xlsx::Cell;

use super::export::{Format, Sheet};
use super::records::{date_range, lot_choices};
use super::*;
use crate::store::{Takings, TakingsQuery};

#[derive(Deserialize, Default)]
pub(super) struct RevenueParams {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    lot: String,
    #[serde(default)]
    format: String,
}

/// A row of the table: fen by the lot's method, the lot's total, the platform's online takings.
type Line = (BTreeMap<String, i64>, i64, i64);

/// The city's payment methods (`paidType`, spec §7), as people say them.
fn method(lang: Lang, code: &str) -> String {
    let (zh, en) = match code {
        "1" => ("现金", "cash"),
        "2" => ("支付宝", "Alipay"),
        "3" => ("微信", "WeChat"),
        "4" => ("平台账户", "platform account"),
        "5" => ("市民卡钱包", "citizen card"),
        "6" => ("银联", "UnionPay"),
        "7" => ("工行瞬付", "ICBC"),
        "8" => ("建行龙支付", "CCB"),
        "9" => ("招商银行", "CMB"),
        "10" => ("ETC", "ETC"),
        other => return format!("{}{other}", lang.t("方式 ", "method ")),
    };
    lang.t(zh, en).to_owned()
}

/// A line's channel as people say it: the lot's method, or the platform's channel.
fn channel(lang: Lang, t: &Takings) -> String {
    if t.source == "lot" {
        method(lang, &t.channel)
    } else {
        format!("{}（{}）", lang.t("平台线上", "platform online"), t.channel)
    }
}

pub(super) async fn revenue(
    State(state): State<AppState>,
    v: Viewer,
    Query(p): Query<RevenueParams>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let today = state.now().date();
    let monthly = p.by == "month";
    // By default this month so far (by day) or this year (by month).
    let first = if monthly { today.with_month(1).and_then(|d| d.with_day(1)) } else { today.with_day(1) };
    let from_text = if p.from.is_empty() { first.unwrap_or(today).to_string() } else { p.from.clone() };
    let to_text = if p.to.is_empty() { today.to_string() } else { p.to.clone() };
    let (from, to) = match date_range(&v, &from_text, &to_text, lang.t("收入报表", "Revenue"), "/revenue") {
        Ok(range) => range,
        Err(page) => return Ok(*page),
    };
    let lot = p.lot.trim().to_owned();
    if !lot.is_empty() {
        v.check(Need::Read, &lot)?;
    }
    let query = TakingsQuery { from, to, monthly, parking_code: lot.clone(), lots: v.who.lot_filter() };
    let rows = state.store().takings(&query).await?;
    let lots = lot_choices(&state, &v).await?;
    let name = |code: &str| lots.iter().find(|(c, _)| c == code).map_or_else(|| code.to_owned(), |(_, n)| n.clone());
    if let Some(format) = Format::parse(&p.format) {
        return Ok(export(lang, format, &from_text, &to_text, rows, &name));
    }
    // Columns: the lots' methods present, then the platform's own takings.
    let mut methods: Vec<String> = rows.iter().filter(|t| t.source == "lot").map(|t| t.channel.clone()).collect();
    methods.sort_by_key(|m| m.parse::<i64>().unwrap_or(i64::MAX));
    methods.dedup();
    // (period, lot) → (method → fen), lot total, online.
    let mut table: BTreeMap<(String, String), Line> = BTreeMap::new();
    let mut by_method: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut by_period: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let (mut lot_total, mut online_total) = (0, 0);
    for t in &rows {
        let line = table.entry((t.period.clone(), t.parking_code.clone())).or_default();
        let period = by_period.entry(t.period.clone()).or_default();
        if t.source == "lot" {
            *line.0.entry(t.channel.clone()).or_default() += t.fen;
            line.1 += t.fen;
            period.0 += t.fen;
            lot_total += t.fen;
            let m = by_method.entry(t.channel.clone()).or_default();
            m.0 += t.count;
            m.1 += t.fen;
        } else {
            line.2 += t.fen;
            period.1 += t.fen;
            online_total += t.fen;
        }
    }
    let link = |format: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("from", &from_text).append_pair("to", &to_text);
        for (k, val) in [("by", &p.by), ("lot", &p.lot)] {
            if !val.is_empty() {
                q.append_pair(k, val);
            }
        }
        q.append_pair("format", format);
        format!("/revenue?{}", q.finish())
    };
    // Every period of the range on the chart, a day without takings as 0.
    if let (Ok(a), Ok(b)) =
        (NaiveDate::parse_from_str(&from_text, "%Y-%m-%d"), NaiveDate::parse_from_str(&to_text, "%Y-%m-%d"))
    {
        let mut day = a;
        while day <= b && by_period.len() < 400 {
            let key = if monthly { day.format("%Y-%m").to_string() } else { day.to_string() };
            by_period.entry(key).or_default();
            day = day.succ_opt().unwrap_or(b.succ_opt().unwrap_or(b));
        }
    }
    let chart = {
        let points: Vec<(f64, f64)> =
            by_period.values().enumerate().map(|(i, (l, _))| (i as f64, *l as f64 / 100.0)).collect();
        let online: Vec<(f64, f64)> =
            by_period.values().enumerate().map(|(i, (_, o))| (i as f64, *o as f64 / 100.0)).collect();
        let step = (by_period.len() / 6).max(1);
        let ticks = by_period
            .keys()
            .enumerate()
            .filter(|(i, _)| i % step == 0)
            .map(|(i, k)| (i as f64, k.get(5..).unwrap_or(k).to_owned()))
            .collect();
        let y_max = points.iter().chain(&online).map(|p| p.1).fold(0.0, f64::max);
        let axes =
            chart::Axes { x_min: 0.0, x_max: (by_period.len().max(2) - 1) as f64, x_ticks: ticks, y_max, y_unit: "" };
        chart::line(
            lang.t("收入走势（元）", "Takings (yuan)"),
            &axes,
            &[
                Series {
                    name: lang.t("车场上报收入（元）", "lots' takings (yuan)"), class: "s1", points, area: true
                },
                Series {
                    name: lang.t("平台线上收款（元）", "platform online (yuan)"),
                    class: "s2",
                    points: online,
                    area: false,
                },
            ],
        )
    };
    let body = html! {
        h1 { (lang.t("收入报表", "Revenue")) }
        div.card {
            form.inline method="get" action="/revenue" id="revenue-filter" {
                label.field { (lang.t("从", "From")) input type="date" name="from" value=(from_text); }
                label.field { (lang.t("到", "To")) input type="date" name="to" value=(to_text); }
                label.field { (lang.t("按", "By")) select name="by" {
                    option value="" { (lang.t("日", "day")) }
                    option value="month" selected[monthly] { (lang.t("月", "month")) }
                } }
                label.field { (lang.t("车场", "Lot")) select name="lot" {
                    option value="" { (if v.who.city_wide() { lang.t("全部车场", "every lot") } else { lang.t("我的全部车场", "all my lots") }) }
                    @for (code, label) in &lots { option value=(code) selected[*code == lot] { (label) } }
                } }
                button type="submit" { (lang.t("查询", "Show")) }
                a.button.secondary href=(link("xlsx")) id="revenue-xlsx" { "Excel" }
                a.button.secondary href=(link("csv")) id="revenue-csv" { "CSV" }
            }
        }
        div.grid.mt {
            (stat(lang.t("车场上报收入", "Lots' takings"), &yuan(lot_total), lang.t("各车场上传的账单（含岗亭现金）", "the lots' bills, booth cash included"), "stat-lot-total"))
            (stat(lang.t("平台线上收款", "Platform online"), &yuan(online_total), lang.t("扣除退款", "net of refunds"), "stat-online-total"))
            div.card.span-6 id="by-method" {
                h2 { (lang.t("按支付方式", "By payment method")) }
                @if by_method.is_empty() { p.empty { (lang.t("期间内没有账单", "No bill in this period")) } }
                @else { table { tbody { @for (m, (n, fen)) in &by_method { tr data-method=(m) {
                    td { (method(lang, m)) } td.num { (n) (lang.t(" 笔", "")) } td.num { (yuan(*fen)) }
                } } } } }
            }
        }
        @if by_period.len() > 1 { div.card.mt id="revenue-chart" { (chart) } }
        div.card.mt {
            @if table.is_empty() { p.empty id="no-revenue" { (lang.t("期间内没有收入", "No takings in this period")) } }
            @else { div.scroll { table id="revenue" {
                thead { tr {
                    th { (if monthly { lang.t("月份", "Month") } else { lang.t("日期", "Day") }) } th { (lang.t("车场", "Lot")) }
                    @for m in &methods { th.num { (method(lang, m)) } }
                    th.num { (lang.t("车场合计", "Lot total")) } th.num { (lang.t("平台线上", "Platform online")) }
                } }
                tbody { @for ((period, code), (cells, total, online)) in &table {
                    tr data-period=(period) data-code=(code) {
                        td { (period) } td { a href=(format!("/lots/{}", encode(code))) { (name(code)) } }
                        @for m in &methods { td.num { @if let Some(fen) = cells.get(m) { (yuan(*fen)) } } }
                        td.num { strong { (yuan(*total)) } } td.num { (yuan(*online)) }
                    }
                } }
                tfoot { tr {
                    th { (lang.t("合计", "Total")) } th {}
                    @for m in &methods { th.num { (yuan(by_method.get(m).map_or(0, |x| x.1))) } }
                    th.num { (yuan(lot_total)) } th.num { (yuan(online_total)) }
                } }
            } } }
        }
    };
    Ok(reply(&v, lang.t("收入报表", "Revenue"), "/revenue", body))
}

fn export(
    lang: Lang,
    format: Format,
    from: &str,
    to: &str,
    rows: Vec<Takings>,
    name: &dyn Fn(&str) -> String,
) -> Response {
    let zh = lang == Lang::Zh;
    let sheet = Sheet {
        name: format!("{}-{from}-{to}", if zh { "收入报表" } else { "revenue" }),
        title: lang.t("收入报表", "Revenue").to_owned(),
        headers: if zh {
            vec!["期间", "车场编号", "车场名称", "来源", "支付方式", "笔数", "金额（元）"]
        } else {
            vec!["period", "lot", "lot name", "source", "method", "count", "amount (yuan)"]
        },
        widths: vec![12, 14, 24, 10, 18, 8, 12],
    };
    let lines: Vec<Vec<Cell>> = rows
        .iter()
        .map(|t| {
            let source = if t.source == "lot" {
                lang.t("车场账单", "lot's bills")
            } else {
                lang.t("平台线上", "platform")
            };
            vec![
                Cell::Text(t.period.clone()),
                Cell::Text(t.parking_code.clone()),
                Cell::Text(name(&t.parking_code)),
                Cell::Text(source.to_owned()),
                Cell::Text(channel(lang, t)),
                Cell::Int(t.count),
                Cell::Fen(t.fen),
            ]
        })
        .collect();
    // A report's lines are few (periods × lots × channels): one batch.
    super::export::respond(format, sheet, one(lines))
}

fn one(lines: Vec<Vec<Cell>>) -> impl Stream<Item = Result<Vec<Vec<Cell>>, StoreError>> + Send {
    futures_util::stream::iter([Ok(lines)])
}
