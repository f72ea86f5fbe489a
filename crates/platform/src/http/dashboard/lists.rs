//! Black/white lists (`/lists`): every entry with each lot's confirmation,
//! and the form that changes them.

use super::*;

#[derive(Deserialize)]
pub(super) struct ListsQuery {
    notice: Option<String>,
    error: Option<String>,
}

pub(super) async fn lists(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<ListsQuery>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let (mut entries, mut lots) = (state.store().list_entries(None, None).await?, state.store().lot_statuses().await?);
    // A scoped viewer sees and changes its lots' copies only.
    entries.retain(|(e, _)| v.who.sees(&e.parking_code));
    lots.retain(|l| v.who.sees(&l.parking_code));
    let may_change = v.who.may(Need::Change);
    let every = if v.who.city_wide() {
        lang.t("全部车场", "every lot")
    } else {
        lang.t("我的全部车场", "all my lots")
    };
    // One row per plate and list; each lot's copy under it.
    let mut rows: BTreeMap<(String, i64), Vec<LotCopy>> = BTreeMap::new();
    for (e, delivery) in &entries {
        rows.entry((e.plate_no.clone(), e.list_kind))
            .or_default()
            .push(LotCopy { entry: e.clone(), delivery: *delivery });
    }
    // Entries every lot has removed (and confirmed) leave the list for the "removed" part.
    let removed =
        |copies: &[LotCopy]| copies.iter().all(|c| c.entry.deleted && c.delivery == Some(DownlinkState::Confirmed));
    let names: BTreeMap<String, String> = super::records::lot_choices(&state, &v).await?.into_iter().collect();
    let now = state.now();
    let body = html! {
        h1 { (lang.t("黑白名单", "Black and white lists")) }
        @if let Some(n) = &q.notice { div.notice id="notice" { (n) } }
        @if let Some(e) = &q.error { div.notice.bad id="notice" { (e) } }
        @if may_change { div.card {
            h2 { (lang.t("新增名单", "Add an entry")) }
            form.inline method="post" action="/lists" id="add-list" {
                (v.csrf())
                input type="hidden" name="operate" value="add";
                label.field { (lang.t("车牌号", "Plate")) input name="plate" required placeholder="鲁B12345"; }
                label.field { (lang.t("名单", "List")) select name="list" {
                    option value="black" { (lang.t("黑名单", "black")) } option value="white" { (lang.t("白名单", "white")) } } }
                label.field { (lang.t("车场", "Lots")) select name="lot" {
                    option value="" { (every) }
                    @for l in &lots { option value=(l.parking_code) { (l.parking_code) } } } }
                label.field { (lang.t("开始", "From")) input name="start" value=(format_time(now.with_second(0).unwrap_or(now))); }
                label.field { (lang.t("结束", "Until")) input name="end" value=(format_time(now.with_second(0).unwrap_or(now) + Duration::days(365))); }
                label.field { (lang.t("备注", "Remark")) input name="remark" maxlength="50"; }
                button type="submit" { (lang.t("下发", "Send")) }
            }
        } }
        div.card.mt {
            h2 { (lang.t("名单与各车场确认", "Entries and each lot's confirmation")) }
            @if rows.values().all(|c| removed(c)) { p.empty { (lang.t("暂无名单", "No entries yet")) } }
            @else { div.scroll { table id="list-entries" {
                thead { tr {
                    th { (lang.t("车牌", "Plate")) } th { (lang.t("名单", "List")) } th { (lang.t("有效期", "Valid")) }
                    th { (lang.t("备注", "Remark")) } th { (lang.t("各车场下发", "Delivery to the lots")) } th {}
                } }
                tbody { @for ((plate, kind), copies) in rows.iter().filter(|(_, c)| !removed(c)) {
                    @let live: Vec<&LotCopy> = copies.iter().filter(|c| !c.entry.deleted).collect();
                    @let first = live.first().copied().unwrap_or(&copies[0]);
                    @let same = live.iter().all(|c| c.entry.start_time == first.entry.start_time && c.entry.end_time == first.entry.end_time);
                    tr data-plate=(plate) {
                        td.plate { a href=(format!("/plates?plate={}", encode(plate))) { (plate) } }
                        td { (list_name(lang, *kind)) }
                        td.muted { @if same { (first.entry.start_time.get(..16).unwrap_or(&first.entry.start_time)) " – " (first.entry.end_time.get(..16).unwrap_or(&first.entry.end_time)) }
                            @else { (lang.t("各车场不同", "differs by lot")) } }
                        td { (first.entry.remark.as_deref().unwrap_or("")) }
                        td { details.lot-states {
                            summary { (summary(lang, copies)) }
                            ul { @for c in copies {
                                li.lot-state data-code=(c.entry.parking_code) {
                                    (names.get(&c.entry.parking_code).map_or(c.entry.parking_code.as_str(), String::as_str)) " "
                                    @if c.entry.deleted { span.badge.off { (lang.t("移除", "removal")) } " " }
                                    (delivery_badge(lang, c.delivery))
                                }
                            } }
                        } }
                        td { @if may_change && !live.is_empty() {
                            form method="post" action="/lists" data-confirm=(format!("{} {} {} {plate}？",
                                lang.t("确认从", "Remove from"), live.len(), lang.t("个车场移除", "lot(s):"))) {
                                (v.csrf())
                                input type="hidden" name="operate" value="delete";
                                input type="hidden" name="plate" value=(plate);
                                input type="hidden" name="list" value=(if *kind == BLACK { "black" } else { "white" });
                                button.danger type="submit" { (lang.t("移除", "Remove")) }
                            }
                        } }
                    }
                } }
            } } }
            @let gone: Vec<(&(String, i64), &Vec<LotCopy>)> = rows.iter().filter(|(_, c)| removed(c)).collect();
            @if !gone.is_empty() {
                details.mt id="removed-entries" {
                    summary { (lang.t("已移除的名单", "Removed entries")) " (" (gone.len()) ")" }
                    table { tbody { @for ((plate, kind), copies) in &gone { tr data-plate=(plate) {
                        td.plate { (plate) } td { (list_name(lang, *kind)) }
                        td.muted { (lang.t("移除于 ", "removed ")) (copies.iter().map(|c| c.entry.operate_time.as_str()).max().unwrap_or("")) }
                        td { (copies.len()) (lang.t(" 个车场已确认", " lot(s) confirmed")) }
                    } } } }
                }
            }
        }
    };
    Ok(reply(&v, lang.t("黑白名单", "Lists"), "/lists", body))
}

