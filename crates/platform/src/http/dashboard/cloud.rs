//! The parking cloud's API (`/cloud`): its pids (integrators and lots), the
//! form that registers or removes one, and the fixed cars they manage with
//! whether each lot has applied the latest change.

use super::*;
use crate::city::principals::{RegisterError, new_principal, register};
use crate::store::{FixedCar, PrincipalKind};

#[derive(Deserialize)]
pub(super) struct CloudQuery {
    notice: Option<String>,
    error: Option<String>,
}

pub(super) async fn cloud(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<CloudQuery>,
) -> Result<Response, Refused> {
    v.check_city(Need::Read)?;
    page_with(&state, &v, q.notice.as_deref(), q.error.as_deref(), None).await
}

/// The page, with a notice, an error, or a secret made just now (shown in
/// this answer only: never in a URL, never again).
async fn page_with(
    state: &AppState,
    v: &Viewer,
    notice: Option<&str>,
    error: Option<&str>,
    secret: Option<(&str, &str)>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let principals = state.store().principals().await?;
    let cars = state.store().fixed_cars(None, 500).await?;
    let pulling: Vec<&str> = principals
        .iter()
        .filter(|p| p.kind == PrincipalKind::Lot)
        .flat_map(|p| p.park_codes.iter().map(String::as_str))
        .collect();
    let body = html! {
        h1 { (lang.t("云平台接口", "Cloud API")) }
        @if let Some(n) = notice { div.notice id="notice" { (n) } }
        @if let Some(e) = error { div.notice.bad id="notice" { (e) } }
        @if let Some((pid, secret)) = secret {
            div.notice id="secret" {
                (lang.t("已登记 ", "Registered ")) strong { (pid) } (lang.t("。密钥仅显示这一次，请交给对接方保存：", ". Its secret is shown this once; hand it to the integrator: "))
                code.secret { (secret) }
            }
        }
        div.card {
            h2 { (lang.t("对接方与车场", "Integrators and lots")) }
            @if principals.is_empty() { p.empty { (lang.t("尚未登记 pid", "No pid registered yet")) } }
            @else { div.scroll { table id="principals" {
                thead { tr {
                    th { "pid" } th { (lang.t("类型", "Kind")) } th { (lang.t("名称", "Name")) }
                    th { (lang.t("可操作车场", "Lots")) } th { (lang.t("登记时间", "Registered")) } th {}
                } }
                tbody { @for p in &principals {
                    tr data-pid=(p.pid) {
                        td { code { (p.pid) } }
                        td { @if p.kind == PrincipalKind::Lot { span.badge.ok { (lang.t("车场", "lot")) } } @else { span.badge { (lang.t("对接方", "integrator")) } } }
                        td { (p.name) }
                        td { (p.park_codes.join("、")) }
                        td.muted { (p.created_at) }
                        td { form method="post" action="/cloud" data-confirm=(format!("{} {}？", lang.t("确认删除 pid", "Remove pid"), p.pid)) {
                            (v.csrf())
                            input type="hidden" name="operate" value="remove";
                            input type="hidden" name="pid" value=(p.pid);
                            button.danger type="submit" { (lang.t("删除", "Remove")) }
                        } }
                    }
                } }
            } } }
        }
        div.card.mt {
            h2 { (lang.t("登记 pid", "Register a pid")) }
            form.inline method="post" action="/cloud" id="add-pid" {
                (v.csrf())
                input type="hidden" name="operate" value="add";
                label.field { "pid" input name="pid" required maxlength="20" placeholder="123456"; }
                label.field { (lang.t("名称", "Name")) input name="name" maxlength="50"; }
                label.field { (lang.t("类型", "Kind")) select name="kind" {
                    option value="integrator" { (lang.t("对接方", "integrator")) } option value="lot" { (lang.t("车场", "lot")) } } }
                label.field { (lang.t("车场编号（逗号分隔）", "parkCodes (comma-separated)")) input name="codes" required placeholder="TEST/1P1,1001"; }
                label.field { (lang.t("密钥（留空自动生成）", "Secret (blank: made for you)")) input name="secret" maxlength="64" autocomplete="off"; }
                button type="submit" { (lang.t("登记", "Register")) }
            }
        }
        div.card.mt {
            h2 { (lang.t("固定车", "Fixed cars")) }
            @if cars.is_empty() { p.empty { (lang.t("暂无固定车", "No fixed cars yet")) } }
            @else { div.scroll { table id="fixed-cars" {
                thead { tr {
                    th { (lang.t("车场", "Lot")) } th { (lang.t("车牌", "Plate")) } th { (lang.t("车主", "Owner")) }
                    th { (lang.t("类型", "Type")) } th { (lang.t("有效期", "Valid")) } th.num { (lang.t("月租（元）", "Monthly (¥)")) }
                    th { (lang.t("状态", "State")) } th { (lang.t("车场同步", "At the lot")) }
                } }
                tbody { @for c in &cars {
                    tr data-uuid=(c.uuid) {
                        td { a href=(format!("/lots/{}", encode(&c.park_code))) { (c.park_code) } }
                        td.plate { a href=(format!("/plates?plate={}", encode(&c.plate_no))) { (c.plate_no) } }
                        td { (c.owner.as_deref().unwrap_or("")) }
                        td { (car_type(lang, c.car_type)) }
                        td.muted { (c.start_time.get(..10).unwrap_or(&c.start_time)) " – " (c.end_time.get(..10).unwrap_or(&c.end_time)) }
                        td.num { (c.monthly_fee.map(yuan).unwrap_or_default()) }
                        td { (car_state(lang, c)) }
                        td { (sync_badge(lang, c, pulling.contains(&c.park_code.as_str()))) }
                    }
                } }
            } } }
        }
    };
    Ok(reply(v, lang.t("云平台接口", "Cloud API"), "/cloud", body))
}

