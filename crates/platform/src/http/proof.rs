//! What a browser can show for a plate before the driver pages reveal more
//! than paying needs (where the car is, when it came, its history, receipts
//! and sign-up): a signed cookie naming the plates this browser has proven.
//! It is earned by paying from this browser, by the 查询码 printed on every
//! receipt, or — with the sandbox channel only (play money) — on request.
//!
//! The seam for a deployment: a real channel's login (WeChat / Alipay OAuth,
//! which binds plates to the payer) calls [`Proofs::grant`] for the plates
//! the channel says are the payer's; nothing else changes.
//!
//! Also the driver forms' CSRF token (double submit: a random cookie the
//! form repeats), so no other site's page can post a driver form.

use axum::http::HeaderMap;

const PLATES: &str = "op_plates";
const CSRF: &str = "op_csrf";
/// A proof lasts this long.
const DAYS: i64 = 30;
/// Plates one browser can hold proof for (a family's cars, a fleet driver's few).
const MAX_PLATES: usize = 8;

/// The key proofs and receipt codes are signed with.
pub struct Proofs {
    key: Vec<u8>,
}

impl Proofs {
    /// `secret`: stable across restarts and nodes (derived from the
    /// platform's private key), so proofs and receipt codes stay valid.
    pub fn new(secret: &[u8]) -> Proofs {
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(b"onepark-driver-proof\n");
        hasher.update(secret);
        Proofs { key: hasher.finish().to_vec() }
    }

    /// The plates the request's cookie proves (signature and expiry checked).
    pub fn plates(&self, headers: &HeaderMap, now_unix: i64) -> Vec<String> {
        let Some(value) = onepark_serve::pages::cookie(headers, PLATES) else { return Vec::new() };
        let mut parts = value.splitn(3, '.');
        let (Some(expiry), Some(plates), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return Vec::new();
        };
        let signed = format!("{expiry}.{plates}");
        if !onepark_pay::sign::verify(&self.key, signed.as_bytes(), mac)
            || expiry.parse::<i64>().is_ok_and(|e| e < now_unix)
        {
            return Vec::new();
        }
        let Some(bytes) = unhex(plates) else { return Vec::new() };
        String::from_utf8(bytes).map(|text| text.split('\n').map(str::to_owned).collect()).unwrap_or_default()
    }

    pub fn proves(&self, headers: &HeaderMap, plate_no: &str, now_unix: i64) -> bool {
        self.plates(headers, now_unix).iter().any(|p| p == plate_no)
    }

    /// The `Set-Cookie` value adding `plate_no` to what the request proves.
    pub fn grant(&self, headers: &HeaderMap, plate_no: &str, now_unix: i64) -> String {
        let mut plates = self.plates(headers, now_unix);
        plates.retain(|p| p != plate_no);
        plates.insert(0, plate_no.to_owned());
        plates.truncate(MAX_PLATES);
        let expiry = now_unix + DAYS * 86_400;
        let text: String = plates.join("\n").bytes().map(|b| format!("{b:02x}")).collect();
        let signed = format!("{expiry}.{text}");
        let mac = onepark_pay::sign::sign(&self.key, signed.as_bytes());
        format!("{PLATES}={signed}.{mac}; Path=/pay; Max-Age={}; HttpOnly; SameSite=Lax", DAYS * 86_400)
    }

    /// The key of a link that opens `what` (a quote, a receipt) without proof of its plate.
    pub fn link(&self, what: &str) -> String {
        onepark_pay::sign::sign(&self.key, format!("link\n{what}").as_bytes())[..24].to_owned()
    }

    pub fn opens(&self, what: &str, key: Option<&str>) -> bool {
        let want = self.link(what);
        key.is_some_and(|k| k.len() == want.len() && openssl::memcmp::eq(k.as_bytes(), want.as_bytes()))
    }

    /// A receipt's 查询码: 8 digits only the platform can compute for the order.
    pub fn receipt_code(&self, order_id: &str) -> String {
        let mac = onepark_pay::sign::sign(&self.key, format!("receipt\n{order_id}").as_bytes());
        let n = u64::from_str_radix(&mac[..15], 16).unwrap_or_default();
        format!("{:08}", n % 100_000_000)
    }
}

/// The driver forms' CSRF token: the request's, or a new one to set.
pub fn csrf(headers: &HeaderMap) -> (String, Option<String>) {
    match onepark_serve::pages::cookie(headers, CSRF).filter(|t| t.len() == 32) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = crate::secret::random_hex(16).unwrap_or_default();
            let cookie = format!("{CSRF}={token}; Path=/pay; HttpOnly; SameSite=Strict");
            (token, Some(cookie))
        }
    }
}

/// A driver form's post is genuine: from this site's page (no other site's
/// `Sec-Fetch-Site` / `Origin`; `Origin: null` is foreign) and carrying the
/// token of its cookie.
pub fn genuine(headers: &HeaderMap, token: &str) -> bool {
    let cross_site = onepark_serve::pages::cross_site(headers);
    let cookie = onepark_serve::pages::cookie(headers, CSRF).unwrap_or_default();
    !cross_site
        && !cookie.is_empty()
        && cookie.len() == token.len()
        && openssl::memcmp::eq(cookie.as_bytes(), token.as_bytes())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    fn with_cookie(set: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let pair = set.split(';').next().expect("pair");
        headers.insert(header::COOKIE, pair.parse().expect("cookie"));
        headers
    }

    #[test]
    fn a_proof_names_its_plates_until_it_expires_and_cannot_be_forged() {
        let proofs = Proofs::new(b"secret");
        let set = proofs.grant(&HeaderMap::new(), "鲁B12345", 1000);
        let headers = with_cookie(&set);
        assert_eq!(proofs.plates(&headers, 1000), ["鲁B12345"]);
        assert!(proofs.plates(&headers, 1000 + DAYS * 86_400 + 1).is_empty(), "expired");
        let other = Proofs::new(b"other secret");
        assert!(other.plates(&headers, 1000).is_empty(), "another key's proof");
        let forged = set.replace(&"鲁B12345".bytes().map(|b| format!("{b:02x}")).collect::<String>(), "41");
        assert!(proofs.plates(&with_cookie(&forged), 1000).is_empty(), "plates changed under the signature");
        let two = proofs.grant(&headers, "鲁B54321", 1000);
        assert_eq!(proofs.plates(&with_cookie(&two), 1000), ["鲁B54321", "鲁B12345"]);
    }

    #[test]
    fn receipt_codes_are_eight_digits_per_order() {
        let proofs = Proofs::new(b"secret");
        let code = proofs.receipt_code("OP1");
        assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        assert_eq!(code, proofs.receipt_code("OP1"));
        assert_ne!(code, proofs.receipt_code("OP2"));
    }

    #[test]
    fn forms_from_other_sites_or_without_the_token_are_refused() {
        let (token, set) = csrf(&HeaderMap::new());
        let mut headers = with_cookie(&set.expect("a new token"));
        assert!(genuine(&headers, &token));
        assert!(!genuine(&headers, "0123456789abcdef0123456789abcdef"), "another token");
        headers.insert(header::HOST, "pay.example".parse().expect("host"));
        headers.insert(header::ORIGIN, "null".parse().expect("origin"));
        assert!(!genuine(&headers, &token), "Origin: null is foreign");
        headers.insert(header::ORIGIN, "https://pay.example".parse().expect("origin"));
        assert!(genuine(&headers, &token));
        headers.insert("sec-fetch-site", "cross-site".parse().expect("site"));
        assert!(!genuine(&headers, &token));
        assert!(!genuine(&HeaderMap::new(), ""), "no cookie, no token");
    }
}
