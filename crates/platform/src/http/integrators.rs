//! The admin API of the parking cloud's principals (integrators and lots of
//! that protocol) and of the fixed cars they manage.

use crate::access::Who;
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::city::principals::{RegisterError, new_principal, register};
use crate::error::{ApiError, Body, bad};
use crate::state::AppState;
use crate::store::{FixedCar, PrincipalKind, Store};

/// A principal as shown: never its secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrincipalView {
    pid: String,
    kind: PrincipalKind,
    name: String,
    park_codes: Vec<String>,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PrincipalsReply {
    items: Vec<PrincipalView>,
}

/// The pids of the cloud API (docs/cloudpark.md), without their secrets.
#[utoipa::path(get, path = "/api/admin/integrators", tag = "cloudpark", responses((status = 200, body = PrincipalsReply)))]
pub(crate) async fn list(State(store): State<Store>) -> Result<Json<PrincipalsReply>, ApiError> {
    let items = store
        .principals()
        .await?
        .into_iter()
        .map(|p| PrincipalView {
            pid: p.pid,
            kind: p.kind,
            name: p.name,
            park_codes: p.park_codes,
            created_at: p.created_at,
        })
        .collect();
    Ok(Json(PrincipalsReply { items }))
}

/// A pid to register or replace.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct NewPrincipal {
    /// 1 to 20 letters, digits, `-` or `_`.
    #[schema(pattern = "^[0-9A-Za-z_-]{1,20}$")]
    pid: String,
    /// 16 to 64 printable ASCII characters, no spaces; absent: a new random one, answered once.
    #[schema(pattern = "^[!-~]{16,64}$")]
    secret: Option<String>,
    #[serde(default)]
    #[schema(max_length = 50)]
    name: String,
    kind: PrincipalKind,
    /// The lots it may act on (a lot's code belongs to one lot pid): 1 to 50
    /// characters each, no spaces, commas, `+`, `#` (they would break MQ topics) or
    /// control characters, and not `querymonthcard` (the MQ broadcast's).
    #[schema(schema_with = park_codes_schema)]
    park_codes: Vec<String>,
}

fn park_codes_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let code =
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[^\s,+#\u0000-\u001f\u007f-\u009f]{1,50}$"));
    ArrayBuilder::new().items(code).min_items(Some(1)).build()
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Registered {
    pid: String,
    /// The secret, only when the platform made it.
    secret: Option<String>,
}

/// Registers or replaces a pid.
#[utoipa::path(post, path = "/api/admin/integrators", tag = "cloudpark", request_body = NewPrincipal,
    responses((status = 200, body = Registered),
              (status = 409, description = "a lot's parkCode already belongs to another lot pid", body = crate::error::ErrorBody)))]
pub(crate) async fn add(
    State(state): State<AppState>,
    Extension(who): Extension<Who>,
    Body(n): Body<NewPrincipal>,
) -> Result<Json<Registered>, ApiError> {
    let now = onepark_domain::time::format_time(state.now());
    let p = new_principal(&n.pid, n.secret.as_deref(), &n.name, n.kind.as_str(), n.park_codes, &now)
        .map_err(|e| bad(e.to_string()))?;
    let registered = register(state.store(), &who, &now, &p).await;
    state.cloud_known().forget(&p.pid);
    registered.map_err(|e| match e {
        e @ RegisterError::Taken(..) => ApiError(StatusCode::CONFLICT, e.to_string()),
        RegisterError::Store(e) => ApiError::from(e),
    })?;
    Ok(Json(Registered { pid: p.pid, secret: n.secret.is_none().then_some(p.secret) }))
}

/// Removes a pid: its requests are refused from now on.
#[utoipa::path(delete, path = "/api/admin/integrators/{pid}", tag = "cloudpark",
    params(("pid" = String, Path, description = "the pid")),
    responses((status = 204, description = "removed"), (status = 404, description = "no such pid", body = crate::error::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Extension(who): Extension<Who>,
    Path(pid): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = onepark_domain::time::format_time(state.now());
    let removed = crate::city::principals::remove(state.store(), &who, &now, &pid).await?;
    // After the change: a request reading it again now reads the new state.
    state.cloud_known().forget(&pid);
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError(StatusCode::NOT_FOUND, format!("pid: no `{pid}` registered")))
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct CarParams {
    /// Only this lot's.
    park_code: Option<String>,
    /// At most this many (default 200, 1 to 1000).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct FixedCarsReply {
    items: Vec<FixedCar>,
}

/// Fixed cars (deleted ones included), newest change first; `syncedVersion`
/// equal to `version` means the lot has applied the latest change.
#[utoipa::path(get, path = "/api/admin/fixed-cars", tag = "cloudpark", params(CarParams), responses((status = 200, body = FixedCarsReply)))]
pub(crate) async fn fixed_cars(
    State(store): State<Store>,
    Query(p): Query<CarParams>,
) -> Result<Json<FixedCarsReply>, ApiError> {
    let limit = p.limit.unwrap_or(200).clamp(1, 1000);
    Ok(Json(FixedCarsReply { items: store.fixed_cars(p.park_code.as_deref(), limit).await? }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct EventParams {
    /// Only this lot's.
    park_code: Option<String>,
    /// Only this kind: alarm, lift, notice, bill, info (the cloud's reports); staff, shift, handover, log,
    /// plan, price, lane, cartype, confirm, storedvalue, coupon, invoice, internal, renewal, black, forward,
    /// correction (Bolink's).
    #[param(
        pattern = "^(alarm|lift|notice|bill|info|staff|shift|handover|log|plan|price|lane|cartype|confirm|storedvalue|coupon|invoice|internal|renewal|black|forward|correction)$"
    )]
    kind: Option<String>,
    /// At most this many (default 200, 1 to 1000).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LotEventsReply {
    items: Vec<crate::store::LotEvent>,
}

/// What lots reported besides records (the cloud's alarms, manual barrier
/// lifts, notices, pre-exit bills, lot information; Bolink's staff, shifts,
/// logs, plans, prices, lanes, …), newest first.
#[utoipa::path(get, path = "/api/admin/lot-events", tag = "cloudpark", params(EventParams),
    responses((status = 200, body = LotEventsReply), (status = 400, description = "an unknown kind", body = crate::error::ErrorBody)))]
pub(crate) async fn lot_events(
    State(store): State<Store>,
    Query(p): Query<EventParams>,
) -> Result<Json<LotEventsReply>, ApiError> {
    let limit = p.limit.unwrap_or(200).clamp(1, 1000);
    if let Some(kind) = p.kind.as_deref().filter(|k| !crate::store::EVENT_KINDS.contains(k)) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("kind: `{kind}` is not one of {}", crate::store::EVENT_KINDS.join(", ")),
        ));
    }
    Ok(Json(LotEventsReply { items: store.lot_events(p.park_code.as_deref(), p.kind.as_deref(), limit).await? }))
}
