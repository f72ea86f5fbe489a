//! The audit trail (`/audit`): every change people and integrations made,
//! searched by date range, who, lot and kind, paged, and exported as CSV
//! (streamed page by page, so a year of changes never sits in memory).
//! Administrators and auditors see everything; a lot operator or booth sees
//! their lots' entries and their own.

use onepark_web::xlsx::Cell;

use super::export::{Format, Sheet, keyset, list_link};
use super::records::date_range;
use super::*;
use crate::store::{AuditEntry, AuditQuery};

/// The kinds of change: (kind, 中文, English).
pub(super) const KINDS: [(&str, &str, &str); 11] = [
    ("list", "黑白名单", "list entry"),
    ("refund", "退款", "refund"),
    ("write_off", "欠费核销", "write-off"),
    ("barrier", "远程抬杆", "barrier"),
    ("command", "车场指令", "lot command"),
    ("account", "账户", "account"),
    ("password", "密码", "password"),
    ("token", "接口令牌", "API token"),
    ("lot", "车场登记", "lot registration"),
    ("integrator", "云平台 pid", "cloud pid"),
    ("signup", "无感签约", "no-stop sign-up"),
];

const PAGE: i64 = 100;
/// Rows fetched per round while exporting.
const EXPORT_BATCH: i64 = 1000;

#[derive(Deserialize, Default)]
pub(super) struct AuditParams {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    lot: String,
    #[serde(default)]
    page: i64,
    #[serde(default)]
    format: String,
}

fn kind_label(lang: Lang, kind: &str) -> String {
    KINDS.iter().find(|k| k.0 == kind).map_or_else(|| kind.to_owned(), |k| lang.t(k.1, k.2).to_owned())
}

fn outcome_badge(lang: Lang, outcome: &str) -> Markup {
    match outcome {
        "done" => html! { span.badge.ok data-outcome="done" { (lang.t("完成", "done")) } },
        "failed" => html! { span.badge.bad data-outcome="failed" { (lang.t("失败", "failed")) } },
        _ => html! { span.badge.warn data-outcome=(outcome) { (lang.t("未完成", "cut short")) } },
    }
}

pub(super) async fn audit(
    State(state): State<AppState>,
    v: Viewer,
    Query(p): Query<AuditParams>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let (from, to) = match date_range(&v, &p.from, &p.to, lang.t("操作日志", "Audit trail"), "/audit") {
        Ok(range) => range,
        Err(page) => return Ok(*page),
    };
    if !p.lot.is_empty() {
        v.check(Need::Read, &p.lot)?;
    }
    let query = AuditQuery {
        from,
        to,
        actor: p.actor.trim().to_owned(),
        kind: p.kind.clone(),
        parking_code: p.lot.trim().to_owned(),
        lots: v.who.lot_filter(),
        own: v.who.actor.clone(),
        before: None,
        limit: PAGE + 1,
        offset: p.page.clamp(0, 1_000_000) * PAGE,
    };
    if let Some(format) = Format::parse(&p.format) {
        return Ok(export(state, lang, format, query));
    }
    let mut rows = state.store().audit(&query).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let filters = [("from", p.from.as_str()), ("to", &p.to), ("actor", &p.actor), ("kind", &p.kind), ("lot", &p.lot)];
    let link = |page: i64, format: &str| list_link("/audit", &filters, page, format);
    let body = html! {
        h1 { (lang.t("操作日志", "Audit trail")) }
        div.card {
            form.inline method="get" action="/audit" id="audit-filter" {
                label.field { (lang.t("从", "From")) input type="date" name="from" value=(p.from); }
                label.field { (lang.t("到", "To")) input type="date" name="to" value=(p.to); }
                label.field { (lang.t("操作人", "Who")) input name="actor" value=(p.actor) placeholder=(lang.t("用户名", "name")); }
                label.field { (lang.t("车场编号", "Lot")) input name="lot" value=(p.lot); }
                label.field { (lang.t("类别", "Kind")) select name="kind" {
                    option value="" { (lang.t("全部", "all")) }
                    @for (k, zh, en) in KINDS { option value=(k) selected[p.kind == k] { (lang.t(zh, en)) } }
                } }
                button type="submit" { (lang.t("查询", "Search")) }
                a.button.secondary href=(link(0, "xlsx")) id="audit-xlsx" { (lang.t("导出 Excel", "Export Excel")) }
                a.button.secondary href=(link(0, "csv")) id="audit-csv" { (lang.t("导出 CSV", "Export CSV")) }
            }
        }
        div.card.mt {
            @if rows.is_empty() { p.empty { (lang.t("没有符合条件的操作记录", "No change matches")) } }
            @else { div.scroll { table id="audit" {
                thead { tr {
                    th { (lang.t("时间", "Time")) } th { (lang.t("操作人", "Who")) } th { (lang.t("来源", "From")) }
                    th { (lang.t("类别", "Kind")) } th { (lang.t("车场", "Lot")) } th { (lang.t("对象", "What")) }
                    th { (lang.t("原值", "Before")) } th { (lang.t("新值", "After")) } th { (lang.t("原因", "Reason")) } th { (lang.t("结果", "Outcome")) }
                } }
                tbody { @for e in &rows {
                    tr data-kind=(e.kind) data-id=(e.id) {
                        td.muted { (e.at) }
                        td { (e.actor) br; span.muted { (role_label(lang, &e.role)) } }
                        td.muted { (e.client) }
                        td { (kind_label(lang, &e.kind)) }
                        td { @if !e.parking_code.is_empty() { a href=(format!("/lots/{}", encode(&e.parking_code))) { (e.parking_code) } } }
                        td { (e.subject) }
                        td.json { (readable(lang, e.old_value.as_deref())) }
                        td.json { (readable(lang, e.new_value.as_deref())) }
                        td { (e.reason) }
                        td { (outcome_badge(lang, &e.outcome)) @if !e.detail.is_empty() { br; span.muted { (e.detail) } } }
                    }
                } }
            } } }
            p.pager {
                @if p.page > 0 { a href=(link(p.page - 1, "")) { (lang.t("上一页", "Newer")) } " " }
                @if more { a href=(link(p.page + 1, "")) id="audit-next" { (lang.t("下一页", "Older")) } }
            }
        }
    };
    Ok(reply(&v, lang.t("操作日志", "Audit trail"), "/audit", body))
}

