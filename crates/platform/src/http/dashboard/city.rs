//! The city page (`/`): the day's figures, money, every lot's state, the
//! occupancy chart and the map.

use super::*;

/// The overview: the whole city, or the viewer's lots.
pub(super) async fn city(State(state): State<AppState>, v: Viewer) -> Result<Response, Refused> {
    let mut o = overview(&state).await?;
    let mut money = state.store().money_today(state.now().date()).await?;
    if let Some(lots) = &v.who.lots {
        o = o.only(lots);
        money = money.only(lots);
    }
    Ok(reply(&v, v.lang.t("全市概览", "City overview"), "/", city_body(v.lang, &o, &money, v.who.city_wide())))
}

/// Today's takings by channel and what is owed or undecided per lot.
pub(super) fn money_cards(lang: Lang, m: &crate::store::MoneyDay, o: &Overview, city_wide: bool) -> Markup {
    let total: i64 = m.takings.iter().map(|t| t.3).sum();
    let mut codes: Vec<&str> =
        m.arrears.iter().map(|a| a.0.as_str()).chain(m.pending.iter().map(|p| p.0.as_str())).collect();
    codes.sort_unstable();
    codes.dedup();
    let lot_name = |code: &str| {
        o.lots.iter().find(|l| l.parking_code == code).and_then(|l| l.name.clone()).unwrap_or_else(|| code.to_owned())
    };
    let purpose = |p: &str| -> String {
        match p {
            "exit" => lang.t("出口无感扣费", "no-stop at the exit"),
            "prepay" => lang.t("场内缴费", "paid in the lot"),
            "after_leave" => lang.t("先离场后付费", "after leaving"),
            "arrears" => lang.t("欠费补缴", "arrears"),
            other => other,
        }
        .to_owned()
    };
    html! {
        @if city_wide { div.card.span-6 id="takings" {
            h2 { (lang.t("今日线上收款", "Online takings today")) " " span.muted { (yuan(total)) } }
            @if m.takings.is_empty() { p.empty { (lang.t("今天还没有线上收款", "No online payment today yet")) } }
            @else { table {
                thead { tr { th { (lang.t("渠道", "Channel")) } th { (lang.t("场景", "Kind")) } th.num { (lang.t("笔数", "Count")) } th.num { (lang.t("金额", "Amount")) } } }
                tbody { @for (channel, p, n, fen) in &m.takings { tr {
                    td { (channel) } td { (purpose(p)) } td.num { (n) } td.num { (yuan(*fen)) }
                } } }
            } }
        } }
        div.card.span-6 id="owed" {
            h2 { (lang.t("欠费与待定扣款", "Arrears and undecided charges")) }
            @if m.arrears.is_empty() && m.pending.is_empty() { p.empty { (lang.t("没有欠费", "Nothing owed")) } }
            @else { table {
                thead { tr { th { (lang.t("车场", "Lot")) } th.num { (lang.t("欠费笔数", "Unpaid bills")) } th.num { (lang.t("欠费金额", "Owed")) } th.num { (lang.t("待定扣款", "Undecided")) } } }
                tbody {
                    @for code in &codes {
                        @let owed = m.arrears.iter().find(|a| a.0 == *code);
                        @let pending = m.pending.iter().find(|p| p.0 == *code);
                        tr data-code=(code) {
                            td { (if code.is_empty() { lang.t("全市补缴", "city-wide").to_owned() } else { lot_name(code) }) }
                            td.num { (owed.map_or(0, |a| a.1)) }
                            td.num { (yuan(owed.map_or(0, |a| a.2))) }
                            td.num { (pending.map_or(0, |p| p.1)) }
                        }
                    }
                }
            } }
        }
    }
}

