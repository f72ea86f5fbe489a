//! Logging in and out: a name and password for a session cookie
//! (`crate::http::caller`).

use super::*;
use crate::http::caller::Login;

pub(super) async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, onepark_serve::pages::lang(&headers), Notice::None, "").await
}

/// What the login page says above its form.
pub(super) enum Notice {
    None,
    Wrong,
    /// Too many tries from this address or for this name: seconds to wait.
    Throttled(u64),
}

pub(super) async fn login_form(state: &AppState, lang: Lang, notice: Notice, name: &str) -> Response {
    // A fresh install has no account yet: say how to make the first.
    let first = matches!(state.store().has_admin().await, Ok(false));
    let body = html! {
        div.card.login {
            h1 { (lang.t("登录控制台", "Sign in")) }
            @match notice {
                Notice::Wrong => div.notice.bad id="login-error" { (lang.t("用户名或密码不正确", "Wrong name or password")) },
                Notice::Throttled(wait) => div.notice.bad id="login-error" {
                    (lang.t("尝试次数过多，请稍后再试（秒）：", "Too many tries; try again in (seconds): ")) (wait)
                },
                Notice::None => {},
            }
            @if first {
                div.notice id="no-accounts" {
                    (lang.t("尚无管理员账户。请在服务器上运行：", "No administrator account yet. On the server, run:"))
                    br; code { "onepark platform users add admin --role admin" }
                }
            }
            form method="post" action="/login" {
                p { label.field { (lang.t("用户名", "Name"))
                    input type="text" name="name" value=(name) required autofocus autocomplete="username" autocapitalize="none"; } }
                p { label.field { (lang.t("密码", "Password"))
                    input type="password" name="password" required autocomplete="current-password"; } }
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
    name: String,
    password: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = onepark_serve::pages::lang(&headers);
    let name = f.name.trim();
    match crate::http::caller::log_in(&state, client, name, &f.password).await {
        Login::Opened(id) => {
            let secure = if secure(state.dashboard(), &headers) { "; Secure" } else { "" };
            let cookie =
                format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", SESSION.as_secs());
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Login::Wrong => login_form(&state, lang, Notice::Wrong, name).await,
        Login::Throttled(wait) => login_form(&state, lang, Notice::Throttled(wait), name).await,
        Login::Failed(e) => Refused::Store(e).into_response(),
    }
}

/// Ends the session server-side (a copied cookie stops working) and clears it.
pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = crate::http::caller::log_out(&state, &headers).await {
        return Refused::Store(e).into_response();
    }
    let secure = if secure(state.dashboard(), &headers) { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