/// The fields the trail's values hold, as people read them: (key, 中文, English).
const FIELDS: [(&str, &str, &str); 18] = [
    ("list", "名单", "list"),
    ("startTime", "开始", "from"),
    ("endTime", "结束", "until"),
    ("carType", "车型", "car type"),
    ("remark", "备注", "remark"),
    ("role", "角色", "role"),
    ("lots", "车场", "lots"),
    ("amount", "金额（分）", "amount (fen)"),
    ("refundNo", "退款编号", "refund no."),
    ("kind", "类型", "kind"),
    ("name", "名称", "name"),
    ("parkCodes", "车场", "lots"),
    ("parkingCodes", "车场", "lots"),
    ("protocol", "协议", "protocol"),
    ("noStop", "无感支付", "no-stop"),
    ("afterLeave", "先离场后付费", "pay after leaving"),
    ("limit", "单笔限额（分）", "limit (fen)"),
    ("channel_id", "车道", "lane"),
];

/// A value of the trail as people read it: an object's fields as
/// `key: value` lines in the page's language (nulls left out, lists joined),
/// anything else as its JSON.
fn readable(lang: Lang, json: Option<&str>) -> Markup {
    let Some(text) = json else { return html! {} };
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect::<Vec<_>>().join("、")
        }
        serde_json::Value::Bool(b) => lang.t(if *b { "是" } else { "否" }, if *b { "yes" } else { "no" }).to_owned(),
        other => other.to_string(),
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(fields)) => html! {
            @for (k, v) in fields.iter().filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty())) {
                @let label = FIELDS.iter().find(|f| f.0 == k).map_or(k.as_str(), |f| lang.t(f.1, f.2));
                @let shown = match (k.as_str(), v.as_str()) {
                    ("role", Some(role)) => role_label(lang, role),
                    ("list", Some("black")) => lang.t("黑名单", "black").to_owned(),
                    ("list", Some("white")) => lang.t("白名单", "white").to_owned(),
                    _ => value(v),
                };
                span.field data-key=(k) { (label) ": " (shown) } br;
            }
        },
        Ok(serde_json::Value::Null) => html! {},
        _ => html! { (text) },
    }
}

/// A role as the page's reader says it (`driver`, `cli` roles included).
fn role_label(lang: Lang, role: &str) -> String {
    match crate::access::Role::ALL.into_iter().find(|r| r.as_str() == role) {
        Some(r) => lang.t(r.label().0, r.label().1).to_owned(),
        None if role == "driver" => lang.t("车主", "driver").to_owned(),
        None => role.to_owned(),
    }
}

fn row(lang: Lang, e: &AuditEntry) -> Vec<Cell> {
    let outcome = match e.outcome.as_str() {
        "done" => lang.t("完成", "done"),
        "failed" => lang.t("失败", "failed"),
        _ => lang.t("未完成", "cut short"),
    };
    [
        e.at.as_str(),
        &e.actor,
        &role_label(lang, &e.role),
        &e.client,
        &kind_label(lang, &e.kind),
        &e.parking_code,
        &e.subject,
        e.old_value.as_deref().unwrap_or(""),
        e.new_value.as_deref().unwrap_or(""),
        &e.reason,
        outcome,
        &e.detail,
    ]
    .iter()
    .map(|t| Cell::Text((*t).to_owned()))
    .collect()
}

/// The whole search as CSV or Excel, streamed in batches by keyset (newest first).
fn export(state: AppState, lang: Lang, format: Format, mut query: AuditQuery) -> Response {
    query.limit = EXPORT_BATCH;
    query.offset = 0;
    let zh = lang == Lang::Zh;
    let sheet = Sheet {
        name: format!("{}-{}", if zh { "操作日志" } else { "audit" }, format_time(state.now()).get(..10).unwrap_or("")),
        title: lang.t("操作日志", "Audit trail").to_owned(),
        headers: if zh {
            vec![
                "时间",
                "操作人",
                "角色",
                "来源地址",
                "类别",
                "车场编号",
                "对象",
                "原值",
                "新值",
                "原因",
                "结果",
                "说明",
            ]
        } else {
            vec![
                "time", "who", "role", "address", "kind", "lot", "what", "before", "after", "reason", "outcome",
                "detail",
            ]
        },
        widths: vec![20, 12, 12, 16, 12, 12, 16, 40, 40, 20, 8, 30],
    };
    let batches = keyset(
        state,
        query,
        EXPORT_BATCH,
        |state: AppState, q: AuditQuery| async move {
            let rows = state.store().audit(&q).await;
            (q, rows)
        },
        |q, e: &AuditEntry| q.before = Some((e.at.clone(), e.id.clone())),
        move |e| row(lang, e),
    );
    super::export::respond(format, sheet, batches)
}