/// One lot's copy of a list entry (its latest version) and the delivery of
/// the message carrying it.
struct LotCopy {
    entry: crate::store::ListEntry,
    delivery: Option<DownlinkState>,
}

/// The lots' delivery states at a glance: how many lots are in each.
/// (`已确认 3 · 排队中 1`: lots confirmed, lots queued).
fn summary(lang: Lang, copies: &[LotCopy]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in copies {
        let state = match c.delivery {
            Some(DownlinkState::Confirmed) => lang.t("已确认", "confirmed"),
            Some(DownlinkState::Published) => lang.t("已下发", "published"),
            Some(DownlinkState::Queued) => lang.t("排队中", "queued"),
            Some(DownlinkState::Expired) => lang.t("已过期", "expired"),
            Some(DownlinkState::Refused) => lang.t("车场拒绝", "refused"),
            None => "—",
        };
        *counts.entry(state).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(state, n)| format!("{state} {n}")).collect();
    parts.join(" · ")
}

#[derive(Deserialize)]
pub(super) struct ListForm {
    operate: String,
    plate: String,
    list: String,
    #[serde(default)]
    lot: String,
    start: Option<String>,
    end: Option<String>,
    remark: Option<String>,
}

/// The list form: one change per accessID of the chosen lots (every lot,
/// or one), through the admin API's own validation and downlinks.
pub(super) async fn change_list(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<ListForm>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let add = f.operate == "add";
    let black = f.list != "white";
    let plate = f.plate.trim().to_owned();
    let mut by_access: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if !f.lot.is_empty() {
        v.check(Need::Change, &f.lot)?;
    }
    let chosen = |code: &str| if f.lot.is_empty() { v.who.sees(code) } else { code == f.lot };
    for lot in state.store().lot_statuses().await?.into_iter().filter(|l| chosen(&l.parking_code)) {
        by_access.entry(lot.access_id).or_default().push(lot.parking_code);
    }
    if !add {
        // A removal goes to the lots where the entry is live.
        let kind = if black { BLACK } else { WHITE };
        let live = state.store().list_entries(None, Some(&stored_plate(&plate))).await?;
        for codes in by_access.values_mut() {
            codes.retain(|c| live.iter().any(|(e, _)| e.parking_code == *c && e.list_kind == kind && !e.deleted));
        }
        by_access.retain(|_, codes| !codes.is_empty());
    }
    let mut sent = 0;
    let mut errors = Vec::new();
    for (access_id, codes) in by_access {
        let mut change = crate::city::lists::Change::new(&access_id, codes, &plate, black, add);
        if add {
            let remark = f.remark.clone().filter(|r| !r.trim().is_empty());
            change = change.during(f.start.clone().unwrap_or_default(), f.end.clone().unwrap_or_default(), remark);
        }
        match crate::city::lists::apply(&state, &v.who, change).await {
            Ok(reply) => sent += reply.lots(),
            Err(e) => errors.push(e.message().to_owned()),
        }
    }
    let query = if let Some(first) = errors.first() {
        format!("error={}", encode(&format!("{}{first}", lang.t("未下发：", "not sent: "))))
    } else if sent == 0 {
        format!("error={}", encode(lang.t("没有可下发的车场", "no lot to send it to")))
    } else {
        let verb = if add { lang.t("已下发", "sent") } else { lang.t("已下发移除", "removal sent") };
        format!(
            "notice={}",
            encode(&format!("{plate} {verb} → {sent} {}", lang.t("个车场，等待确认", "lots; confirmations follow")))
        )
    };
    Ok(Redirect::to(&format!("/lists?{query}")).into_response())
}
