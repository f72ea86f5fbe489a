//! A plate's whole story (`/plates`): its stays across the city with their
//! photos, the payments made for it (refundable from here, with a reason),
//! its arrears open and settled, its no-stop sign-up, month cards and list
//! entries, each with its lot's name. A lot operator sees the plate at its
//! lots only.

use super::records::{duration, lot_choices};
use super::*;
use crate::city::payments::RefundRefused;
use crate::store::{PayState, Purpose};

#[derive(Deserialize)]
pub(super) struct PlateQuery {
    plate: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

fn purpose(lang: Lang, p: Purpose) -> &'static str {
    match p {
        Purpose::Exit => lang.t("出口无感扣费", "no-stop at the exit"),
        Purpose::Prepay => lang.t("场内缴费", "paid in the lot"),
        Purpose::AfterLeave => lang.t("先离场后付费", "after leaving"),
        Purpose::Arrears => lang.t("欠费补缴", "arrears"),
        Purpose::Renewal => lang.t("月卡续费", "card renewal"),
    }
}

fn pay_state(lang: Lang, s: PayState) -> Markup {
    let (class, zh, en) = match s {
        PayState::Paid => ("badge ok", "已支付", "paid"),
        PayState::Refunded => ("badge warn", "已退款", "refunded"),
        PayState::Pending => ("badge", "处理中", "pending"),
        _ => ("badge off", "未成功", "not paid"),
    };
    html! { span class=(class) data-state=(s.as_str()) { (lang.t(zh, en)) } }
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
    let store = state.store();
    let names: BTreeMap<String, String> = lot_choices(&state, &v).await?.into_iter().collect();
    let lot_link = |code: &str| html! { a href=(format!("/lots/{}", encode(code))) { (names.get(code).map_or(code, String::as_str)) } };
    let mut story = Story::default();
    if !normal.is_empty() {
        let query = RecordQuery {
            parking_code: String::new(),
            plate_no: normal.clone(),
            from: "0000-01-01 00:00:00".into(),
            to: "9999-12-31 23:59:59".into(),
            limit: 100,
            offset: 0,
        };
        // A scoped viewer sees the plate at its lots only.
        story.stays = store.search(&query).await?.into_iter().filter(|r| v.who.sees(&r.parking_code)).collect();
        story.lists = store
            .list_entries(None, Some(&normal))
            .await?
            .into_iter()
            .filter(|(e, _)| v.who.sees(&e.parking_code))
            .collect();
        story.payments =
            store.payments_of(&normal, 100).await?.into_iter().filter(|p| v.who.sees(&p.parking_code)).collect();
        story.arrears =
            store.arrears(Some(&normal), 100).await?.into_iter().filter(|a| v.who.sees(&a.parking_code)).collect();
        story.cards = store.fixed_cars_of(&normal).await?.into_iter().filter(|c| v.who.sees(&c.park_code)).collect();
        // A plate's sign-up is the city's, not a lot's: shown to whoever sees the whole city.
        story.signup = if v.who.city_wide() { store.signup(&normal).await? } else { None };
        // The stays' photos, one statement per lot.
        let mut by_lot: BTreeMap<&str, Vec<&crate::store::RecordRow>> = BTreeMap::new();
        for r in &story.stays {
            by_lot.entry(r.parking_code.as_str()).or_default().push(r);
        }
        for (code, rows) in by_lot {
            let since = rows.iter().map(|r| r.arrive_time.as_str()).min().unwrap_or_default().to_owned();
            let uids: Vec<String> = rows.iter().map(|r| r.uid.clone()).collect();
            for (uid, id) in store.photos_of(code, &since, &uids).await? {
                story.photos.entry((code.to_owned(), uid)).or_default().push(id);
            }
        }
    }
    let now = state.now();
    let owed: i64 = story.arrears.iter().filter(|a| a.state == "open").map(|a| a.should_pay).sum();
    let body = html! {
        h1 { (lang.t("车牌查询", "Find a plate")) }
        @if let Some(n) = &q.notice { div.notice id="notice" { (n) } }
        @if let Some(e) = &q.error { div.notice.bad id="notice" { (e) } }
        div.card {
            form.inline method="get" action="/plates" {
                label.field { (lang.t("车牌号", "Plate")) input name="plate" value=(plate) placeholder="鲁B12345" autofocus; }
                button type="submit" { (lang.t("查询", "Search")) }
                a href="/records" { (lang.t("按部分车牌或日期查找记录", "Find records by a part of a plate or by date")) }
            }
        }
        @if !normal.is_empty() {
            div.grid.mt {
                (stat(lang.t("停车次数", "Stays"), &story.stays.len().to_string(), lang.t("最近 100 次", "the last 100"), "stat-stays"))
                (stat(lang.t("线上支付", "Online payments"), &story.payments.len().to_string(), "", "stat-payments"))
                (stat(lang.t("欠费", "Owed"), &yuan(owed), "", "stat-owed"))
                @if v.who.city_wide() { (stat(lang.t("无感支付", "No-stop"), match &story.signup {
                    Some(s) if s.no_stop || s.after_leave => lang.t("已开通", "signed up"),
                    _ => lang.t("未开通", "not signed up"),
                }, &story.signup.as_ref().map(|s| format!("{} {}", lang.t("单笔限额", "limit"), yuan(s.money_limit))).unwrap_or_default(), "stat-signup")) }
            }
            div.card.mt id="stays-card" {
                h2 { (normal) " · " (lang.t("停车记录", "stays")) }
                @if story.stays.is_empty() { p.empty { (lang.t("没有该车牌的记录。", "No stays of this plate.")) } }
                @else { div.scroll { table id="stays" {
                    thead { tr {
                        th { (lang.t("车场", "Lot")) } th { (lang.t("入场", "Entered")) } th { (lang.t("出场", "Left")) }
                        th { (lang.t("时长", "Stay")) } th.num { (lang.t("应收", "Due")) } th { (lang.t("照片", "Photos")) }
                    } }
                    tbody { @for r in &story.stays { tr data-uid=(r.uid) {
                        td { (lot_link(&r.parking_code)) }
                        td { (r.arrive_time) }
                        td { @match &r.end_time { Some(t) => (t), None => span.badge.ok { (lang.t("在场", "inside")) } } }
                        td.muted { (duration(lang, &r.arrive_time, r.end_time.as_deref(), now)) }
                        td.num { (r.should_pay.map(yuan).unwrap_or_default()) }
                        td { div.photos { @for id in story.photos.get(&(r.parking_code.clone(), r.uid.clone())).into_iter().flatten() {
                            @let src = format!("/photos/{}/{}", encode(&r.parking_code), encode(id));
                            a href=(src) target="_blank" { img src=(src) alt=(id) loading="lazy"; }
                        } } }
                    } } }
                } } }
            }
            div.card.mt id="payments-card" {
                h2 { (lang.t("线上支付", "Online payments")) }
                @if story.payments.is_empty() { p.empty { (lang.t("没有线上支付", "No online payment")) } }
                @else { div.scroll { table id="payments" {
                    thead { tr {
                        th { (lang.t("时间", "Time")) } th { (lang.t("车场", "Lot")) } th { (lang.t("场景", "Kind")) }
                        th.num { (lang.t("金额", "Amount")) } th.num { (lang.t("已退", "Refunded")) } th { (lang.t("状态", "State")) }
                        th { (lang.t("订单号", "Order")) } th { (lang.t("退款", "Refund")) }
                    } }
                    tbody { @for p in &story.payments {
                        @let left = p.actual_pay.unwrap_or(0) - p.refunded;
                        tr data-order=(p.order_id) {
                            td.muted { (p.deal_time.as_deref().unwrap_or(&p.created_at)) }
                            td { (lot_link(&p.parking_code)) }
                            td { (purpose(lang, p.purpose)) }
                            td.num { (p.actual_pay.map(yuan).unwrap_or_default()) }
                            td.num { @if p.refunded > 0 { (yuan(p.refunded)) } }
                            td { (pay_state(lang, p.state)) }
                            td.muted { code { (p.order_id) } }
                            td { @if left > 0 && matches!(p.state, PayState::Paid | PayState::Refunded) && v.who.check(Need::Change, &p.parking_code).is_ok() {
                                form.inline method="post" action="/plates/refund"
                                    data-confirm=(format!("{} {}？", lang.t("确认退还", "Refund"), yuan(left))) {
                                    (v.csrf())
                                    input type="hidden" name="plate" value=(normal);
                                    input type="hidden" name="order" value=(p.order_id);
                                    input name="reason" required maxlength="200" placeholder=(lang.t("退款原因", "reason"));
                                    button.danger type="submit" { (lang.t("全额退款", "Refund")) " " (yuan(left)) }
                                }
                            } }
                        }
                    } }
                } } }
            }
            div.grid.mt {
                div.card.span-6 id="arrears" {
                    h2 { (lang.t("欠费", "Arrears")) }
                    @if story.arrears.is_empty() { p.empty { (lang.t("没有欠费记录", "Never owed")) } }
                    @else { table id="arrears-table" {
                        thead { tr { th { (lang.t("车场", "Lot")) } th { (lang.t("账单时间", "Billed")) } th.num { (lang.t("金额", "Amount")) } th { (lang.t("状态", "State")) } th {} } }
                        tbody { @for a in &story.arrears { tr data-bill=(a.bill_id) {
                            td { (lot_link(&a.parking_code)) }
                            td.muted { (a.bill_time) }
                            td.num { (yuan(a.should_pay)) }
                            td { @match a.state.as_str() {
                                "open" => span.badge.bad data-state="open" { (lang.t("未缴", "open")) },
                                "paid" => span.badge.ok data-state="paid" { (lang.t("已补缴", "paid")) },
                                _ => span.badge data-state="written_off" { (lang.t("已核销", "written off")) },
                            } }
                            td { @if a.state == "open" && v.who.check(Need::Change, &a.parking_code).is_ok() {
                                form.inline method="post" action="/plates/waive"
                                    data-confirm=(format!("{} {}？", lang.t("确认免除核销此笔欠费", "Write off this arrear of"), yuan(a.should_pay))) {
                                    (v.csrf())
                                    input type="hidden" name="plate" value=(normal);
                                    input type="hidden" name="lot" value=(a.parking_code);
                                    input type="hidden" name="bill" value=(a.bill_id);
                                    input name="reason" required maxlength="200" placeholder=(lang.t("核销原因", "reason"));
                                    button.danger type="submit" { (lang.t("核销", "Write off")) }
                                }
                            } }
                        } } }
                    } }
                }
                div.card.span-6 id="lists-cards" {
                    h2 { (lang.t("名单与月卡", "Lists and month cards")) }
                    @if story.lists.is_empty() && story.cards.is_empty() { p.empty { (lang.t("不在任何名单中，没有月卡", "On no list, no month card")) } }
                    table { tbody {
                        @for (e, delivery) in &story.lists { tr {
                            td { (lot_link(&e.parking_code)) }
                            td { (list_name(lang, e.list_kind)) @if e.deleted { " " span.badge.off { (lang.t("已移除", "removed")) } } }
                            td.muted { (e.start_time.get(..10).unwrap_or(&e.start_time)) " – " (e.end_time.get(..10).unwrap_or(&e.end_time)) }
                            td { (delivery_badge(lang, *delivery)) }
                        } }
                        @for c in &story.cards { tr {
                            td { (lot_link(&c.park_code)) }
                            td { (lang.t("月卡/固定车", "month card")) @if c.deleted != 0 { " " span.badge.off { (lang.t("已删除", "deleted")) } } }
                            td.muted { (c.start_time.get(..10).unwrap_or(&c.start_time)) " – " (c.end_time.get(..10).unwrap_or(&c.end_time)) }
                            td {}
                        } }
                    } }
                }
            }
        }
    };
    Ok(reply(&v, lang.t("车牌查询", "Find a plate"), "/plates", body))
}

