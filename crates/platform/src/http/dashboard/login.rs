//! Logging in and out: the admin token for a session cookie, throttled per
//! client address.

use super::*;

pub(super) async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, onepark_serve::pages::lang(&headers), Notice::None)
}

/// What the login page says above its form.
pub(super) enum Notice {
    None,
    Wrong,
    /// Too many tries from this address: seconds to wait.
    Throttled(u64),
}

pub(super) fn login_form(state: &AppState, lang: Lang, notice: Notice) -> Response {
    if state.admin_token().is_none() {
        return Refused::Disabled(lang).into_response();
    }
    let body = html! {
        div.card.login {
            h1 { (lang.t("登录控制台", "Sign in")) }
            @match notice {
                Notice::Wrong => div.notice.bad { (lang.t("令牌不正确", "Wrong token")) },
                Notice::Throttled(wait) => div.notice.bad {
                    (lang.t("尝试次数过多，请稍后再试（秒）：", "Too many tries; try again in (seconds): ")) (wait)
                },
                Notice::None => {},
            }
            form method="post" action="/login" {
                p { label.field { (lang.t("管理令牌（admin_token）", "Admin token (admin_token)"))
                    input type="password" name="token" required autofocus; } }
                button type="submit" { (lang.t("登录", "Sign in")) }
            }
        }
    };
    let page = onepark_serve::pages::html(page(lang, lang.t("登录", "Sign in"), "", 0, body));
    match notice {
        Notice::None => page,
        Notice::Wrong => (StatusCode::UNAUTHORIZED, page).into_response(),
        Notice::Throttled(wait) => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, wait.to_string())], page).into_response()
        }
    }
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    token: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    log_in(&state, client, &f.token, &headers)
}

/// The admin token, from the form or the demo's `/?token=` link, for a session.
pub(super) fn log_in(state: &AppState, client: IpAddr, token: &str, headers: &HeaderMap) -> Response {
    let lang = onepark_serve::pages::lang(headers);
    let Some(expected) = state.admin_token() else { return Refused::Disabled(lang).into_response() };
    let guard = state.dashboard();
    let now = Instant::now();
    // Counted before the comparison, so concurrent tries cannot all slip
    // under the limit while earlier ones are being compared.
    if let Err(wait) = guard.logins.take(&client.to_string(), now) {
        tracing::warn!(%client, "dashboard login throttled");
        return login_form(state, lang, Notice::Throttled(wait));
    }
    if !crate::secret::same_secret(token, expected) {
        return login_form(state, lang, Notice::Wrong);
    }
    let Some(id) = guard.open(now) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no random session id").into_response();
    };
    let secure = if secure(guard, headers) { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", SESSION.as_secs());
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

/// Ends the session server-side (a copied cookie stops working) and clears it.
pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = onepark_serve::pages::cookie(&headers, COOKIE) {
        state.dashboard().close(id);
    }
    let secure = if secure(state.dashboard(), &headers) { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
