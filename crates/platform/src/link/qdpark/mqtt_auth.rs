//! Login and topic checks for an external broker, in the shape EMQX's HTTP
//! authenticator and authorizer expect (`{"result": "allow"|"deny"}`, plus
//! `is_superuser`), with `ok` added for mosquitto-go-auth's JSON mode.
//!
//! Both sit behind the admin bearer token: configure the broker to send
//! `Authorization: Bearer <admin_token>`. See docs/mqtt.md.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Body;
use crate::link::qdpark::broker::{Login, login, publish_allowed, subscribe_allowed};
use crate::state::AppState;

/// What the broker sends about a connecting client (other fields are ignored).
#[derive(Deserialize, ToSchema)]
pub(crate) struct AuthRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    clientid: String,
}

#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    Allow,
    Deny,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AuthReply {
    result: Verdict,
    /// Present when allowed: true for the platform's own publisher.
    #[serde(skip_serializing_if = "Option::is_none")]
    is_superuser: Option<bool>,
    /// mosquitto-go-auth's JSON mode reads this.
    ok: bool,
    /// Why a login was denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// External broker login check (EMQX HTTP authentication format; see docs/mqtt.md).
#[utoipa::path(post, path = "/api/admin/mqtt/auth", tag = "mqtt", request_body = AuthRequest,
    responses((status = 200, body = AuthReply)))]
pub(crate) async fn authenticate(State(state): State<AppState>, Body(r): Body<AuthRequest>) -> Json<AuthReply> {
    let outcome = login(&state, state.mqtt_publisher(), &r.username, &r.password, &r.clientid, None).await;
    tracing::debug!(username = r.username, clientid = r.clientid, ?outcome, "external broker login check");
    let allow = |superuser| AuthReply { result: Verdict::Allow, is_superuser: Some(superuser), ok: true, error: None };
    let deny = |reason: String| AuthReply { result: Verdict::Deny, is_superuser: None, ok: false, error: Some(reason) };
    Json(match outcome {
        Login::Publisher => allow(true),
        Login::Lot => allow(false),
        Login::Unknown => deny("unknown accessID".into()),
        Login::Refused(reason) => deny(reason),
    })
}

/// What the broker asks about a subscribe or publish (other fields are ignored).
#[derive(Deserialize, ToSchema)]
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
    acc: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AclReply {
    result: Verdict,
    ok: bool,
}

/// External broker topic check (EMQX HTTP authorization format; see docs/mqtt.md).
#[utoipa::path(post, path = "/api/admin/mqtt/acl", tag = "mqtt", request_body = AclRequest,
    responses((status = 200, body = AclReply)))]
pub(crate) async fn authorize(State(state): State<AppState>, Body(r): Body<AclRequest>) -> Json<AclReply> {
    let publisher = state.mqtt_publisher().is_some_and(|p| p.username == r.username);
    let publish = match (&r.action, r.acc) {
        (Some(action), _) => action.eq_ignore_ascii_case("publish"),
        (None, Some(acc)) => acc & 2 != 0,
        (None, None) => true,
    };
    let allowed = if publisher {
        true
    } else if publish {
        let allowed = publish_allowed(&state, &r.username, &r.topic).await;
        if !allowed {
            tracing::warn!(username = r.username, topic = r.topic, "external broker: publish refused");
        }
        allowed
    } else {
        subscribe_allowed(&state, &r.username, &r.topic).await.is_ok()
    };
    let result = if allowed { Verdict::Allow } else { Verdict::Deny };
    Json(AclReply { result, ok: allowed })
}
