//! What cloud lots report besides records (`/events`): the city's alarm
//! list (blacklisted cars, turned-back or lingering cars, barrier and device
//! faults), manual barrier lifts, booth notices and pre-exit bills, filtered
//! by kind and lot; the commands sent to lots over MQ with their answers;
//! each cloud lot's latest online report.

use onepark_web::xlsx::Cell;

use super::export::{Format, Sheet, keyset, list_link};
use super::records::date_range;
use super::*;
use crate::store::{EventSearch, LotEvent};

#[derive(Deserialize)]
pub(super) struct EventQuery {
    kind: Option<String>,
    lot: Option<String>,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    plate: String,
    #[serde(default)]
    page: i64,
    #[serde(default)]
    format: String,
}

const PAGE: i64 = 100;

const KINDS: [(&str, &str, &str); 22] = [
    ("alarm", "告警", "alarms"),
    ("lift", "手动抬闸", "manual lifts"),
    ("notice", "通知", "notices"),
    ("bill", "预进出场", "pre-entry/exit"),
    ("info", "车场信息", "lot info"),
    // What Bolink charging systems report besides records.
    ("staff", "收费员", "staff"),
    ("shift", "上下班", "shifts"),
    ("handover", "交接班", "handovers"),
    ("log", "日志", "logs"),
    ("plan", "月卡套餐", "card plans"),
    ("price", "价格", "prices"),
    ("lane", "通道", "lanes"),
    ("cartype", "车型", "car types"),
    ("confirm", "模糊匹配", "fuzzy matches"),
    ("storedvalue", "储值卡", "stored-value cards"),
    ("coupon", "优惠减免", "discounts"),
    ("invoice", "发票", "invoices"),
    ("internal", "内部车", "internal cars"),
    ("renewal", "月卡续费", "card renewals"),
    ("black", "黑名单", "blacklist"),
    ("forward", "平台转发", "forwarded"),
    ("correction", "业务纠正", "corrections"),
];

pub(super) fn kind_badge(lang: Lang, kind: &str) -> Markup {
    let (zh, en) = KINDS.iter().find(|k| k.0 == kind).map_or((kind, kind), |k| (k.1, k.2));
    let class = match kind {
        "alarm" => "badge bad",
        "lift" => "badge warn",
        _ => "badge",
    };
    html! { span class=(class) data-kind=(kind) { (lang.t(zh, en)) } }
}

pub(super) fn events_table(lang: Lang, events: &[LotEvent], with_lot: bool) -> Markup {
    html! {
        div.scroll { table.events {
            thead { tr {
                th { (lang.t("时间", "Time")) }
                @if with_lot { th { (lang.t("车场", "Lot")) } }
                th { (lang.t("类别", "Kind")) } th { (lang.t("内容", "What")) } th { (lang.t("车牌", "Plate")) }
            } }
            tbody { @for e in events {
                tr data-uuid=(e.uuid) {
                    td.muted { (e.event_time) }
                    @if with_lot { td { a href=(format!("/lots/{}", encode(&e.park_code))) { (e.park_code) } } }
                    td { (kind_badge(lang, &e.kind)) }
                    td { (e.summary) }
                    td.plate { @if let Some(p) = &e.plate_no { a href=(format!("/plates?plate={}", encode(p))) { (p) } } }
                }
            } }
        } }
    }
}