pub(super) fn city_body(lang: Lang, o: &Overview, money: &crate::store::MoneyDay, city_wide: bool) -> Markup {
    let c = &o.city;
    let occupied = c.open_berths - c.free_berths;
    let mut lots: Vec<&LotOverview> = o.lots.iter().collect();
    // What needs attention first, then by name.
    lots.sort_by_key(|l| (l.warnings.is_empty(), l.parking_code.clone()));
    let warned: Vec<&LotOverview> = lots.iter().copied().filter(|l| !l.warnings.is_empty()).collect();
    html! {
        h1 { (lang.t("全市概览", "City overview")) span.muted { " · " (o.now) } }
        div.grid {
            (stat(lang.t("在线车场", "Lots online"), &format!("{} / {}", c.online, c.lots), "", "stat-online"))
            (stat(lang.t("空余泊位", "Free berths"), &c.free_berths.to_string(),
                &format!("{} {} · {} {}%", lang.t("开放", "open"), c.open_berths, lang.t("占用", "occupied"), percent(occupied, c.open_berths)), "stat-free"))
            (stat(lang.t("今日入场", "Entries today"), &c.entries_today.to_string(), "", "stat-entries"))
            (stat(lang.t("今日出场", "Exits today"), &c.exits_today.to_string(), "", "stat-exits"))
            div.card.span-8 {
                h2 { (lang.t("今日全市泊位占用率", "The city's occupancy today")) }
                (occupancy_chart(lang, o))
            }
            div.card.span-4 {
                h2 { (lang.t("需要关注", "Needs attention")) }
                @if warned.is_empty() && c.downlinks_overdue == 0 {
                    p.empty { (lang.t("一切正常", "All well")) }
                }
                ul.warnings id="warnings" {
                    @if c.downlinks_overdue > 0 {
                        li { span.badge.warn { (lang.t("下发超时", "Overdue")) } " "
                            (c.downlinks_overdue) (lang.t(" 条下发未在时限内确认", " downlinks not confirmed in time")) }
                    }
                    @for l in &warned {
                        li { a href=(format!("/lots/{}", l.parking_code)) { (name(l)) } " "
                            @for w in &l.warnings { (warning_badge(lang, *w, l)) " " } }
                    }
                }
            }
            div.card.span-5 {
                h2 { (lang.t("车场分布", "Lots on the map")) }
                (city_map(lang, &o.lots))
            }
            div.card.span-7 {
                h2 { (lang.t("车场", "Lots")) }
                div.scroll { table id="lots" {
                    thead { tr {
                        th { (lang.t("车场", "Lot")) }
                        th { (lang.t("状态", "State")) }
                        th.num { (lang.t("空余/开放", "Free/open")) }
                        th { (lang.t("占用", "Occupied")) }
                        th.num { (lang.t("入场", "In")) }
                        th.num { (lang.t("出场", "Out")) }
                    } }
                    tbody {
                        @for l in &lots {
                            tr data-code=(l.parking_code) {
                                td { a href=(format!("/lots/{}", l.parking_code)) { (name(l)) } br; span.muted { (l.parking_code) } }
                                td { (online_badge(lang, l.online)) }
                                td.num.free { (l.free_berths.unwrap_or(0)) " / " (l.open_berths.unwrap_or(0)) }
                                td { (bar(l.open_berths.unwrap_or(0) - l.free_berths.unwrap_or(0), l.open_berths.unwrap_or(0))) }
                                td.num.entries { (l.entries_today) }
                                td.num.exits { (l.exits_today) }
                            }
                        }
                    }
                } }
                @if lots.is_empty() { p.empty { (lang.t("还没有车场上报数据。", "No lot has reported yet.")) } }
            }
            (money_cards(lang, money, o, city_wide))
        }
    }
}

pub(super) fn bar(part: i64, whole: i64) -> Markup {
    let p = percent(part, whole).clamp(0, 100);
    let class = if p >= 95 {
        "bar full"
    } else if p >= 80 {
        "bar hot"
    } else {
        "bar"
    };
    html! {
        svg class=(class) viewBox="0 0 100 6" preserveAspectRatio="none" role="img" aria-label=(format!("{p}%")) {
            title { (p) "%" }
            rect width=(p) height="6" {}
        }
    }
}

