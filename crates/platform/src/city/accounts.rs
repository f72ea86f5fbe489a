//! Making and ending accounts and integration tokens, from the console's
//! accounts page and `onepark platform users|tokens`: validated, audited,
//! and never leaving the city without an administrator.

use std::fmt;

use crate::access::{Role, Who};
use crate::city::audit::{self, Change};
use crate::state::AppState;
use crate::store::{Account, ApiToken, StoreError};

/// The shortest password an account may have.
pub const MIN_PASSWORD: usize = 10;

#[derive(Debug)]
pub enum AccountError {
    /// The field, and what is wrong with it (in both languages).
    Invalid {
        field: &'static str,
        zh: String,
        en: String,
    },
    Taken(String),
    NoSuch(String),
    /// The change would leave no administrator.
    LastAdmin,
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Store(e)
    }
}

impl AccountError {
    fn invalid(field: &'static str, zh: impl Into<String>, en: impl Into<String>) -> AccountError {
        AccountError::Invalid { field, zh: zh.into(), en: en.into() }
    }

    /// What a person is told, in their language.
    pub fn say(&self, zh: bool) -> String {
        match self {
            AccountError::Invalid { field, zh: z, en } => {
                if zh {
                    format!("{field}：{z}")
                } else {
                    format!("{field}: {en}")
                }
            }
            AccountError::Taken(n) => {
                if zh {
                    format!("名称 {n} 已存在")
                } else {
                    format!("name: `{n}` is taken")
                }
            }
            AccountError::NoSuch(n) => {
                if zh {
                    format!("没有名为 {n} 的账户或令牌")
                } else {
                    format!("name: no `{n}`")
                }
            }
            AccountError::LastAdmin => {
                if zh {
                    "不能移除最后一个城市管理员".into()
                } else {
                    "the last city administrator cannot be removed".into()
                }
            }
            AccountError::Store(_) => {
                if zh {
                    "数据库错误".into()
                } else {
                    "database error".into()
                }
            }
        }
    }
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.say(false))
    }
}

/// A name: 1–32 letters (Chinese ones too), digits, `.`, `_`, `-`, `@`.
fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 32
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    // The audit trail's own actors are never people's names.
    let reserved = matches!(name, "cli" | "driver" | "admin_token");
    if ok && !reserved {
        Ok(())
    } else if reserved {
        Err(AccountError::invalid("name", "该名称保留给系统使用", "that name is reserved"))
    } else {
        Err(AccountError::invalid("name", "1–32 个字母、汉字、数字或 . _ - @", "1 to 32 letters, digits or . _ - @"))
    }
}

pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD || password.chars().count() > 128 {
        return Err(AccountError::invalid(
            "password",
            format!("至少 {MIN_PASSWORD} 个字符（最多 128）"),
            format!("at least {MIN_PASSWORD} characters (at most 128)"),
        ));
    }
    Ok(())
}

/// The lots of a role: a scoped role needs known lots (a booth exactly
/// one); the others none.
async fn check_lots(state: &AppState, role: Role, lots: &[String]) -> Result<Vec<String>, AccountError> {
    if !role.scoped() {
        return Ok(Vec::new());
    }
    let mut lots: Vec<String> = lots.iter().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect();
    lots.sort();
    lots.dedup();
    if lots.is_empty() || (role == Role::Booth && lots.len() != 1) {
        return Err(AccountError::invalid(
            "lots",
            "车场运营至少一个车场，岗亭收费员恰好一个车场",
            "an operator needs at least one lot, a booth exactly one",
        ));
    }
    let registered = state.store().lots().await?;
    for code in &lots {
        let known = crate::city::lots::lot_of(state, code).await?.is_some()
            || registered.iter().any(|l| l.parking_codes.contains(code));
        if !known {
            return Err(AccountError::invalid("lots", format!("未知车场 {code}"), format!("unknown lot `{code}`")));
        }
    }
    Ok(lots)
}

fn role_text(role: Role) -> &'static str {
    role.as_str()
}

