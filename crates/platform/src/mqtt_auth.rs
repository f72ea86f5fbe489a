//! Login and topic checks for an external broker, in the shape EMQX's HTTP
//! authenticator and authorizer expect (`{"result": "allow"|"deny"}`, plus
//! `is_superuser`), with `ok` added for mosquitto-go-auth's JSON mode.
//!
//! Both sit behind the admin bearer token: configure the broker to send
//! `Authorization: Bearer <admin_token>`. See docs/mqtt.md.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::broker::{Login, login, subscribe_allowed};

#[derive(Deserialize)]
pub(crate) struct AuthRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    clientid: String,
}

pub(crate) async fn authenticate(State(state): State<AppState>, Json(r): Json<AuthRequest>) -> Json<Value> {
    let outcome = login(&state, state.mqtt_publisher(), &r.username, &r.password, &r.clientid, None).await;
    tracing::debug!(username = r.username, clientid = r.clientid, ?outcome, "external broker login check");
    Json(match outcome {
        Login::Publisher => json!({ "result": "allow", "is_superuser": true, "ok": true }),
        Login::Lot => json!({ "result": "allow", "is_superuser": false, "ok": true }),
        Login::Unknown => json!({ "result": "deny", "ok": false, "error": "unknown accessID" }),
        Login::Refused(reason) => json!({ "result": "deny", "ok": false, "error": reason }),
    })
}

#[derive(Deserialize)]
pub(crate) struct AclRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    topic: String,
    /// EMQX: `publish` | `subscribe`.
    #[serde(default)]
    action: Option<String>,
    /// mosquitto-go-auth: 1 read, 2 write, 3 read+write, 4 subscribe.
    #[serde(default)]
    acc: Option<u8>,
}

pub(crate) async fn authorize(State(state): State<AppState>, Json(r): Json<AclRequest>) -> Json<Value> {
    let publisher = state.mqtt_publisher().is_some_and(|p| p.username == r.username);
    let publish = match (&r.action, r.acc) {
        (Some(action), _) => action.eq_ignore_ascii_case("publish"),
        (None, Some(acc)) => acc & 2 != 0,
        (None, None) => true,
    };
    let allowed = if publisher {
        true
    } else if publish {
        tracing::warn!(username = r.username, topic = r.topic, "external broker: publish by a lot refused");
        false
    } else {
        subscribe_allowed(&state, &r.username, &r.topic).await.is_ok()
    };
    let result = if allowed { "allow" } else { "deny" };
    Json(json!({ "result": result, "ok": allowed }))
}
