//! A lot's page (`/lots/{code}`): its state, berths through the day, its
//! records, photos, lists and (a cloud lot) its alarms and events.

use super::city::{day_ticks, minutes};
use super::*;

pub(super) async fn lot(
    State(state): State<AppState>,
    v: Viewer,
    Path(code): Path<String>,
) -> Result<Response, Refused> {
    v.check(Need::Read, &code)?;
    Ok(match lot_body(&state, v.lang, &code).await? {
        Some((title, body)) => reply(&v, title.as_str(), "", body),
        None => (
            StatusCode::NOT_FOUND,
            reply(
                &v,
                "404",
                "",
                html! {
                    div.card { p { (v.lang.t("没有这个车场：", "No such lot: ")) (code) } }
                },
            ),
        )
            .into_response(),
    })
}

pub(super) async fn lot_body(state: &AppState, lang: Lang, code: &str) -> Result<Option<(String, Markup)>, StoreError> {
    let o = overview(state).await?;
    let Some(l) = o.lots.iter().find(|l| l.parking_code == code) else { return Ok(None) };
    let store = state.store();
    let now = state.now();
    let today = now.date();
    let from = format!("{today} 00:00:00");
    let points = store.berth_series(code, &from, &format_time(now + Duration::minutes(1))).await?;
    let query = RecordQuery {
        parking_code: code.to_owned(),
        plate_no: String::new(),
        from: "0000-01-01 00:00:00".into(),
        to: "9999-12-31 23:59:59".into(),
        limit: 15,
        offset: 0,
    };
    let records = store.search(&query).await?;
    let uids: Vec<String> = records.iter().map(|r| r.uid.clone()).collect();
    let mut photos: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let since = records.iter().map(|r| r.arrive_time.as_str()).min().unwrap_or_default();
    for (uid, photo_id) in store.photos_of(code, since, &uids).await? {
        photos.entry(uid).or_default().push(photo_id);
    }
    let days: Vec<NaiveDate> = [today.pred_opt(), Some(today)].into_iter().flatten().collect();
    let mut reconciliation = Vec::new();
    for day in &days {
        reconciliation.push((*day, store.day_counts(code, *day).await?, store.latest_check(code, *day).await?));
    }
    let cutoff = format_time(now - Duration::days(7));
    let quality = store.quality(code, today, &cutoff).await?;
    let entries = store.list_entries(Some(code), None).await?;
    let events = store.lot_events(Some(code), None, 10).await?;
    // A Bolink lot's lanes have QR codes (no-plate entry, pay to exit).
    let bolink = match state.lot(&l.access_id).await? {
        Some(lot) if lot.protocol() == onepark_domain::record::Protocol::Bolink => Some(store.entry_lanes(code).await?),
        _ => None,
    };
    let title = name(l).to_owned();
    // One point per minute at most (berth states also come with every record).
    let mut series: Vec<(f64, f64)> = Vec::new();
    let mut free: Vec<(f64, f64)> = Vec::new();
    for p in &points {
        let Some(m) = minutes(p.at.get(11..16).unwrap_or_default()) else { continue };
        if series.last().is_some_and(|(x, _)| *x == m) {
            continue;
        }
        series.push((m, (p.open - p.free) as f64));
        free.push((m, p.free as f64));
    }
    let axes = Axes {
        x_min: 0.0,
        x_max: 24.0 * 60.0,
        x_ticks: day_ticks(),
        y_max: l.open_berths.unwrap_or(0) as f64,
        y_unit: "",
    };
    let body = html! {
        h1 { (title) " " (online_badge(lang, l.online)) span.muted { " · " (l.parking_code) " · accessID " (l.access_id) } }
        @if let Some(address) = &l.address { p.muted { (address) } }
        div.grid {
            (stat(lang.t("空余泊位", "Free berths"), &l.free_berths.unwrap_or(0).to_string(),
                &format!("{} {}", lang.t("开放", "open"), l.open_berths.unwrap_or(0)), "stat-free"))
            (stat(lang.t("今日入场", "Entries today"), &l.entries_today.to_string(), "", "stat-entries"))
            (stat(lang.t("今日出场", "Exits today"), &l.exits_today.to_string(), "", "stat-exits"))
            (stat(lang.t("今日在线率", "Online today"), &format!("{:.1}%", l.online_rate_today * 100.0),
                &format!("{} {}", lang.t("最近上报", "last heard"), l.last_seen), "stat-online"))
            div.card.span-8 {
                h2 { (lang.t("今日泊位", "Berths today")) }
                (chart::line(lang.t("今日泊位", "Berths today"), &axes, &[
                    Series { name: lang.t("占用", "occupied"), class: "s1", points: series, area: true },
                    Series { name: lang.t("空余", "free"), class: "s2", points: free, area: false },
                ]))
            }
            div.card.span-4 {
                h2 { (lang.t("今日数据质量", "Data quality today")) }
                table {
                    tr { td { (lang.t("记录", "records")) } td.num { (quality.records) } }
                    tr { td { (lang.t("迟报（>5 秒）", "late (> 5 s)")) } td.num { (quality.late) } }
                    tr { td { (lang.t("车牌无效", "invalid plates")) } td.num { (quality.invalid_plates) } }
                    tr { td { (lang.t("无入场的出场", "exits without entry")) } td.num { (quality.exits_without_entry) } }
                    tr { td { (lang.t("超 7 天未出场", "open > 7 days")) } td.num { (quality.entries_open_too_long) } }
                }
            }
            div.card.span-12 {
                h2 { (lang.t("最近进出", "Latest stays")) }
                div.scroll { table id="records" {
                    thead { tr {
                        th { (lang.t("车牌", "Plate")) } th { (lang.t("入场", "Entered")) } th { (lang.t("出场", "Left")) }
                        th.num { (lang.t("应收", "Due")) } th { (lang.t("照片", "Photos")) }
                    } }
                    tbody { @for r in &records { tr {
                        td { a.plate href=(format!("/plates?plate={}", r.plate_no)) { (r.plate_no) }
                            @if r.deleted { " " span.badge.off { (lang.t("已删除", "deleted")) } } }
                        td { (r.arrive_time) }
                        td { (r.end_time.as_deref().unwrap_or("—")) }
                        td.num { (r.should_pay.map(yuan).unwrap_or_default()) }
                        td { div.photos { @for id in photos.get(&r.uid).map(Vec::as_slice).unwrap_or_default() {
                            a href=(format!("/photos/{code}/{id}")) { img loading="lazy" alt=(r.plate_no) src=(format!("/photos/{code}/{id}")); }
                        } } }
                    } } }
                } }
            }
            div.card.span-6 {
                h2 { (lang.t("对账", "Reconciliation")) }
                table {
                    thead { tr { th { (lang.t("日期", "Day")) } th.num { (lang.t("入/出", "In/out")) } th.num { (lang.t("照片", "Photos")) }
                        th.num { (lang.t("收费", "Takings")) } th { (lang.t("车场对账", "Lot's check")) } } }
                    tbody { @for (day, counts, check) in &reconciliation { tr {
                        td { (day) }
                        td.num { (counts.arrive) " / " (counts.leave) }
                        td.num { (counts.photo) }
                        td.num { (yuan(counts.pay_total)) " (" (counts.pay_num) ")" }
                        td { @match check {
                            // The marks are the spec's: 0 agrees, else what differs.
                            Some(c) if c.account_mark == 0 && c.photo_mark == 0 => span.badge.ok { (lang.t("一致", "balanced")) },
                            Some(_) => span.badge.bad { (lang.t("不一致", "differs")) },
                            None => span.muted { (lang.t("未上报", "not sent")) },
                        } }
                    } } }
                }
            }
            @if !events.is_empty() {
                div.card.span-12 id="lot-events" {
                    h2 { (lang.t("告警与事件", "Alarms and events")) " " a.muted href=(format!("/events?lot={}", encode(code))) { (lang.t("全部", "all")) } }
                    (super::events::events_table(lang, &events, false))
                }
            }
            @if let Some(lanes) = &bolink {
                div.card.span-6 id="lane-codes" {
                    h2 { (lang.t("车道二维码", "Lane QR codes")) }
                    p.muted { (lang.t("打印后贴在车道：无牌车扫入口码入场，扫出口码缴费出场。", "Print and post at the lanes: no-plate drivers scan the entrance code to enter, the exit code to pay and leave.")) }
                    @if !lanes.is_empty() { table { tbody { @for lane in lanes { tr {
                        td { (lang.t("入口 ", "entrance ")) strong { (lane) } }
                        td { a href=(format!("/lots/{}/qr?lane={}&dir=in", encode(code), encode(lane))) { (lang.t("入口码", "entrance code")) } }
                    } } } } }
                    form.inline method="get" action=(format!("/lots/{}/qr", encode(code))) {
                        input name="lane" required maxlength="24" placeholder=(lang.t("车道编号", "lane id"));
                        select name="dir" { option value="in" { (lang.t("入口", "entrance")) } option value="out" { (lang.t("出口", "exit")) } }
                        button.button type="submit" { (lang.t("生成二维码", "Show the code")) }
                    }
                }
            }
            div.card.span-6 {
                h2 { (lang.t("黑白名单", "Lists")) }
                @if entries.is_empty() { p.empty { (lang.t("无名单记录", "No list entries")) } }
                @else { table { tbody { @for (e, delivery) in &entries { tr {
                    td.plate { (e.plate_no) }
                    td { (list_name(lang, e.list_kind)) @if e.deleted { " " span.badge.off { (lang.t("已移除", "removed")) } } }
                    td { (e.start_time) " ~ " (e.end_time) }
                    td { (delivery_badge(lang, *delivery)) }
                } } } } }
            }
        }
    };
    Ok(Some((title, body)))
}
