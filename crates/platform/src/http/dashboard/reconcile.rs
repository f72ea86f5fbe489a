//! The day's three-way check (`/reconciliation`): the lots' bills, the
//! platform's charges and the payment channel's statement, their totals and
//! every mismatch, each leading to its lot or plate. The city's whole money:
//! administrators and auditors.

use super::*;

#[derive(Deserialize, Default)]
pub(super) struct DayParams {
    #[serde(default)]
    date: String,
}

fn kind(lang: Lang, k: &str) -> (&'static str, &'static str) {
    let (zh, en, class) = match k {
        "channel_only" => ("渠道有、平台无", "at the channel only", "badge bad"),
        "platform_only" => ("平台有、渠道无", "at the platform only", "badge bad"),
        "amount" => ("金额不一致", "amounts differ", "badge bad"),
        "refund" => ("退款不一致", "refunds differ", "badge warn"),
        "not_reported" => ("车场未上报账单", "the lot sent no bill", "badge warn"),
        "lot_only" => ("车场有、平台无", "at the lot only", "badge bad"),
        _ => ("其他", "other", "badge"),
    };
    (lang.t(zh, en), class)
}

/// What a daily check's marks say (accountMark bits: 1 entries, 2 exits, 4 bills; photoMark 1).
fn marks(lang: Lang, account: i64, photo: i64) -> String {
    let mut parts = Vec::new();
    for (bit, zh, en) in [(1, "入场", "entries"), (2, "出场", "exits"), (4, "账单", "bills")] {
        if account & bit != 0 {
            parts.push(lang.t(zh, en));
        }
    }
    if photo != 0 {
        parts.push(lang.t("照片", "photos"));
    }
    parts.join(lang.t("、", ", "))
}

pub(super) async fn reconciliation(
    State(state): State<AppState>,
    v: Viewer,
    Query(p): Query<DayParams>,
) -> Result<Response, Refused> {
    v.check_city(Need::Read)?;
    let lang = v.lang;
    let yesterday = state.now().date().pred_opt().unwrap_or(state.now().date());
    let date = if p.date.trim().is_empty() {
        Some(yesterday)
    } else {
        NaiveDate::parse_from_str(p.date.trim(), "%Y-%m-%d").ok()
    };
    let Some(date) = date else {
        let body = html! { div.notice.bad id="notice" { (lang.t("日期格式应为 yyyy-MM-dd", "Dates are yyyy-MM-dd")) } };
        let mut response = reply(&v, lang.t("三方对账", "Reconciliation"), "/reconciliation", body);
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    };
    let check = crate::http::money::three_way(&state, date).await;
    // The lots' own daily checks (uploadCheckRecord) that have not balanced: a lot keeps
    // checking such a day with backoff until it does, so a day stays here until then.
    let unbalanced = state.store().unbalanced_checks(state.now().date() - chrono::Duration::days(30)).await;
    let body = html! {
        h1 { (lang.t("三方对账", "Three-way reconciliation")) }
        div.card {
            form.inline method="get" action="/reconciliation" id="reconcile-filter" {
                label.field { (lang.t("日期", "Day")) input type="date" name="date" value=(date.to_string()); }
                button type="submit" { (lang.t("对账", "Check")) }
                a href=(format!("/reconciliation?date={}", date.pred_opt().unwrap_or(date))) { (lang.t("前一天", "Day before")) }
                a href=(format!("/reconciliation?date={}", date.succ_opt().unwrap_or(date))) { (lang.t("后一天", "Day after")) }
            }
        }
        @match &check {
            Err(e) => div.notice.bad.mt id="notice" {
                (lang.t("无法完成对账：", "The check could not run: ")) (e.message())
            },
            Ok(r) => {
                div.grid.mt {
                    (stat(lang.t("车场上报（平台支付）", "Lots' bills (platform payments)"), &yuan(r.lot_fen), "", "stat-lot"))
                    (stat(lang.t("平台收款（扣除退款）", "Platform (net of refunds)"), &yuan(r.platform_fen), "", "stat-platform"))
                    (stat(lang.t("渠道对账单", "Channel statement"), &yuan(r.channel_fen), "", "stat-channel"))
                    (stat(lang.t("差异", "Mismatches"), &r.mismatches.len().to_string(),
                        if r.mismatches.is_empty() { lang.t("三方一致", "all three agree") } else { lang.t("需要处理", "to look into") }, "stat-mismatches"))
                }
                p.muted { (lang.t("车场账单为支付时的金额；平台与渠道为扣除退款后的金额。差异按每笔订单核对。",
                    "The lots' bills are as paid; the platform's and the channel's figures are net of refunds. Mismatches are checked order by order.")) }
                div.card.mt {
                    h2 { (lang.t("差异明细", "Mismatches")) }
                    @if r.mismatches.is_empty() { p.empty id="balanced" { (lang.t("当日三方一致", "The day balances three ways")) } }
                    @else { div.scroll { table id="mismatches" {
                        thead { tr {
                            th { (lang.t("类型", "Kind")) } th { (lang.t("车场", "Lot")) } th { (lang.t("账单号", "Bill")) } th { (lang.t("订单号", "Order")) }
                            th.num { (lang.t("平台", "Platform")) } th.num { (lang.t("渠道", "Channel")) } th.num { (lang.t("车场", "Lot")) }
                        } }
                        tbody { @for m in &r.mismatches {
                            @let (label, class) = kind(lang, &m.kind);
                            tr data-kind=(m.kind) {
                                td { span class=(class) { (label) } }
                                td { @if let Some(c) = &m.parking_code { a href=(format!("/lots/{}", encode(c))) { (c) } } }
                                td.muted { (m.bill_id.as_deref().unwrap_or("")) }
                                td.muted { code { (m.order_id.as_deref().unwrap_or("")) } }
                                td.num { (m.platform.map(yuan).unwrap_or_default()) }
                                td.num { (m.channel.map(yuan).unwrap_or_default()) }
                                td.num { (m.lot.map(yuan).unwrap_or_default()) }
                            }
                        } }
                    } } }
                }
            }
        }
        div.card.mt {
            h2 { (lang.t("车场日对账未平（近 30 天）", "Lots' daily checks not balanced (last 30 days)")) }
            p.muted { (lang.t("车场每日上报的记录数与平台不一致的日子；车场会自动补传并重试，直到平账。",
                "Days whose counts a lot reported differ from the platform's; the lot re-sends what is missing and checks again until they agree.")) }
            @match &unbalanced {
                Err(e) => div.notice.bad id="unbalanced-error" { (lang.t("无法读取：", "Cannot read: ")) (e) },
                Ok(days) if days.is_empty() => p.empty id="days-balanced" { (lang.t("所有车场的日对账均已平账", "Every lot's days balance")) },
                Ok(days) => div.scroll { table id="unbalanced-days" {
                    thead { tr {
                        th { (lang.t("日期", "Day")) } th { (lang.t("车场", "Lot")) }
                        th { (lang.t("不一致", "Differs in")) } th { (lang.t("最近一次核对", "Last checked")) }
                    } }
                    tbody { @for d in days {
                        tr {
                            td { (d.check_date) }
                            td { a href=(format!("/lots/{}", encode(&d.parking_code))) { (d.parking_code) } }
                            td { (marks(lang, d.account_mark, d.photo_mark)) }
                            td.muted { (d.received_at) }
                        }
                    } }
                } },
            }
        }
    };
    Ok(reply(&v, lang.t("三方对账", "Reconciliation"), "/reconciliation", body))
}
