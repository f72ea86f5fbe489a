//! Who is calling: a console session (a random id in an HttpOnly cookie; only
//! its SHA-256 is stored, in `console_sessions`, so every node behind a load
//! balancer knows it and a restart logs nobody out; 12 hours from login) or
//! a bearer token (an integration's, or the configured bootstrap
//! `admin_token`). Logins are throttled per client address and per account
//! name (`crate::http::session::Guard`), counted before the password is checked.

use std::net::IpAddr;
use std::time::Instant;

use axum::http::HeaderMap;

use crate::access::{Role, Who};
use crate::http::session::{COOKIE, SESSION};
use crate::secret::digest;
use crate::state::AppState;
use crate::store::StoreError;

/// How a login ended.
pub(crate) enum Login {
    /// The new session's id (for the cookie).
    Opened(String),
    Wrong,
    /// Seconds to wait.
    Throttled(u64),
    Failed(StoreError),
}

/// Sessions run on the platform's clock (a test's manual clock moves them too).
fn wall_seconds(state: &AppState) -> i64 {
    state.clock().now().timestamp()
}

/// Checks a name and password and opens a session.
pub(crate) async fn log_in(state: &AppState, client: IpAddr, name: &str, password: &str) -> Login {
    let guard = state.dashboard();
    let now = Instant::now();
    // Counted before the comparison, so concurrent tries cannot all slip
    // under the limit while earlier ones are being checked; by address and
    // by name, so many addresses cannot guess one account's password either.
    // An IPv6 client by its /64 (one subscriber holds it whole), as every throttle counts it.
    if let Err(wait) = guard.logins.take(&onepark_serve::pages::Client(client).key(), now) {
        tracing::warn!(%client, "console login throttled (address)");
        return Login::Throttled(wait);
    }
    if let Err(wait) = guard.names.take(name, now) {
        tracing::warn!(%client, name, "console login throttled (account)");
        return Login::Throttled(wait);
    }
    let stored = match state.store().account(name).await {
        Ok(stored) => stored,
        Err(e) => return Login::Failed(e),
    };
    // An unknown name costs a hash check too, so timing does not tell
    // which names exist.
    let hash = stored.as_ref().map_or_else(|| onepark_serve::password::DUMMY.to_owned(), |(_, hash)| hash.clone());
    let given = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || onepark_serve::password::verify(&given, &hash)).await.unwrap_or(false);
    let Some((account, _)) = stored.filter(|_| ok) else {
        tracing::info!(%client, name, "console login refused");
        return Login::Wrong;
    };
    let (Ok(id), Ok(csrf)) = (crate::secret::random_hex(32), crate::secret::random_hex(16)) else {
        return Login::Failed(StoreError::NotWritten);
    };
    let now_s = wall_seconds(state);
    let expires = now_s + SESSION.as_secs() as i64;
    if let Err(e) =
        state.store().open_session(&digest(&id), &account.name, &csrf, &client.to_string(), now_s, expires).await
    {
        return Login::Failed(e);
    }
    tracing::info!(%client, name = %account.name, "console login");
    Login::Opened(id)
}

/// The session id in the request's cookie, if any.
pub(crate) fn session_id(headers: &HeaderMap) -> Option<&str> {
    onepark_serve::pages::cookie(headers, COOKIE).filter(|id| !id.is_empty())
}

/// The console caller of this cookie, if its session is live.
pub(crate) async fn from_cookie(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<Option<Who>, StoreError> {
    let Some(id) = session_id(headers) else { return Ok(None) };
    let Some(session) = state.store().session(&digest(id), wall_seconds(state)).await? else { return Ok(None) };
    let a = session.account;
    Ok(Some(Who::new(a.name, a.role, &a.lots, client.to_string(), session.csrf)))
}

/// Ends the session of this cookie (a copied cookie stops working).
pub(crate) async fn log_out(state: &AppState, headers: &HeaderMap) -> Result<(), StoreError> {
    match session_id(headers) {
        Some(id) => state.store().close_session(&digest(id)).await,
        None => Ok(()),
    }
}

/// The hash a session is kept under (a password change keeps the changer's own).
pub(crate) fn session_hash(headers: &HeaderMap) -> Option<String> {
    session_id(headers).map(digest)
}

/// The integration of this `Authorization: Bearer …`, if the token is one.
pub(crate) async fn from_bearer(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<Option<Who>, StoreError> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if given.is_empty() {
        return Ok(None);
    }
    if state.admin_token().is_some_and(|t| crate::secret::same_secret(given, t)) {
        return Ok(Some(Who::new("admin_token".into(), Role::Admin, &[], client.to_string(), String::new())));
    }
    let Some(token) = state.store().token(&digest(given)).await? else { return Ok(None) };
    Ok(Some(Who::new(format!("token:{}", token.name), token.role, &token.lots, client.to_string(), String::new())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dummy_hash_is_a_hash_that_verifies_nothing_typed() {
        assert!(onepark_serve::password::valid_hash(onepark_serve::password::DUMMY));
        assert!(!onepark_serve::password::verify("", onepark_serve::password::DUMMY));
        assert!(!onepark_serve::password::verify("admin", onepark_serve::password::DUMMY));
    }
}