#[derive(Default)]
struct Story {
    stays: Vec<crate::store::RecordRow>,
    lists: Vec<(crate::store::ListEntry, Option<DownlinkState>)>,
    payments: Vec<crate::store::Payment>,
    arrears: Vec<crate::store::Arrear>,
    cards: Vec<crate::store::FixedCar>,
    signup: Option<crate::store::Signup>,
    /// (lot, uid) → photo ids.
    photos: BTreeMap<(String, String), Vec<String>>,
}

#[derive(Deserialize)]
pub(super) struct RefundForm {
    plate: String,
    order: String,
    #[serde(default)]
    reason: String,
}

/// A whole refund from the plate's page: the API's path (checked, audited).
pub(super) async fn refund(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<RefundForm>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let reason = f.reason.trim();
    let back = |key: &str, text: &str| {
        Redirect::to(&format!("/plates?plate={}&{key}={}#payments-card", encode(&f.plate), encode(text)))
            .into_response()
    };
    if reason.is_empty() || reason.chars().count() > 200 {
        return Ok(back("error", lang.t("请填写退款原因（1–200 字）", "Give the refund's reason (1–200 characters)")));
    }
    match crate::city::payments::refund_as(&state, &v.who, &f.order, None, None, reason).await {
        Ok(p) => Ok(back("notice", &format!("{} {} {}", lang.t("已退款", "Refunded"), yuan(p.refunded), p.order_id))),
        Err(RefundRefused::Store(e)) => Err(Refused::Store(e)),
        Err(RefundRefused::Denied(d)) => Err(Refused::Denied(lang, d)),
        Err(e) => Ok(back("error", &format!("{}{e}", lang.t("未退款：", "Not refunded: ")))),
    }
}

