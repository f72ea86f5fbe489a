//! The HTTP uplink's form fields (`accessID`, `cipher`, `sign`, and `file`
//! for photos), found in the body or the query string (D-16).

use serde::Deserialize;

/// The fields of one uplink request, still sealed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UplinkForm {
    pub access_id: String,
    pub cipher: String,
    pub sign: String,
    /// `uploadPhoto` only: the Base64 JPEG, outside the cipher.
    pub file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("missing form field `{0}`")]
    Missing(&'static str),
    #[error("input is neither a form body, a request line/URL nor a JSON object with accessID, cipher and sign")]
    Unrecognised,
}

impl FormError {
    pub fn zh(&self) -> String {
        match self {
            FormError::Missing(field) => format!("缺少参数 {field}"),
            FormError::Unrecognised => "请求格式无法识别".into(),
        }
    }
}

impl UplinkForm {
    /// Reads the fields from a query string and a form body; the body wins
    /// where both carry a field.
    pub fn parse(query: &[u8], body: &[u8]) -> Result<UplinkForm, FormError> {
        let mut form = UplinkForm::default();
        for source in [query, body] {
            for (key, value) in form_urlencoded::parse(source) {
                let slot = match key.as_ref() {
                    "accessID" | "accessId" | "accessid" => &mut form.access_id,
                    "cipher" => &mut form.cipher,
                    "sign" => &mut form.sign,
                    "file" => form.file.get_or_insert_with(String::new),
                    _ => continue,
                };
                if !value.is_empty() {
                    *slot = value.into_owned();
                }
            }
        }
        form.require()
    }

    fn require(self) -> Result<UplinkForm, FormError> {
        if self.access_id.trim().is_empty() {
            Err(FormError::Missing("accessID"))
        } else if self.cipher.is_empty() {
            Err(FormError::Missing("cipher"))
        } else if self.sign.is_empty() {
            Err(FormError::Missing("sign"))
        } else {
            Ok(self)
        }
    }

    /// Accepts whatever an integrator pastes: a form body, a request line or
    /// URL with a query string, or a JSON object with the three fields.
    pub fn parse_loose(text: &str) -> Result<UplinkForm, FormError> {
        let text = text.trim();
        if text.starts_with('{') {
            #[derive(Deserialize)]
            struct Fields {
                #[serde(rename = "accessID", alias = "accessId", default)]
                access_id: String,
                #[serde(default)]
                cipher: String,
                #[serde(default)]
                sign: String,
                file: Option<String>,
            }
            let f: Fields = serde_json::from_str(text).map_err(|_| FormError::Unrecognised)?;
            return UplinkForm { access_id: f.access_id, cipher: f.cipher, sign: f.sign, file: f.file }.require();
        }
        let first_line = text.lines().next().unwrap_or_default();
        if let Some((_, rest)) = first_line.split_once('?') {
            let query = rest.split_whitespace().next().unwrap_or_default();
            // A full request may carry the fields in its body instead.
            let body = text.split_once("\r\n\r\n").or_else(|| text.split_once("\n\n")).map_or("", |(_, b)| b);
            return UplinkForm::parse(query.as_bytes(), body.trim().as_bytes());
        }
        let body = text.split_once("\r\n\r\n").or_else(|| text.split_once("\n\n")).map_or(text, |(_, b)| b);
        UplinkForm::parse(b"", body.trim().as_bytes())
    }

    /// The URL-encoded form body, so Base64's `+`, `/` and `=` survive.
    pub fn encode(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        out.append_pair("accessID", &self.access_id);
        out.append_pair("cipher", &self.cipher);
        out.append_pair("sign", &self.sign);
        if let Some(file) = &self.file {
            out.append_pair("file", file);
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> UplinkForm {
        UplinkForm { access_id: "234".into(), cipher: "ab+c/d==".into(), sign: "s+g=".into(), file: None }
    }

    #[test]
    fn encode_parse_round_trip() {
        let body = form().encode();
        assert_eq!(body, "accessID=234&cipher=ab%2Bc%2Fd%3D%3D&sign=s%2Bg%3D");
        assert_eq!(UplinkForm::parse(b"", body.as_bytes()), Ok(form()));
    }

    #[test]
    fn query_and_body_merge() {
        let f = UplinkForm::parse(b"accessID=234&cipher=x", b"cipher=ab%2Bc%2Fd%3D%3D&sign=s%2Bg%3D").expect("merge");
        assert_eq!(f, form());
        assert_eq!(UplinkForm::parse(b"accessID=1", b"sign=x"), Err(FormError::Missing("cipher")));
    }

    #[test]
    fn unencoded_plus_becomes_space() {
        // What a client that forgot to URL-encode produces; open() repairs it.
        let f = UplinkForm::parse(b"", b"accessID=234&cipher=ab+c&sign=s").expect("parse");
        assert_eq!(f.cipher, "ab c");
    }

    #[test]
    fn loose_inputs() {
        let body = form().encode();
        let line = format!("POST /api/v1/cp/uploadCarInData?{body} HTTP/1.1");
        let url = format!("http://localhost:8080/api/v1/cp/uploadCarInData?{body}");
        let request = format!("POST /api/v1/cp/uploadCarInData HTTP/1.1\r\nHost: x\r\n\r\n{body}");
        let json = r#"{"accessID":"234","cipher":"ab+c/d==","sign":"s+g="}"#.to_owned();
        for text in [body, line, url, request, json] {
            assert_eq!(UplinkForm::parse_loose(&text), Ok(form()), "{text}");
        }
        assert_eq!(UplinkForm::parse_loose("{}"), Err(FormError::Missing("accessID")));
    }
}