fn car_type(lang: Lang, code: i64) -> String {
    let (zh, en, first) = match code {
        81..=85 => ("月租车", "monthly", 81),
        71..=75 => ("储值车", "stored value", 71),
        16 => return lang.t("军警车", "military/police").to_owned(),
        17 => return lang.t("贵宾车", "VIP").to_owned(),
        _ => ("免费车", "free", 11),
    };
    let letter = char::from(b'A' + u8::try_from(code - first).unwrap_or(0).min(25));
    format!("{}{letter}", lang.t(zh, en))
}

fn car_state(lang: Lang, c: &FixedCar) -> Markup {
    if c.deleted == 1 {
        html! { span.badge.off { (lang.t("已删除", "deleted")) } }
    } else if c.state != 0 {
        html! { span.badge.warn { (lang.t("停用", "suspended")) } }
    } else {
        html! { span.badge.ok { (lang.t("正常", "valid")) } }
    }
}

/// A lot that pulls: has it applied the latest change? Others get theirs as
/// white-list entries (their confirmations are on the lists page).
fn sync_badge(lang: Lang, c: &FixedCar, pulls: bool) -> Markup {
    if !pulls {
        return html! { a href=(format!("/lists")) { (lang.t("见黑白名单", "see lists")) } };
    }
    if c.synced_version >= c.version {
        html! { span.badge.ok.sync data-state="synced" { (lang.t("已同步", "applied")) } }
    } else {
        html! { span.badge.warn.sync data-state="due" { (lang.t("待车场拉取", "waiting for the lot")) } }
    }
}

#[derive(Deserialize)]
pub(super) struct PidForm {
    operate: String,
    pid: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    codes: String,
    #[serde(default)]
    secret: String,
}

pub(super) async fn change(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<PidForm>,
) -> Result<Response, Refused> {
    v.check_city(Need::Admin)?;
    let lang = v.lang;
    let pid = f.pid.trim().to_owned();
    if f.operate == "remove" {
        let now = format_time(state.now());
        let removed = crate::city::principals::remove(state.store(), &v.who, &now, &pid).await?;
        state.cloud_known().forget(&pid);
        let query = if removed {
            format!("notice={}", encode(&format!("{}{pid}", lang.t("已删除 pid ", "Removed pid "))))
        } else {
            format!("error={}", encode(&format!("{}{pid}", lang.t("没有 pid ", "No pid "))))
        };
        return Ok(Redirect::to(&format!("/cloud?{query}")).into_response());
    }
    let codes: Vec<String> =
        f.codes.split([',', '，', ' ']).filter(|c| !c.trim().is_empty()).map(str::to_owned).collect();
    let secret = Some(f.secret.trim()).filter(|s| !s.is_empty());
    let now = format_time(state.now());
    let principal = match new_principal(&pid, secret, f.name.trim(), &f.kind, codes, &now) {
        Ok(p) => p,
        Err(e) => {
            let why = if lang == Lang::Zh { e.zh() } else { e.to_string() };
            return page_with(
                &state,
                &v,
                None,
                Some(&format!("{}{why}", lang.t("未登记：", "Not registered: "))),
                None,
            )
            .await;
        }
    };
    let registered = register(state.store(), &v.who, &now, &principal).await;
    state.cloud_known().forget(&principal.pid);
    match registered {
        Ok(()) if secret.is_none() => {
            page_with(&state, &v, None, None, Some((&principal.pid, &principal.secret))).await
        }
        Ok(()) => {
            let notice = format!("{}{}", lang.t("已登记 pid ", "Registered pid "), principal.pid);
            Ok(Redirect::to(&format!("/cloud?notice={}", encode(&notice))).into_response())
        }
        Err(RegisterError::Taken(code, other)) => {
            let why = match lang {
                Lang::Zh => format!("未登记：车场 {code} 已属于车场 pid {other}"),
                _ => format!("Not registered: parkCode {code} already belongs to lot pid {other}"),
            };
            page_with(&state, &v, None, Some(&why), None).await
        }
        Err(RegisterError::Store(e)) => Err(Refused::Store(e)),
    }
}
