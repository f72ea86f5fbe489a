//! The pages of both sides, server-rendered: the dashboard of the platform
//! and the booth page of a lot share this layout, stylesheet, script, the
//! language switch and the SVG charts. Every asset is compiled into the
//! binary ([`asset`]); nothing is fetched at run time.
//!
//! Pages are plain HTML that work without JavaScript; the script adds
//! live refresh (`data-live` on `<main>`: the page re-fetches itself as a
//! fragment and swaps it in), confirmations before destructive forms
//! (`data-confirm`) and the language switch.

pub mod chart;
pub mod csv;
pub mod qr;
pub mod xlsx;

pub use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The page language: Chinese unless the `lang=en` cookie says English.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// From a `Cookie:` header's value.
    pub fn from_cookie(header: Option<&str>) -> Lang {
        match cookie(header, "lang") {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// One cookie's value from a `Cookie:` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').map(str::trim).find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// A link of the top bar: where, its label (zh, en), whether it is the current page.
pub struct Nav<'a> {
    pub href: &'a str,
    pub zh: &'a str,
    pub en: &'a str,
    pub active: bool,
}

/// The page for an address nothing answers: what happened, in the reader's
/// language, and the ways back (Chinese, English, address).
pub fn not_found(lang: Lang, path: &str, brand: &str, links: &[(&str, &str, &str)]) -> Markup {
    let body = html! {
        div.card id="not-found" {
            h1 { (lang.t("找不到该页面", "Page not found")) }
            p.muted { (lang.t("地址可能有误，或该页面已不存在：", "The address may be wrong, or the page is gone: ")) code { (path) } }
            p {
                @for (zh, en, href) in links {
                    a.button href=(href) { (lang.t(zh, en)) } " "
                }
            }
        }
    };
    page(lang, lang.t("找不到该页面", "Page not found"), brand, &[], 0, body)
}

/// The whole page: top bar with the product name, links and language
/// switch, then `body` in `<main>`. `live` seconds > 0 refreshes `<main>`
/// in place that often.
pub fn page(lang: Lang, title: &str, brand: &str, nav: &[Nav], live: u32, body: Markup) -> Markup {
    page_as(lang, title, brand, nav, live, html! {}, body)
}

/// [`page`] with who is logged in (their name, a way out) at the header's end.
pub fn page_as(lang: Lang, title: &str, brand: &str, nav: &[Nav], live: u32, user: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (brand) }
                link rel="stylesheet" href="/assets/onepark.css";
                script src="/assets/onepark.js" defer {}
            }
            body {
                header.top {
                    // Home is the site's first page (the driver pages' brand leads to theirs, not the operators' login).
                    a.brand href=(nav.first().map_or("/", |n| n.href)) { (brand) }
                    nav {
                        @for n in nav {
                            a.active[n.active] href=(n.href) { (lang.t(n.zh, n.en)) }
                        }
                    }
                    span.spacer {}
                    span.live-state id="live-state" {}
                    (user)
                    button.lang type="button" data-lang=(if lang == Lang::Zh { "en" } else { "zh" }) {
                        (if lang == Lang::Zh { "English" } else { "中文" })
                    }
                }
                main data-live=[(live > 0).then_some(live)] { (body) }
            }
        }
    }
}

/// A compiled-in asset by its path under `/assets/`: (content type, body).
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "onepark.css" => Some(("text/css; charset=utf-8", include_str!("assets/onepark.css"))),
        "onepark.js" => Some(("text/javascript; charset=utf-8", include_str!("assets/onepark.js"))),
        _ => None,
    }
}

/// Integer fen as yuan with two decimals (`¥12.50`), exactly.
pub fn yuan(fen: i64) -> String {
    match onepark_domain::money::yuan(fen) {
        negative if fen < 0 => format!("-¥{}", &negative[1..]),
        amount => format!("¥{amount}"),
    }
}

/// `part / whole` as a whole percentage (0 when `whole` is 0).
pub fn percent(part: i64, whole: i64) -> i64 {
    if whole <= 0 { 0 } else { (part * 100 + whole / 2) / whole }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_cookies() {
        assert_eq!(yuan(1250), "¥12.50");
        assert_eq!(yuan(-5), "-¥0.05");
        assert_eq!(yuan(0), "¥0.00");
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 0);
        assert_eq!(cookie(Some("a=1; lang=en; b=2"), "lang"), Some("en"));
        assert_eq!(cookie(Some("language=en"), "lang"), None);
        assert_eq!(Lang::from_cookie(Some("lang=en")), Lang::En);
        assert_eq!(Lang::from_cookie(None), Lang::Zh);
    }

    #[test]
    fn pages_escape_what_they_are_given() {
        let body = html! { p { ("<script>alert(1)</script>") } };
        let text = page(Lang::Zh, "<x>", "onepark", &[], 5, body).into_string();
        assert!(!text.contains("<script>alert"));
        assert!(text.contains("&lt;script&gt;"));
        assert!(text.contains("data-live=\"5\""));
    }
}
