//! A plate across the city (`/plates`): its stays, photos and list entries.

use super::*;

#[derive(Deserialize)]
pub(super) struct PlateQuery {
    plate: Option<String>,
}

pub(super) async fn plates(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<PlateQuery>,
) -> Result<Response, Refused> {
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
        let mut records = state.store().search(&query).await?;
        let mut entries = state.store().list_entries(None, Some(&normal)).await?;
        // A scoped viewer sees the plate at its lots only.
        records.retain(|r| v.who.sees(&r.parking_code));
        entries.retain(|(e, _)| v.who.sees(&e.parking_code));
        (records, entries)
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