/// Adds an account with this password.
pub async fn add(
    state: &AppState,
    who: &Who,
    name: &str,
    role: Role,
    lots: &[String],
    password: &str,
) -> Result<Account, AccountError> {
    check_name(name)?;
    check_password(password)?;
    let lots = check_lots(state, role, lots).await?;
    let now = onepark_domain::time::format_time(state.now());
    let account = Account { name: name.to_owned(), role, lots, created_at: now.clone(), changed_at: now.clone() };
    let change = Change::new("account", "", name)
        .new_value(serde_json::json!({ "role": role_text(role), "lots": account.lots }));
    let pending = audit::begin(state.store(), who, &now, change).await?;
    let result = match hash(password).await {
        Ok(hash) => match state.store().add_account(&account, &hash).await {
            Ok(true) => Ok(account),
            Ok(false) => Err(AccountError::Taken(name.to_owned())),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    pending.finish(state.store(), &result).await;
    result
}

async fn hash(password: &str) -> Result<String, AccountError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || onepark_serve::password::hash_password(&password))
        .await
        .map_err(|_| AccountError::Store(StoreError::NotWritten))?
        .map_err(|e| AccountError::invalid("password", format!("无法计算哈希：{e}"), format!("not hashed: {e}")))
}

/// Removes an account (its sessions end with it); never the last administrator.
pub async fn remove(state: &AppState, who: &Who, name: &str) -> Result<(), AccountError> {
    let Some((account, _)) = state.store().account(name).await? else {
        return Err(AccountError::NoSuch(name.to_owned()));
    };
    if account.role == Role::Admin {
        let admins = state.store().accounts().await?.iter().filter(|a| a.role == Role::Admin).count();
        if admins <= 1 {
            return Err(AccountError::LastAdmin);
        }
    }
    let now = onepark_domain::time::format_time(state.now());
    let change = Change::new("account", "", name)
        .old(serde_json::json!({ "role": role_text(account.role), "lots": account.lots }));
    let pending = audit::begin(state.store(), who, &now, change).await?;
    let result = match state.store().remove_account(name).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(AccountError::NoSuch(name.to_owned())),
        Err(e) => Err(e.into()),
    };
    pending.finish(state.store(), &result).await;
    result
}

/// Sets an account's password; every session of it but `keep` ends.
pub async fn set_password(
    state: &AppState,
    who: &Who,
    name: &str,
    password: &str,
    keep: Option<&str>,
) -> Result<(), AccountError> {
    check_password(password)?;
    let now = onepark_domain::time::format_time(state.now());
    // The password itself is never written to the trail.
    let change = Change::new("password", "", name);
    let pending = audit::begin(state.store(), who, &now, change).await?;
    let result = match hash(password).await {
        Ok(hash) => match state.store().set_password(name, &hash, &now, keep).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AccountError::NoSuch(name.to_owned())),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    pending.finish(state.store(), &result).await;
    result
}

/// Adds an integration's token; returns the token (shown once).
pub async fn add_token(
    state: &AppState,
    who: &Who,
    name: &str,
    role: Role,
    lots: &[String],
) -> Result<(ApiToken, String), AccountError> {
    check_name(name)?;
    let lots = check_lots(state, role, lots).await?;
    let now = onepark_domain::time::format_time(state.now());
    let token = ApiToken { name: name.to_owned(), role, lots, created_at: now.clone() };
    let change =
        Change::new("token", "", name).new_value(serde_json::json!({ "role": role_text(role), "lots": token.lots }));
    let pending = audit::begin(state.store(), who, &now, change).await?;
    let result = match crate::secret::new_token() {
        Ok((secret, hash)) => match state.store().add_token(&token, &hash).await {
            Ok(true) => Ok((token, secret)),
            Ok(false) => Err(AccountError::Taken(name.to_owned())),
            Err(e) => Err(e.into()),
        },
        Err(_) => Err(AccountError::Store(StoreError::NotWritten)),
    };
    pending.finish(state.store(), &result).await;
    result
}

pub async fn remove_token(state: &AppState, who: &Who, name: &str) -> Result<(), AccountError> {
    let now = onepark_domain::time::format_time(state.now());
    let pending = audit::begin(state.store(), who, &now, Change::new("token", "", name)).await?;
    let result = match state.store().remove_token(name).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(AccountError::NoSuch(name.to_owned())),
        Err(e) => Err(e.into()),
    };
    pending.finish(state.store(), &result).await;
    result
}
