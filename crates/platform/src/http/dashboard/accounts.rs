//! Accounts (`/users`, city administrators only): the people who log in and
//! the integrations' API tokens, made, reset and removed here or with
//! `onepark platform users|tokens`; and one's own account (`/account`):
//! who one is and a password change.

use super::*;
use crate::city::accounts::{self, AccountError};

/// Lots typed as codes separated by commas, spaces or 、.
fn split_lots(text: &str) -> Vec<String> {
    text.split([',', '，', '、', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn role_of(text: &str) -> Option<Role> {
    Role::ALL.into_iter().find(|r| r.as_str() == text)
}

/// What the page says above its tables after a change.
#[derive(Default)]
struct Said {
    notice: Option<String>,
    error: Option<String>,
    /// (what, name, secret): a password or token made now, shown this once.
    secret: Option<(&'static str, String, String)>,
}

pub(super) async fn users(State(state): State<AppState>, v: Viewer) -> Result<Response, Refused> {
    v.check_city(Need::Admin)?;
    users_page(&state, &v, Said::default(), StatusCode::OK).await
}

async fn users_page(state: &AppState, v: &Viewer, said: Said, status: StatusCode) -> Result<Response, Refused> {
    let lang = v.lang;
    let people = state.store().accounts().await?;
    let tokens = state.store().tokens().await?;
    let names = lot_names(state).await?;
    let lots_text = |lots: &[String]| -> String {
        lots.iter()
            .map(|c| names.get(c).map_or_else(|| c.clone(), |n| format!("{n}（{c}）")))
            .collect::<Vec<_>>()
            .join("、")
    };
    let role_options = |selected: Role| {
        html! {
            @for r in Role::ALL { option value=(r.as_str()) selected[r == selected] { (lang.t(r.label().0, r.label().1)) } }
        }
    };
    let body = html! {
        h1 { (lang.t("账户与令牌", "Accounts and tokens")) }
        @if let Some(n) = &said.notice { div.notice id="notice" { (n) } }
        @if let Some(e) = &said.error { div.notice.bad id="notice" { (e) } }
        @if let Some((what, name, secret)) = &said.secret {
            div.notice id="secret" {
                (what) " " strong { (name) } " "
                (lang.t("仅显示这一次，请立即转交并妥善保存：", "is shown this once; hand it over now and keep it safe: "))
                code.secret { (secret) }
            }
        }
        datalist id="lot-codes" { @for (code, name) in &names { option value=(code) { (name) } } }
        div.card {
            h2 { (lang.t("账户", "People")) }
            div.scroll { table id="accounts" {
                thead { tr {
                    th { (lang.t("用户名", "Name")) } th { (lang.t("角色", "Role")) } th { (lang.t("车场", "Lots")) }
                    th { (lang.t("创建", "Created")) } th { (lang.t("密码修改", "Password set")) } th { (lang.t("重置密码", "Reset password")) } th {}
                } }
                tbody { @for a in &people {
                    tr data-name=(a.name) {
                        td { strong { (a.name) } }
                        td { (lang.t(a.role.label().0, a.role.label().1)) }
                        td { @if a.role.scoped() { (lots_text(&a.lots)) } @else { span.muted { (lang.t("全市", "the whole city")) } } }
                        td.muted { (a.created_at) }
                        td.muted { (a.changed_at) }
                        td { form.inline method="post" action="/users" {
                            (v.csrf())
                            input type="hidden" name="action" value="passwd";
                            input type="hidden" name="name" value=(a.name);
                            input type="password" name="password" autocomplete="new-password"
                                placeholder=(lang.t("留空自动生成", "blank: made for you"));
                            button type="submit" { (lang.t("重置", "Reset")) }
                        } }
                        td { @if a.name != v.who.actor { form method="post" action="/users" data-confirm=(format!("{} {}？", lang.t("确认删除账户", "Remove account"), a.name)) {
                            (v.csrf())
                            input type="hidden" name="action" value="remove";
                            input type="hidden" name="name" value=(a.name);
                            button.danger type="submit" { (lang.t("删除", "Remove")) }
                        } } }
                    }
                } }
            } }
            h3 { (lang.t("新增账户", "Add an account")) }
            form.inline method="post" action="/users" id="add-account" {
                (v.csrf())
                input type="hidden" name="action" value="add";
                label.field { (lang.t("用户名", "Name")) input name="name" required maxlength="32" autocomplete="off" autocapitalize="none"; }
                label.field { (lang.t("角色", "Role")) select name="role" { (role_options(Role::Operator)) } }
                label.field { (lang.t("车场编号（运营/岗亭，逗号分隔）", "Lots (operator/booth, comma-separated)"))
                    input name="lots" list="lot-codes" placeholder="3702000001"; }
                label.field { (lang.t("初始密码（留空自动生成）", "Password (blank: made for you)"))
                    input type="password" name="password" autocomplete="new-password"; }
                button type="submit" { (lang.t("新增", "Add")) }
            }
        }
        div.card.mt {
            h2 { (lang.t("接口令牌（对接系统）", "API tokens (integrations)")) }
            p.muted { (lang.t("用于 /api/admin/… 的 Bearer 令牌，每个对接系统一个，带角色与车场范围。",
                "Bearer tokens for /api/admin/…, one per integration, each with a role and its lots.")) }
            @if tokens.is_empty() { p.empty { (lang.t("尚无令牌", "No token yet")) } }
            @else { div.scroll { table id="tokens" {
                thead { tr { th { (lang.t("名称", "Name")) } th { (lang.t("角色", "Role")) } th { (lang.t("车场", "Lots")) } th { (lang.t("创建", "Created")) } th {} } }
                tbody { @for t in &tokens {
                    tr data-name=(t.name) {
                        td { strong { (t.name) } }
                        td { (lang.t(t.role.label().0, t.role.label().1)) }
                        td { @if t.role.scoped() { (lots_text(&t.lots)) } @else { span.muted { (lang.t("全市", "the whole city")) } } }
                        td.muted { (t.created_at) }
                        td { form method="post" action="/users" data-confirm=(format!("{} {}？", lang.t("确认吊销令牌", "Revoke token"), t.name)) {
                            (v.csrf())
                            input type="hidden" name="action" value="remove_token";
                            input type="hidden" name="name" value=(t.name);
                            button.danger type="submit" { (lang.t("吊销", "Revoke")) }
                        } }
                    }
                } }
            } } }
            h3 { (lang.t("新增令牌", "Add a token")) }
            form.inline method="post" action="/users" id="add-token" {
                (v.csrf())
                input type="hidden" name="action" value="add_token";
                label.field { (lang.t("名称", "Name")) input name="name" required maxlength="32" autocomplete="off"; }
                label.field { (lang.t("角色", "Role")) select name="role" { (role_options(Role::Auditor)) } }
                label.field { (lang.t("车场编号（运营/岗亭）", "Lots (operator/booth)")) input name="lots" list="lot-codes"; }
                button type="submit" { (lang.t("生成", "Make")) }
            }
        }
    };
    let mut response = reply(v, lang.t("账户", "Accounts"), "/users", body);
    *response.status_mut() = status;
    Ok(response)
}

/// Every lot's name by its code (the code when it sent none).
async fn lot_names(state: &AppState) -> Result<BTreeMap<String, String>, StoreError> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for s in state.store().lot_statuses().await? {
        names.insert(s.parking_code.clone(), s.parking_code);
    }
    for l in state.store().lots().await? {
        for c in l.parking_codes {
            names.entry(c.clone()).or_insert(c);
        }
    }
    for p in state.store().parking_infos().await? {
        if let Some(name) = p.name {
            names.insert(p.parking_code, name);
        }
    }
    Ok(names)
}

#[derive(Deserialize)]
pub(super) struct UserForm {
    action: String,
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    lots: String,
    #[serde(default)]
    password: String,
}

/// A password made for someone (shown once).
fn made_password() -> Result<String, Refused> {
    onepark_serve::password::made_password().map_err(|_| Refused::Store(StoreError::NotWritten))
}

pub(super) async fn change(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<UserForm>,
) -> Result<Response, Refused> {
    v.check_city(Need::Admin)?;
    let lang = v.lang;
    let zh = lang == Lang::Zh;
    let name = f.name.trim();
    let role = role_of(&f.role);
    let made = f.password.is_empty();
    let password = if made { made_password()? } else { f.password.clone() };
    let mut said = Said::default();
    let result = match f.action.as_str() {
        "add" => match role {
            Some(role) => accounts::add(&state, &v.who, name, role, &split_lots(&f.lots), &password).await.map(|a| {
                said.notice = Some(format!("{} {}", lang.t("已新增账户", "Added"), a.name));
                if made {
                    said.secret = Some((lang.t("账户的初始密码", "The account's password"), a.name, password.clone()));
                }
            }),
            None => Err(AccountError::Invalid { field: "role", zh: "未知角色".into(), en: "unknown role".into() }),
        },
        "passwd" => accounts::set_password(&state, &v.who, name, &password, None).await.map(|()| {
            said.notice = Some(format!(
                "{} {}",
                lang.t("已重置密码，该账户的登录已全部退出：", "Password reset; every session ended for"),
                name
            ));
            if made {
                said.secret = Some((lang.t("新密码", "The new password"), name.to_owned(), password.clone()));
            }
        }),
        "remove" if name == v.who.actor => Err(AccountError::Invalid {
            field: "name",
            zh: "不能删除自己的账户".into(),
            en: "you cannot remove your own account".into(),
        }),
        "remove" => accounts::remove(&state, &v.who, name).await.map(|()| {
            said.notice = Some(format!("{} {}", lang.t("已删除账户", "Removed"), name));
        }),
        "add_token" => match role {
            Some(role) => {
                accounts::add_token(&state, &v.who, name, role, &split_lots(&f.lots)).await.map(|(t, secret)| {
                    said.secret = Some((lang.t("令牌", "The token"), t.name, secret));
                })
            }
            None => Err(AccountError::Invalid { field: "role", zh: "未知角色".into(), en: "unknown role".into() }),
        },
        "remove_token" => accounts::remove_token(&state, &v.who, name).await.map(|()| {
            said.notice = Some(format!("{} {}", lang.t("已吊销令牌", "Revoked"), name));
        }),
        _ => Err(AccountError::Invalid { field: "action", zh: "未知操作".into(), en: "unknown action".into() }),
    };
    match result {
        Ok(()) => users_page(&state, &v, said, StatusCode::OK).await,
        Err(AccountError::Store(e)) => Err(Refused::Store(e)),
        Err(e) => {
            let status = match e {
                AccountError::NoSuch(_) => StatusCode::NOT_FOUND,
                AccountError::Taken(_) | AccountError::LastAdmin => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            users_page(&state, &v, Said { error: Some(e.say(zh)), ..Said::default() }, status).await
        }
    }
}

pub(super) async fn own(State(state): State<AppState>, v: Viewer) -> Result<Response, Refused> {
    own_page(&state, &v, None, None, StatusCode::OK).await
}

async fn own_page(
    state: &AppState,
    v: &Viewer,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let names = lot_names(state).await?;
    let (zh, en) = v.who.role.label();
    let body = html! {
        h1 { (lang.t("我的账户", "My account")) }
        @if let Some(n) = notice { div.notice id="notice" { (n) } }
        @if let Some(e) = error { div.notice.bad id="notice" { (e) } }
        div.card {
            dl.facts {
                dt { (lang.t("用户名", "Name")) } dd { (v.who.actor) }
                dt { (lang.t("角色", "Role")) } dd { (lang.t(zh, en)) }
                dt { (lang.t("车场", "Lots")) } dd {
                    @match &v.who.lots {
                        None => span.muted { (lang.t("全市", "the whole city")) },
                        Some(lots) => { @for (i, c) in lots.iter().enumerate() {
                            @if i > 0 { "、" }
                            a href=(format!("/lots/{}", encode(c))) { (names.get(c).unwrap_or(c)) }
                        } },
                    }
                }
            }
        }
        div.card.mt {
            h2 { (lang.t("修改密码", "Change password")) }
            form method="post" action="/account" id="change-password" {
                (v.csrf())
                p { label.field { (lang.t("当前密码", "Current password")) input type="password" name="current" required autocomplete="current-password"; } }
                p { label.field { (lang.t("新密码（至少 10 个字符）", "New password (10 characters or more)"))
                    input type="password" name="password" required minlength="10" autocomplete="new-password"; } }
                p { label.field { (lang.t("再次输入新密码", "New password again")) input type="password" name="again" required autocomplete="new-password"; } }
                button type="submit" { (lang.t("修改", "Change")) }
            }
            p.muted { (lang.t("修改后，本账户在其他设备上的登录将全部退出。", "Every other session of this account ends when you change it.")) }
        }
    };
    let mut response = reply(v, lang.t("我的账户", "My account"), "", body);
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Deserialize)]
pub(super) struct OwnForm {
    current: String,
    password: String,
    again: String,
}

pub(super) async fn change_own(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<OwnForm>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    // Guessing one's current password is throttled like a login.
    if let Err(wait) = state.dashboard().names.take(&v.who.actor, std::time::Instant::now()) {
        let text =
            format!("{}{wait}", lang.t("尝试次数过多，请稍后再试（秒）：", "Too many tries; try again in (seconds): "));
        return own_page(&state, &v, None, Some(&text), StatusCode::TOO_MANY_REQUESTS).await;
    }
    let bad = |zh, en| (lang.t(zh, en).to_owned(), StatusCode::BAD_REQUEST);
    let stored = state.store().account(&v.who.actor).await?;
    let hash = stored.map(|(_, h)| h).unwrap_or_default();
    let current = f.current.clone();
    let right =
        tokio::task::spawn_blocking(move || onepark_serve::password::verify(&current, &hash)).await.unwrap_or(false);
    let refusal = if !right {
        Some(bad("当前密码不正确", "The current password is wrong"))
    } else if f.password != f.again {
        Some(bad("两次输入的新密码不一致", "The new passwords differ"))
    } else {
        None
    };
    if let Some((error, status)) = refusal {
        return own_page(&state, &v, None, Some(&error), status).await;
    }
    let keep = crate::http::caller::session_hash(&headers);
    match accounts::set_password(&state, &v.who, &v.who.actor, &f.password, keep.as_deref()).await {
        Ok(()) => own_page(&state, &v, Some(lang.t("密码已修改", "Password changed")), None, StatusCode::OK).await,
        Err(AccountError::Store(e)) => Err(Refused::Store(e)),
        Err(e) => own_page(&state, &v, None, Some(&e.say(lang == Lang::Zh)), StatusCode::BAD_REQUEST).await,
    }
}
