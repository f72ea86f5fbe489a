//! The lot → platform HTTP client: seal `{"data": …}`, POST the form, read
//! `{resultCode, msg}`.

use std::time::Duration;

use onepark_proto::form::UplinkForm;
use onepark_proto::interface::Uplink;
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use serde_json::Value;

const PHOTO_TIMEOUT: Duration = Duration::from_secs(60);

/// The lot's identity towards the platform.
#[derive(Clone)]
pub struct Identity {
    /// The base accessID (the key pair belongs to it; nodes add `_N` only on MQTT).
    pub access_id: String,
    pub key: PrivateKey,
    pub platform_public: PublicKey,
    pub profile: Profile,
}

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("sealing failed: {0}")]
    Seal(String),
    #[error("{interface}: HTTP: {chain}", interface = .1, chain = chain(.0))]
    Http(reqwest::Error, &'static str),
    #[error("{interface}: HTTP status {status}: {body}")]
    Status { interface: &'static str, status: u16, body: String, retry_after: Option<u64> },
    #[error("{interface}: the reply is not JSON with a resultCode: {body}")]
    Reply { interface: &'static str, body: String },
}

/// The error with its causes: reqwest's own text ("error sending request")
/// hides what an operator needs (connection refused, certificate verify failed).
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The platform's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub result_code: String,
    pub msg: String,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.result_code == "200"
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// e.g. `http://platform:8080/api/v1/cp`
    base_url: String,
    identity: Identity,
}

impl Client {
    pub fn new(base_url: &str, identity: Identity, timeout: Duration) -> Result<Client, UplinkError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .tcp_nodelay(true)
            // Below the platform's idle limit (20 s by default), so a pooled
            // connection is never reused just as the platform closes it.
            .pool_idle_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| UplinkError::Http(e, "client"))?;
        Ok(Client { http, base_url: base_url.trim_end_matches('/').to_owned(), identity })
    }

    /// The same connection pool and settings for another identity (many
    /// simulated lots in one process share one pool and one TLS setup).
    pub fn with_identity(&self, identity: Identity) -> Client {
        Client { http: self.http.clone(), base_url: self.base_url.clone(), identity }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Sends `data` (the object inside `{"data": …}`) to `interface`.
    pub async fn send(&self, interface: Uplink, data: &Value) -> Result<Reply, UplinkError> {
        self.send_with_file(interface, data, None).await
    }

    /// As [`Client::send`], with uploadPhoto's `file` (Base64 JPEG) beside the cipher.
    pub async fn send_with_file(
        &self,
        interface: Uplink,
        data: &Value,
        file: Option<String>,
    ) -> Result<Reply, UplinkError> {
        let name = interface.name();
        let text = serde_json::json!({ "data": data }).to_string();
        let id = &self.identity;
        let keys = Keys { own: Some(&id.key), peer: Some(&id.platform_public) };
        let sealed =
            onepark_proto::seal(id.profile, text.as_bytes(), keys).map_err(|e| UplinkError::Seal(e.to_string()))?;
        // A photo is up to ~500 KB: give a slow uplink (4G at the lot) time for it.
        let timeout = if file.is_some() { Some(PHOTO_TIMEOUT) } else { None };
        let form = UplinkForm { access_id: id.access_id.clone(), cipher: sealed.cipher, sign: sealed.sign, file };
        let mut request = self.http.post(format!("{}/{name}", self.base_url));
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.encode())
            .send()
            .await
            .map_err(|e| UplinkError::Http(e, name))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = response.text().await.map_err(|e| UplinkError::Http(e, name))?;
        if status != 200 {
            return Err(UplinkError::Status { interface: name, status, body, retry_after });
        }
        let json: Value =
            serde_json::from_str(&body).map_err(|_| UplinkError::Reply { interface: name, body: body.clone() })?;
        let field = |k: &str| json.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        let Some(result_code) = field("resultCode") else {
            return Err(UplinkError::Reply { interface: name, body });
        };
        Ok(Reply { result_code, msg: field("msg").unwrap_or_default(), body: json })
    }
}
