//! The sealed-request harness: a lot's uplink request as it posts it to the
//! platform (`POST /api/v1/cp/{interface}`, a form of accessID, cipher, sign
//! and, for photos, file), sealed with the test keys (Qingdao profile), and
//! posting it through a platform's router.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use onepark_proto::form::UplinkForm;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use serde_json::{Value, json};

use crate::router::{Reply, send};

/// The uplink's path prefix in the tests' platform configs.
pub const PREFIX: &str = "/api/v1/cp";

/// A lot's side of the uplink: its private key and the platform's public key.
pub struct Lot {
    pub private: PrivateKey,
    pub platform_public: PublicKey,
}

impl Default for Lot {
    /// The test keys (`lot_private.b64`, `platform_public.b64`).
    fn default() -> Lot {
        Lot { private: crate::keys::lot_private(), platform_public: crate::keys::platform_public() }
    }
}

impl Lot {
    pub fn new() -> Lot {
        Lot::default()
    }

    /// The form body of `text` sealed as it is, from `access_id`, with a
    /// `file` field as it is (any text: tests send bad ones too).
    pub fn seal_text(&self, access_id: &str, text: &str, file: Option<String>) -> String {
        let keys = Keys { own: Some(&self.private), peer: Some(&self.platform_public) };
        let sealed = onepark_proto::seal(Profile::Qingdao, text.as_bytes(), keys).expect("seal");
        UplinkForm { access_id: access_id.into(), cipher: sealed.cipher, sign: sealed.sign, file }.encode()
    }

    /// The form body of `{"data": data}` sealed from `access_id`, with
    /// `file` (a photo) in Base64.
    pub fn seal(&self, access_id: &str, data: &Value, file: Option<&[u8]>) -> String {
        let file = file.map(|f| base64::engine::general_purpose::STANDARD.encode(f));
        self.seal_text(access_id, &json!({ "data": data }).to_string(), file)
    }
}

/// Posts a form `body` to the uplink `interface` (e.g. `uploadCarInData`) of
/// a platform's router.
pub async fn post(app: &Router, interface: &str, body: String) -> Reply {
    let request = Request::post(format!("{PREFIX}/{interface}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    send(app, request).await
}
