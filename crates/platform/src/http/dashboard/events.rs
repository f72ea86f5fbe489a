//! What cloud lots report besides records (`/events`): the city's alarm
//! list (blacklisted cars, turned-back or lingering cars, barrier and device
//! faults), manual barrier lifts, booth notices and pre-exit bills, filtered
//! by kind and lot; the commands sent to lots over MQ with their answers;
//! each cloud lot's latest online report.

use super::*;
use crate::store::LotEvent;

#[derive(Deserialize)]
pub(super) struct EventQuery {
    kind: Option<String>,
    lot: Option<String>,
}

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
    // A scoped viewer without a lot chosen: each of its lots, merged.
    let asked: Vec<Option<&str>> = match (&v.who.lots, lot) {
        (Some(mine), None) => mine.iter().map(|l| Some(l.as_str())).collect(),
        _ => vec![lot],
    };
    let mut events = Vec::new();
    let mut commands = Vec::new();
    for lot in asked {
        events.extend(state.store().lot_events(lot, kind, 200).await?);
        commands.extend(
            state
                .store()
                .downlinks(lot, None, 200)
                .await?
                .into_iter()
                .filter(|d| d.protocol == onepark_domain::record::Protocol::Cloudpark.as_str()),
        );
    }
    events.sort_by(|a, b| b.event_time.cmp(&a.event_time));
    events.truncate(200);
    commands.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    commands.truncate(30);
    let mut lots = state.store().cloud_lot_states().await?;
    lots.retain(|l| v.who.sees(&l.park_code));
    let now = format_time(state.now() - Duration::seconds(90));
    let body = html! {
        h1 { (lang.t("告警与事件", "Alarms and events")) }
        div.card {
            form.inline method="get" action="/events" id="event-filter" {
                label.field { (lang.t("类别", "Kind")) select name="kind" {
                    option value="" { (lang.t("全部", "all")) }
                    @for (name, zh, en) in KINDS { option value=(name) selected[kind == Some(name)] { (lang.t(zh, en)) } }
                } }
                label.field { (lang.t("车场编号", "Lot code")) input name="lot" value=(lot.unwrap_or("")) placeholder="TEST/1P1"; }
                button type="submit" { (lang.t("筛选", "Filter")) }
            }
            @if events.is_empty() { p.empty id="no-events" { (lang.t("暂无告警或事件", "No alarms or events")) } }
            @else { div id="events" { (events_table(lang, &events, true)) } }
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_kind_has_its_label() {
        let labelled: Vec<&str> = super::KINDS.iter().map(|k| k.0).collect();
        assert_eq!(labelled, crate::store::EVENT_KINDS);
    }
}