#[derive(Deserialize)]
pub(super) struct WaiveForm {
    plate: String,
    lot: String,
    bill: String,
    #[serde(default)]
    reason: String,
}

/// One open arrear written off from the plate's page, with its reason (audited).
pub(super) async fn waive(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<WaiveForm>,
) -> Result<Response, Refused> {
    use crate::city::payments::WaiveRefused;
    let lang = v.lang;
    let reason = f.reason.trim();
    let back = |key: &str, text: &str| {
        Redirect::to(&format!("/plates?plate={}&{key}={}#arrears", encode(&f.plate), encode(text))).into_response()
    };
    if reason.is_empty() || reason.chars().count() > 200 {
        return Ok(back(
            "error",
            lang.t("请填写核销原因（1–200 字）", "Give the write-off's reason (1–200 characters)"),
        ));
    }
    match crate::city::payments::waive(&state, &v.who, &f.lot, &f.bill, reason).await {
        Ok(true) => Ok(back("notice", lang.t("已核销该笔欠费", "The arrear is written off"))),
        Ok(false) => Ok(back("error", lang.t("该笔欠费已不在未缴状态", "That arrear is no longer open"))),
        Err(WaiveRefused::Denied(d)) => Err(Refused::Denied(lang, d)),
        Err(WaiveRefused::Store(e)) => Err(Refused::Store(e)),
    }
}
