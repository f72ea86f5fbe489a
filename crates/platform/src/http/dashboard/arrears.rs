//! Arrears (`/arrears`): the plates that owe, the most owed first, each
//! leading to its story (every open bill with its lot and stay); searched
//! by a part of the plate, paged. A lot operator sees what is owed at its lots.

use super::*;

const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub(super) struct ArrearsParams {
    #[serde(default)]
    plate: String,
    #[serde(default)]
    page: i64,
}

pub(super) async fn arrears(
    State(state): State<AppState>,
    v: Viewer,
    Query(p): Query<ArrearsParams>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let page = p.page.clamp(0, 100_000);
    let part = p.plate.trim().to_uppercase();
    let lots = v.who.lot_filter();
    let mut owing = state.store().owing(lots.as_deref(), &part, PAGE + 1, page * PAGE).await?;
    let more = owing.len() as i64 > PAGE;
    owing.truncate(PAGE as usize);
    let link = |page: i64| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if !p.plate.is_empty() {
            q.append_pair("plate", &p.plate);
        }
        q.append_pair("page", &page.to_string());
        format!("/arrears?{}", q.finish())
    };
    let body = html! {
        h1 { (lang.t("欠费车辆", "Plates in arrears")) }
        div.card {
            form.inline method="get" action="/arrears" id="arrears-filter" {
                label.field { (lang.t("车牌（可输入部分）", "Plate (or a part)")) input name="plate" value=(p.plate) placeholder="B55298"; }
                button type="submit" { (lang.t("查询", "Search")) }
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
                @if page > 0 { a href=(link(page - 1)) { (lang.t("上一页", "Previous")) } " " }
                @if more { a href=(link(page + 1)) id="arrears-next" { (lang.t("下一页", "Next")) } }
            }
        }
    };
    Ok(reply(&v, lang.t("欠费车辆", "Arrears"), "/arrears", body))
}
