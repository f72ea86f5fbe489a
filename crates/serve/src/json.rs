//! JSON request bodies as their documents describe them.
//!
//! serde's derived structs accept more than a JSON Schema `object` does (an
//! array fills the fields in order) and less than its `integer` does (`1.0`
//! is an integer to JSON Schema, a float to serde). Bodies are read through
//! [`decode`]: an object is required, integral numbers are integers, and an
//! error names the field by its path.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a body was refused: not JSON at all (HTTP 400), or JSON of the wrong
/// shape (HTTP 422). The text names the field (`carType: …`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("body: not valid JSON: {0}")]
    Syntax(String),
    #[error("{0}")]
    Shape(String),
}

impl BodyError {
    /// The HTTP status that fits.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::Syntax(_) => 400,
            BodyError::Shape(_) => 422,
        }
    }
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| BodyError::Syntax(e.to_string()))?;
    if !value.is_object() {
        return Err(BodyError::Shape("body: expected a JSON object".into()));
    }
    integral(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        BodyError::Shape(if path == "." { inner.to_string() } else { format!("{path}: {inner}") })
    })
}

/// `1.0` → `1`, everywhere in the value.
fn integral(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral),
        Value::Object(fields) => fields.values_mut().for_each(integral),
        _ => {}
    }
}

use axum::response::{IntoResponse, Response};

/// `GET` of an API's OpenAPI document (generated once at start-up).
pub fn document<S: Clone + Send + Sync + 'static>(json: String) -> axum::routing::MethodRouter<S> {
    let json: std::sync::Arc<str> = json.into();
    axum::routing::get(move || {
        let json = json.clone();
        async move { ([("content-type", "application/json")], json.to_string()) }
    })
}

/// Every API error has one shape, `{"error": "…"}`, also the ones axum
/// answers by itself (a query or body that does not parse, a wrong content
/// type, a wrong method): integrators parse one thing.
pub async fn errors(response: Response) -> Response {
    let status = response.status();
    // JSON already, or a page rendered for a person (a 404 in the site's layout).
    let shaped = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || shaped {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut text = String::from_utf8_lossy(&text).trim().to_owned();
    if text.is_empty() {
        text = status.canonical_reason().unwrap_or("error").to_owned();
    }
    let mut reply = (status, axum::Json(serde_json::json!({ "error": text }))).into_response();
    for (name, value) in &parts.headers {
        if name != "content-type" && name != "content-length" {
            reply.headers_mut().insert(name, value.clone());
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Change {
        car_type: Option<i64>,
        #[serde(default)]
        codes: Vec<String>,
    }

    #[test]
    fn objects_with_integral_numbers_and_named_fields() {
        assert_eq!(decode::<Change>(br#"{"carType": 2.0}"#), Ok(Change { car_type: Some(2), codes: vec![] }));
        assert_eq!(decode::<Change>(b"[]"), Err(BodyError::Shape("body: expected a JSON object".into())));
        let e = decode::<Change>(br#"{"carType": 1.5}"#).expect_err("fraction");
        assert!(e.to_string().starts_with("carType: "), "{e}");
        let e = decode::<Change>(br#"{"codes": ["a", 1]}"#).expect_err("nested");
        assert!(e.to_string().starts_with("codes[1]: "), "{e}");
        assert_eq!(decode::<Change>(b"{").map_err(|e| e.status()), Err(400));
    }
}
