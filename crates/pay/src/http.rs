//! A channel over HTTP: the sandbox as its own service ([`router`], `onepark
//! pay-sandbox`) and the client the platform uses for it ([`HttpChannel`]),
//! whose shape a WeChat Pay / Alipay / UnionPay adapter follows. Requests carry
//! `authorization: Bearer {key}`; notifications are POSTed to the merchant's
//! URL signed with [`crate::sign`].

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State as Extract};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::sandbox::{Account, Behaviour, Notifier, Sandbox};
use crate::{Channel, ChannelError, Charge, Contract, Notification, NotifyError, Order, Refund};

impl IntoResponse for ChannelError {
    fn into_response(self) -> Response {
        let status = match &self {
            ChannelError::Invalid(_) => StatusCode::BAD_REQUEST,
            ChannelError::Conflict(_) => StatusCode::CONFLICT,
            ChannelError::NoOrder(_) => StatusCode::NOT_FOUND,
            ChannelError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ChannelError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

type Answer<T> = Result<Json<T>, ChannelError>;

/// The sandbox's API: `/v1/charge`, `/v1/orders/{id}`, `/v1/refund`,
/// `/v1/contracts`, `/v1/statement?date=`, and for tests `/v1/accounts/{plate}`
/// and `/v1/behaviour`. Every route wants the key as a bearer token.
pub fn router(sandbox: Sandbox) -> Router {
    routes().route_layer(middleware::from_fn_with_state(sandbox.clone(), authorize)).with_state(sandbox)
}

/// The same API without its own authorization, for a host that puts its own in front
/// (the platform mounts its in-process sandbox behind the admin token).
pub fn open_router(sandbox: Sandbox) -> Router {
    routes().with_state(sandbox)
}

fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/v1/charge", post(charge))
        .route("/v1/orders/{id}", get(order))
        .route("/v1/refund", post(refund))
        .route("/v1/contracts", post(contract))
        .route("/v1/statement", get(statement))
        .route("/v1/accounts/{plate}", get(account).put(put_account))
        .route("/v1/behaviour", get(behaviour).put(put_behaviour))
}

async fn authorize(Extract(sandbox): Extract<Sandbox>, request: Request, next: Next) -> Response {
    let given = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let expected = format!("Bearer {}", String::from_utf8_lossy(sandbox.key()));
    if given.len() != expected.len() || !openssl::memcmp::eq(given.as_bytes(), expected.as_bytes()) {
        let body = Json(json!({ "error": "authorization: Bearer {key} required" }));
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    next.run(request).await
}

/// A JSON body, or a 400 naming the field.
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ChannelError> {
    onepark_serve::json::decode(bytes).map_err(|e| ChannelError::Invalid(e.to_string()))
}

async fn charge(Extract(s): Extract<Sandbox>, bytes: axum::body::Bytes) -> Answer<Order> {
    s.charge(&body(&bytes)?).await.map(Json)
}

async fn order(Extract(s): Extract<Sandbox>, Path(id): Path<String>) -> Answer<Order> {
    s.query(&id).await.map(Json)
}

async fn refund(Extract(s): Extract<Sandbox>, bytes: axum::body::Bytes) -> Answer<Order> {
    s.refund(&body(&bytes)?).await.map(Json)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignUp {
    plate_no: String,
    per_payment_limit: i64,
}

async fn contract(Extract(s): Extract<Sandbox>, bytes: axum::body::Bytes) -> Answer<Contract> {
    let SignUp { plate_no, per_payment_limit } = body(&bytes)?;
    s.sign_up(&plate_no, per_payment_limit).await.map(Json)
}

#[derive(Deserialize)]
struct Day {
    date: String,
}

async fn statement(Extract(s): Extract<Sandbox>, Query(day): Query<Day>) -> Result<Response, ChannelError> {
    let date = onepark_domain::time::parse_date(&day.date)
        .map_err(|e| ChannelError::Invalid(format!("date: {e} (yyyy-MM-dd)")))?;
    let csv = s.statement(date).await?;
    Ok(([("content-type", "text/csv; charset=utf-8")], csv).into_response())
}

async fn account(Extract(s): Extract<Sandbox>, Path(plate): Path<String>) -> Answer<Account> {
    s.account(&plate).map(Json).ok_or_else(|| ChannelError::NoOrder(format!("account {plate}")))
}

async fn put_account(
    Extract(s): Extract<Sandbox>,
    Path(plate): Path<String>,
    bytes: axum::body::Bytes,
) -> Answer<Account> {
    let account: Account = body(&bytes)?;
    if account.plate_no != plate {
        return Err(ChannelError::Invalid("plateNo: differs from the path".into()));
    }
    s.put_account(account.clone());
    Ok(Json(account))
}

async fn behaviour(Extract(s): Extract<Sandbox>) -> Json<Behaviour> {
    Json(s.behaviour())
}

async fn put_behaviour(Extract(s): Extract<Sandbox>, bytes: axum::body::Bytes) -> Answer<Behaviour> {
    let behaviour: Behaviour = body(&bytes)?;
    s.set_behaviour(behaviour.clone());
    Ok(Json(behaviour))
}

/// Notifications POSTed to `url` (the merchant's notify endpoint); acknowledged by any 2xx.
pub fn post_notifier(url: String) -> Notifier {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
    Arc::new(move |body: Vec<u8>, signature: String| {
        let (client, url) = (client.clone(), url.clone());
        Box::pin(async move {
            let sent = client
                .post(&url)
                .header("content-type", "application/json")
                .header(crate::sign::HEADER, signature)
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => true,
                Ok(r) => {
                    tracing::warn!(status = %r.status(), url, "notification refused");
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, url, "notification not delivered");
                    false
                }
            }
        })
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// A channel reached over HTTP (the sandbox service).
pub struct HttpChannel {
    base: String,
    key: Vec<u8>,
    client: reqwest::Client,
    paid_type: i64,
    name: String,
}

impl HttpChannel {
    /// `timeout` bounds every call: the platform must answer a lane in time.
    pub fn new(base: &str, key: &[u8], timeout: Duration) -> HttpChannel {
        // Building fails only when the TLS backend cannot start; the default client then reports it per call.
        let client = reqwest::Client::builder().timeout(timeout).build().unwrap_or_default();
        HttpChannel {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_vec(),
            client,
            paid_type: 4,
            name: "http".into(),
        }
    }

    /// The name its orders are stored under (`sandbox` for `onepark pay-sandbox`: play money).
    pub fn named(mut self, name: &str) -> HttpChannel {
        self.name = name.to_owned();
        self
    }

    async fn call<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ChannelError> {
        let bearer = format!("Bearer {}", String::from_utf8_lossy(&self.key));
        let response = request.header("authorization", bearer).send().await.map_err(|e| {
            if e.is_timeout() { ChannelError::Timeout } else { ChannelError::Unavailable(e.to_string()) }
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            if e.is_timeout() { ChannelError::Timeout } else { ChannelError::Unavailable(e.to_string()) }
        })?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| ChannelError::Unavailable(format!("reply: {e}: {text}")));
        }
        let error = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or(text);
        Err(match status {
            StatusCode::BAD_REQUEST => ChannelError::Invalid(error),
            StatusCode::CONFLICT => ChannelError::Conflict(error),
            StatusCode::NOT_FOUND => ChannelError::NoOrder(error),
            StatusCode::GATEWAY_TIMEOUT => ChannelError::Timeout,
            _ => ChannelError::Unavailable(format!("HTTP {status}: {error}")),
        })
    }
}

#[async_trait::async_trait]
impl Channel for HttpChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn paid_type(&self) -> i64 {
        self.paid_type
    }

    async fn charge(&self, charge: &Charge) -> Result<Order, ChannelError> {
        self.call(
            self.client
                .post(format!("{}/v1/charge", self.base))
                .header("content-type", "application/json")
                .body(to_json(charge)),
        )
        .await
    }

    async fn query(&self, order_id: &str) -> Result<Order, ChannelError> {
        self.call(self.client.get(format!("{}/v1/orders/{order_id}", self.base))).await
    }

    async fn refund(&self, refund: &Refund) -> Result<Order, ChannelError> {
        self.call(
            self.client
                .post(format!("{}/v1/refund", self.base))
                .header("content-type", "application/json")
                .body(to_json(refund)),
        )
        .await
    }

    async fn sign_up(&self, plate_no: &str, per_payment_limit: i64) -> Result<Contract, ChannelError> {
        let body = json!({ "plateNo": plate_no, "perPaymentLimit": per_payment_limit });
        self.call(
            self.client
                .post(format!("{}/v1/contracts", self.base))
                .header("content-type", "application/json")
                .body(to_json(&body)),
        )
        .await
    }

    async fn statement(&self, date: chrono::NaiveDate) -> Result<String, ChannelError> {
        let bearer = format!("Bearer {}", String::from_utf8_lossy(&self.key));
        let url = format!("{}/v1/statement?date={date}", self.base);
        let response = self.client.get(url).header("authorization", bearer).send().await;
        let response = response.map_err(|e| ChannelError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(ChannelError::Unavailable(format!("statement: HTTP {}", response.status())));
        }
        response.text().await.map_err(|e| ChannelError::Unavailable(e.to_string()))
    }

    fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<Notification, NotifyError> {
        let signature = signature.ok_or(NotifyError::Unsigned)?;
        if !crate::sign::verify(&self.key, body, signature) {
            return Err(NotifyError::BadSignature);
        }
        serde_json::from_slice(body).map_err(|e| NotifyError::Body(e.to_string()))
    }
}
