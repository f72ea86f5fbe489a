//! Arrears (`/arrears`): the plates that owe, the most owed first, each
//! leading to its story (every open bill with its lot and stay); searched
//! by a part of the plate and the bills' dates, paged, exported. A lot
//! operator sees what is owed at its lots.

use onepark_web::xlsx::Cell;

use super::export::{Format, Sheet, list_link};
use super::records::date_range;
use super::*;
use crate::store::OwingQuery;

const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub(super) struct ArrearsParams {
    #[serde(default)]
    plate: String,
    #[serde(default)]
    page: i64,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

pub(super) async fn arrears(
    State(state): State<AppState>,
    v: Viewer,
    Query(p): Query<ArrearsParams>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let (from, to) = match date_range(&v, &p.from, &p.to, lang.t("欠费车辆", "Arrears"), "/arrears") {
        Ok(range) => range,
        Err(page) => return Ok(*page),
    };
    let page = p.page.clamp(0, 100_000);
    let part = p.plate.trim().to_uppercase();
    let lots = v.who.lot_filter();
    let mut query = OwingQuery {
        lots: lots.as_deref(),
        plate_part: &part,
        from: &from,
        to: &to,
        limit: PAGE + 1,
        offset: page * PAGE,
    };
    if let Some(format) = Format::parse(&p.format) {
        // The plates that owe are few and current: one batch.
        query.limit = 100_000;
        query.offset = 0;
        let owing = state.store().owing(&query).await?;
        return Ok(export(&state, lang, format, owing));
    }
    let mut owing = state.store().owing(&query).await?;
    let more = owing.len() as i64 > PAGE;
    owing.truncate(PAGE as usize);
    let filters = [("plate", p.plate.as_str()), ("from", &p.from), ("to", &p.to)];
    let link = |page: i64, format: &str| list_link("/arrears", &filters, page, format);
    let body = html! {
        h1 { (lang.t("欠费车辆", "Plates in arrears")) }
        div.card {
            form.inline method="get" action="/arrears" id="arrears-filter" {
                label.field { (lang.t("车牌（可输入部分）", "Plate (or a part)")) input name="plate" value=(p.plate) placeholder="B55298"; }
                label.field { (lang.t("账单从", "Billed from")) input type="date" name="from" value=(p.from); }
                label.field { (lang.t("到", "to")) input type="date" name="to" value=(p.to); }
                button type="submit" { (lang.t("查询", "Search")) }
                a.button.secondary href=(link(0, "xlsx")) id="arrears-xlsx" { "Excel" }
                a.button.secondary href=(link(0, "csv")) id="arrears-csv" { "CSV" }
            }
        }
        div.card.mt {
            @if owing.is_empty() { p.empty id="no-arrears" { (lang.t("没有欠费车辆", "No plate owes anything")) } }
            @else { div.scroll { table id="arrears" {
                thead { tr {
                    th { (lang.t("车牌", "Plate")) } th.num { (lang.t("欠费笔数", "Unpaid bills")) } th.num { (lang.t("欠费金额", "Owed")) }
                    th.num { (lang.t("涉及车场", "Lots")) } th { (lang.t("最早欠费", "Owed since")) }
                } }
                tbody { @for o in &owing {
                    tr data-plate=(o.plate_no) {
                        td.plate { a href=(format!("/plates?plate={}#arrears", encode(&o.plate_no))) { (o.plate_no) } }
                        td.num { (o.bills) } td.num { strong { (yuan(o.fen)) } } td.num { (o.lots) } td.muted { (o.since) }
                    }
                } }
            } } }
            p.pager {
                @if page > 0 { a href=(link(page - 1, "")) { (lang.t("上一页", "Previous")) } " " }
                @if more { a href=(link(page + 1, "")) id="arrears-next" { (lang.t("下一页", "Next")) } }
            }
        }
    };
    Ok(reply(&v, lang.t("欠费车辆", "Arrears"), "/arrears", body))
}

fn export(state: &AppState, lang: Lang, format: Format, owing: Vec<crate::store::Owing>) -> Response {
    let zh = lang == Lang::Zh;
    let sheet = Sheet {
        name: format!(
            "{}-{}",
            if zh { "欠费车辆" } else { "arrears" },
            format_time(state.now()).get(..10).unwrap_or("")
        ),
        title: lang.t("欠费车辆", "Arrears").to_owned(),
        headers: if zh {
            vec!["车牌", "欠费笔数", "欠费金额（元）", "涉及车场", "最早欠费"]
        } else {
            vec!["plate", "unpaid bills", "owed (yuan)", "lots", "owed since"]
        },
        widths: vec![12, 10, 14, 10, 20],
    };
    let rows: Vec<Vec<Cell>> = owing
        .into_iter()
        .map(|o| {
            vec![Cell::Text(o.plate_no), Cell::Int(o.bills), Cell::Fen(o.fen), Cell::Int(o.lots), Cell::Text(o.since)]
        })
        .collect();
    super::export::respond(format, sheet, futures_util::stream::iter([Ok(rows)]))
}