pub(super) async fn events(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<EventQuery>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let kind = q.kind.as_deref().filter(|k| crate::store::EVENT_KINDS.contains(k));
    let lot = q.lot.as_deref().map(str::trim).filter(|l| !l.is_empty());
    if let Some(lot) = lot {
        v.check(Need::Read, lot)?;
    }
    let (from, to) = match date_range(&v, &q.from, &q.to, lang.t("告警与事件", "Alarms"), "/events") {
        Ok(range) => range,
        Err(page) => return Ok(*page),
    };
    let page = q.page.clamp(0, 100_000);
    let search = EventSearch {
        lots: v.who.lot_filter(),
        park_code: lot.unwrap_or("").to_owned(),
        kind: kind.unwrap_or("").to_owned(),
        plate_part: q.plate.trim().to_uppercase(),
        from,
        to,
        before: None,
        limit: PAGE + 1,
        offset: page * PAGE,
    };
    if let Some(format) = Format::parse(&q.format) {
        return Ok(export(state, lang, format, search));
    }
    let mut events = state.store().find_events(&search).await?;
    let more = events.len() as i64 > PAGE;
    events.truncate(PAGE as usize);
    // A scoped viewer without a lot chosen: the commands of each of its lots, merged.
    let asked: Vec<Option<&str>> = match (&v.who.lots, lot) {
        (Some(mine), None) => mine.iter().map(|l| Some(l.as_str())).collect(),
        _ => vec![lot],
    };
    let mut commands = Vec::new();
    for lot in asked {
        commands.extend(
            state
                .store()
                .downlinks(lot, None, 200)
                .await?
                .into_iter()
                .filter(|d| d.protocol == onepark_domain::record::Protocol::Cloudpark.as_str()),
        );
    }
    commands.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    commands.truncate(30);
    let mut lots = state.store().cloud_lot_states().await?;
    lots.retain(|l| v.who.sees(&l.park_code));
    let now = format_time(state.now() - Duration::seconds(90));
    let filters = [
        ("kind", kind.unwrap_or("")),
        ("lot", lot.unwrap_or("")),
        ("from", &q.from),
        ("to", &q.to),
        ("plate", &q.plate),
    ];
    let link = |page: i64, format: &str| list_link("/events", &filters, page, format);
    let body = html! {
        h1 { (lang.t("告警与事件", "Alarms and events")) }
        div.card {
            form.inline method="get" action="/events" id="event-filter" {
                label.field { (lang.t("类别", "Kind")) select name="kind" {
                    option value="" { (lang.t("全部", "all")) }
                    @for (name, zh, en) in KINDS { option value=(name) selected[kind == Some(name)] { (lang.t(zh, en)) } }
                } }
                label.field { (lang.t("车场编号", "Lot code")) input name="lot" value=(lot.unwrap_or("")) placeholder="TEST/1P1"; }
                label.field { (lang.t("从", "From")) input type="date" name="from" value=(q.from); }
                label.field { (lang.t("到", "To")) input type="date" name="to" value=(q.to); }
                label.field { (lang.t("车牌（可输入部分）", "Plate (or a part)")) input name="plate" value=(q.plate); }
                button type="submit" { (lang.t("筛选", "Filter")) }
                a.button.secondary href=(link(0, "xlsx")) id="events-xlsx" { "Excel" }
                a.button.secondary href=(link(0, "csv")) id="events-csv" { "CSV" }
            }
            @if events.is_empty() { p.empty id="no-events" { (lang.t("暂无告警或事件", "No alarms or events")) } }
            @else { div id="events" { (events_table(lang, &events, true)) } }
            p.pager {
                @if page > 0 { a href=(link(page - 1, "")) { (lang.t("上一页", "Newer")) } " " }
                @if more { a href=(link(page + 1, "")) id="events-next" { (lang.t("下一页", "Older")) } }
            }
        }
        div.grid.mt {
            div.card.span-4 {
                h2 { (lang.t("云平台车场在线状态", "Cloud lots online")) }
                @if lots.is_empty() { p.empty { (lang.t("尚无车场经 MQ 上报", "No lot has reported over MQ yet")) } }
                @else { div.scroll { table id="cloud-lots" { tbody { @for l in &lots { tr {
                    td { a href=(format!("/lots/{}", encode(&l.park_code))) { (l.park_code) } }
                    td { (online_badge(lang, l.seen_at >= now)) }
                    td.muted { (l.seen_at) }
                } } } } } }
            }
            div.card.span-8 {
                h2 { (lang.t("最近指令", "Latest commands")) }
                @if commands.is_empty() { p.empty { (lang.t("尚未下发指令", "No commands yet")) } }
                @else { div.scroll { table id="commands" { tbody { @for d in &commands { tr {
                    td.muted { (d.created_at) }
                    td { (d.parking_code) }
                    td { code { (d.interface) } " " (d.subject) }
                    td { (delivery_badge(lang, Some(d.state))) }
                    td.muted { (d.confirm_reason.as_deref().unwrap_or("")) }
                } } } } } }
            }
        }
    };
    Ok(reply(&v, lang.t("告警与事件", "Alarms and events"), "/events", body))
}

/// The search's events as CSV or Excel, by key, newest first.
fn export(state: AppState, lang: Lang, format: Format, mut search: EventSearch) -> Response {
    search.limit = 2000;
    search.offset = 0;
    let zh = lang == Lang::Zh;
    let sheet = Sheet {
        name: format!(
            "{}-{}",
            if zh { "告警与事件" } else { "events" },
            format_time(state.now()).get(..10).unwrap_or("")
        ),
        title: lang.t("告警与事件", "Alarms and events").to_owned(),
        headers: if zh {
            vec!["时间", "车场编号", "类别", "内容", "车牌", "通道", "收到时间"]
        } else {
            vec!["time", "lot", "kind", "what", "plate", "lane", "received"]
        },
        widths: vec![20, 14, 12, 40, 12, 10, 20],
    };
    let row = move |e: &LotEvent| -> Vec<Cell> {
        let kind = KINDS.iter().find(|k| k.0 == e.kind).map_or(e.kind.as_str(), |k| lang.t(k.1, k.2));
        let plate = e.plate_no.as_deref().unwrap_or("");
        let lane = e.channel.as_deref().unwrap_or("");
        [e.event_time.as_str(), &e.park_code, kind, &e.summary, plate, lane, &e.received_at]
            .iter()
            .map(|t| Cell::Text((*t).to_owned()))
            .collect()
    };
    let batches = keyset(
        state,
        search,
        2000,
        |state: AppState, q: EventSearch| async move {
            let rows = state.store().find_events(&q).await;
            (q, rows)
        },
        |q, e: &LotEvent| q.before = Some((e.event_time.clone(), e.uuid.clone())),
        row,
    );
    super::export::respond(format, sheet, batches)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_kind_has_its_label() {
        let labelled: Vec<&str> = super::KINDS.iter().map(|k| k.0).collect();
        assert_eq!(labelled, crate::store::EVENT_KINDS);
    }
}
