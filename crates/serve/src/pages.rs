//! What both sides' pages (the dashboard, the booth) share at the HTTP
//! edge: the compiled-in assets of `onepark-web`, and how a page is sent.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What a page may load and who may frame it: this origin's stylesheet,
/// script and photos only, no inline script or style (the pages have none:
/// a bar's length is an SVG attribute), forms posting to this origin, no
/// framing (clickjacking), no plugins, no `<base>` rewriting.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `GET /assets/{name}`: a stylesheet or script compiled into the binary.
pub async fn asset(Path(name): Path<String>) -> Response {
    match onepark_web::asset(&name) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A rendered page: HTML, never cached (its figures are live), with the
/// headers every page of both sides carries (set here, once).
pub fn html(markup: onepark_web::Markup) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            // For browsers without frame-ancestors.
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // A login link's `?token=` never leaves for another origin in a
            // Referer (not `no-referrer`: that turns a same-origin POST's
            // Origin into `null`, which is refused as foreign).
            (header::REFERRER_POLICY, "same-origin"),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// Where a side's pages start, for its 404 page: the brand in the top bar and the
/// links back (Chinese, English, address).
pub struct Home<'a> {
    pub brand: (&'a str, &'a str),
    pub links: &'a [(&'a str, &'a str, &'a str)],
}

/// 404 for a path nothing answers: an API path gets the APIs' JSON error
/// naming it; any other gets a page in the site's layout, in the reader's
/// language, with the way back.
pub fn not_found(headers: &HeaderMap, path: &str, home: &Home) -> Response {
    if path.starts_with("/api/") {
        let body = serde_json::json!({ "error": format!("no such endpoint: {path}") });
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    }
    let lang = lang(headers);
    let page = onepark_web::not_found(lang, path, lang.t(home.brand.0, home.brand.1), home.links);
    (StatusCode::NOT_FOUND, html(page)).into_response()
}

/// A JPEG from a store, kept a day by the browser (photos never change).
pub fn jpeg(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    onepark_web::cookie(headers.get(header::COOKIE).and_then(|v| v.to_str().ok()), name)
}

/// The page language the request's `lang` cookie asks for.
pub fn lang(headers: &HeaderMap) -> onepark_web::Lang {
    onepark_web::Lang::from_cookie(headers.get(header::COOKIE).and_then(|v| v.to_str().ok()))
}

/// The client's address (unspecified when served without a socket, in tests):
/// what the pages' throttles count.
pub struct Client(pub std::net::IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        Ok(Client(peer.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))))
    }
}

impl Client {
    /// The key a throttle counts it under: an IPv6 client by its /64, which
    /// one subscriber usually holds whole.
    pub fn key(&self) -> String {
        match self.0 {
            std::net::IpAddr::V6(ip) => {
                let s = ip.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            ip => ip.to_string(),
        }
    }
}

/// A request a browser sent from another site's page — or from another origin
/// of this host, whose pages a SameSite cookie would also ride along with:
/// `Sec-Fetch-Site` says `cross-site` or `same-site`, or `Origin` names
/// another host than `Host` (`Origin: null`, an opaque origin such as a
/// sandboxed frame or a redirect, is foreign). The scheme is not compared
/// (behind a TLS proxy the browser says https and this side hears http). A
/// typed address (`Sec-Fetch-Site: none`) and clients that are no browser
/// (neither header) are not cross-site. The one rule of every page and form
/// of both sides.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    if text("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site") {
        return true;
    }
    match text(header::ORIGIN.as_str()) {
        None => false,
        Some(origin) => {
            let host = text(header::HOST.as_str()).unwrap_or_default();
            let origin_host = origin.split_once("://").map(|(_, authority)| authority);
            !origin_host.is_some_and(|o| !host.is_empty() && o.eq_ignore_ascii_case(host))
        }
    }
}