pub(super) fn day_ticks() -> Vec<(f64, String)> {
    (0..=24).step_by(3).map(|h| (f64::from(h) * 60.0, format!("{h:02}:00"))).collect()
}

pub(super) fn minutes(hhmm: &str) -> Option<f64> {
    let (h, m) = hhmm.split_once(':')?;
    Some(h.parse::<f64>().ok()? * 60.0 + m.get(..2)?.parse::<f64>().ok()?)
}

/// The share of the city's open berths occupied, slot by slot, from the
/// lots heard in each slot that reported their berths in it (a late record
/// is not the city's occupancy of its hour; lots that did not report do not
/// drag the line down, as a sum would); a slot where none did, or that
/// nobody was heard in, is a gap in the line.
pub(super) fn occupancy_chart(lang: Lang, o: &Overview) -> Markup {
    let mut share = Vec::new();
    let mut last: Option<f64> = None;
    for s in o.occupancy.iter() {
        let Some(at) = minutes(&s.at) else { continue };
        if last.is_some_and(|l| at - l > 10.0) {
            share.push((at - 10.0, chart::GAP));
        }
        last = Some(at);
        if s.lots > 0 && s.open_berths > 0 {
            share.push((at, s.occupied as f64 * 100.0 / s.open_berths as f64));
        } else {
            share.push((at, chart::GAP));
        }
    }
    let axes = Axes { x_min: 0.0, x_max: 24.0 * 60.0, x_ticks: day_ticks(), y_max: 100.0, y_unit: "%" };
    chart::line(
        lang.t("今日全市泊位占用率", "The city's occupancy today"),
        &axes,
        &[Series {
            name: lang.t("开放泊位占用率", "open berths occupied"), class: "s1", points: share, area: true
        }],
    )
}

pub(super) fn city_map(lang: Lang, lots: &[LotOverview]) -> Markup {
    let titles: Vec<(String, &LotOverview)> = lots
        .iter()
        .map(|l| {
            let free = l.free_berths.unwrap_or(0);
            (format!("{} · {} {free} / {}", name(l), lang.t("空余", "free"), l.open_berths.unwrap_or(0)), l)
        })
        .collect();
    let hrefs: Vec<String> = lots.iter().map(|l| format!("/lots/{}", l.parking_code)).collect();
    // Each dot shows its free berths (a large city shows dots alone).
    let frees: Vec<String> = lots
        .iter()
        .map(|l| if lots.len() <= 60 { l.free_berths.unwrap_or(0).to_string() } else { String::new() })
        .collect();
    let places: Vec<Place> = titles
        .iter()
        .zip(&hrefs)
        .zip(&frees)
        .filter_map(|(((title, l), href), free)| {
            let [x, y] = l.position?;
            let open = l.open_berths.unwrap_or(0);
            let class = if !l.online {
                "off"
            } else if percent(open - l.free_berths.unwrap_or(0), open) >= 95 {
                "bad"
            } else if l.warnings.is_empty() {
                "ok"
            } else {
                "warn"
            };
            Some(Place {
                x,
                y,
                label: free,
                class,
                href,
                radius: if lots.len() <= 60 {
                    9.0 + (open.max(1) as f64).sqrt() / 3.0
                } else {
                    3.0 + (open.max(1) as f64).sqrt() / 6.0
                },
                title: title.clone(),
            })
        })
        .collect();
    html! {
        @if places.is_empty() { p.empty { (lang.t("车场尚未上报位置（uploadParkingInfo）。", "No lot has sent its position (uploadParkingInfo) yet.")) } }
        @else { (chart::map(lang.t("车场分布", "Lots on the map"), &places)) }
        p.legend {
            span.key.s2 { (lang.t("正常", "fine")) } span.key.s3 { (lang.t("需关注", "warning")) }
            span.muted { (lang.t("红：已满 · 灰：离线 · 圆大小：泊位数 · 数字：空余泊位", "red: full · grey: offline · size: berths · number: free berths")) }
        }
    }
}
