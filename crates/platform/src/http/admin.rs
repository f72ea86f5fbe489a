//! The admin/read API (`/api/admin/…`, JSON, bearer token): lots with their
//! status, record search, berth time series, reconciliation and quality
//! reports, lists. Described by the OpenAPI document at `/api/admin/openapi.json`,
//! generated from this code.

use axum::Json;
use axum::Router;
use axum::extract::{Extension, MatchedPath, Path, Query, RawPathParams, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Need, Who};
use crate::city::overview::ONLINE_MINUTES;
use crate::error::{ApiError, ErrorBody, bad};
use crate::http::params::{DateOrTime, Day};
use crate::state::AppState;
use crate::store::Store;
use crate::store::{BerthPoint, CheckRow, Downlink, DownlinkState, LotStatus, Quality, RecordQuery, RecordRow};
use onepark_serve::pages::Client;

/// An entry without exit this many days old is flagged in the quality report.
const OPEN_TOO_LONG_DAYS: i64 = 7;
/// The last page of a record search (10⁹ × 500 records is beyond any city).
const MAX_PAGE: i64 = 1_000_000_000;

/// The admin API's document: generated from the handlers below (each a
/// `#[utoipa::path]`, registered through [`routes!`], so an endpoint cannot
/// exist without its entry) and their types; [`CommonErrors`] then adds the
/// error answers every operation can give.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "onepark platform admin API",
        description = "Read API for operators and integrators. Times are yyyy-MM-dd HH:mm:ss in the platform's zone; \
                       money is integer fen. Every error is `{\"error\": \"…\"}` naming the parameter or field."
    ),
    components(schemas(ErrorBody)),
    tags((name = "read", description = "lots, records, reports, the audit trail"), (name = "lists", description = "black/white lists and their downlinks"),
         (name = "money", description = "charges, arrears and the daily three-way reconciliation"),
         (name = "mqtt", description = "checks for an external broker (docs/mqtt.md)"),
         (name = "cloudpark", description = "the parking cloud's API: its pids and the fixed cars they manage (docs/cloudpark.md)"),
         (name = "bolink", description = "messages to Bolink lots (docs/bolink.md)"))
)]
struct AdminDoc;

pub fn router(state: AppState) -> Router<AppState> {
    let (router, mut document) = OpenApiRouter::with_openapi(AdminDoc::openapi())
        .routes(routes!(lots))
        .routes(routes!(crate::city::overview::handle))
        .routes(routes!(records))
        .routes(routes!(berths))
        .routes(routes!(reconciliation))
        .routes(routes!(quality))
        .routes(routes!(online))
        .routes(routes!(crate::city::lists::list, crate::city::lists::change))
        .routes(routes!(crate::city::lists::change_city))
        .routes(routes!(downlinks))
        .routes(routes!(crate::http::money::payments))
        .routes(routes!(crate::http::money::arrears))
        .routes(routes!(crate::http::money::reconciliation))
        .routes(routes!(crate::http::money::refund))
        .routes(routes!(crate::http::integrators::list, crate::http::integrators::add))
        .routes(routes!(crate::http::integrators::remove))
        .routes(routes!(crate::http::integrators::fixed_cars))
        .routes(routes!(crate::http::integrators::lot_events))
        .routes(routes!(crate::link::bolink::commands::lock_car))
        .routes(routes!(crate::link::bolink::commands::operate_liftrod))
        .routes(routes!(crate::link::bolink::commands::relay))
        .routes(routes!(audit))
        .routes(routes!(crate::link::qdpark::mqtt_auth::authenticate))
        .routes(routes!(crate::link::qdpark::mqtt_auth::authorize))
        .route_layer(middleware::from_fn_with_state(state, authorize))
        .split_for_parts();
    // After the routes: a modifier in #[openapi] would run before they exist.
    CommonErrors.modify(&mut document);
    router
        .route("/api/admin/openapi.json", onepark_serve::json::document(document.to_pretty_json().unwrap_or_default()))
        .layer(middleware::map_response(onepark_serve::json::errors))
}

/// The answers every operation can give besides its own: bearer token
/// missing or wrong (401), not allowed to the caller (403), storage failure
/// (500); with parameters, a bad one (400); with a JSON body, a wrong
/// content type (415) or shape (422, 400 when it is not JSON at all).
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let error = |text: &str| {
            ResponseBuilder::new()
                .description(text)
                .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build())
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let has_input =
                    operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) || operation.request_body.is_some();
                let mut add = |code: &str, text: &str| {
                    operation.responses.responses.entry(code.to_owned()).or_insert_with(|| error(text).into());
                };
                if has_input {
                    add("400", "a parameter or field is invalid (the error names it), or the body is not JSON");
                }
                if operation.request_body.is_some() {
                    add("415", "the body must be application/json");
                    add("422", "the JSON body does not have the documented shape");
                }
                add("401", "missing or wrong bearer token");
                add("403", "the caller's role or lots do not allow this (the error says which)");
                add("500", "the platform's storage failed");
                operation.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            }
        }
    }
}

/// Whose lot a route is about, for a caller limited to some lots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// The city as a whole: administrators and auditors only.
    City,
    /// One lot, named by this parameter (in the path, else the query: the
    /// very name the handler reads), checked here; a scoped caller must name
    /// one, once.
    Lot(&'static str),
    /// The handler filters or checks by the lot it finds (a payment's, a
    /// list change's).
    Handler,
}

/// Every admin route's policy: (method, path, what it needs, scope). A
/// route without a row is refused to everyone (fail closed; a test checks
/// every documented operation has one).
const POLICY: &[(&str, &str, Need, Scope)] = &[
    ("GET", "/api/admin/lots", Need::Read, Scope::Handler),
    ("GET", "/api/admin/overview", Need::Read, Scope::Handler),
    ("GET", "/api/admin/records", Need::Read, Scope::Lot("parkingCode")),
    ("GET", "/api/admin/lots/{parkingCode}/berths", Need::Read, Scope::Lot("parkingCode")),
    ("GET", "/api/admin/reports/reconciliation", Need::Read, Scope::Lot("parkingCode")),
    ("GET", "/api/admin/reports/quality", Need::Read, Scope::Lot("parkingCode")),
    ("GET", "/api/admin/reports/online", Need::Read, Scope::Lot("parkingCode")),
    ("GET", "/api/admin/lists", Need::Read, Scope::Lot("parkingCode")),
    ("POST", "/api/admin/lists", Need::Change, Scope::Handler),
    ("POST", "/api/admin/lists/city", Need::Admin, Scope::City),
    ("GET", "/api/admin/downlinks", Need::Read, Scope::Lot("parkingCode")),
    ("GET", "/api/admin/payments", Need::Read, Scope::Lot("parkingCode")),
    ("GET", "/api/admin/arrears", Need::Read, Scope::City),
    ("GET", "/api/admin/payments/reconciliation", Need::Read, Scope::City),
    ("POST", "/api/admin/payments/{orderId}/refund", Need::Change, Scope::Handler),
    ("GET", "/api/admin/integrators", Need::Read, Scope::City),
    ("POST", "/api/admin/integrators", Need::Admin, Scope::City),
    ("DELETE", "/api/admin/integrators/{pid}", Need::Admin, Scope::City),
    ("GET", "/api/admin/fixed-cars", Need::Read, Scope::Lot("parkCode")),
    ("GET", "/api/admin/lot-events", Need::Read, Scope::Lot("parkCode")),
    ("GET", "/api/admin/audit", Need::Read, Scope::Handler),
    ("POST", "/api/admin/bolink/{parkingCode}/lock_car", Need::Change, Scope::Lot("parkingCode")),
    ("POST", "/api/admin/bolink/{parkingCode}/operate_liftrod", Need::Open, Scope::Lot("parkingCode")),
    ("POST", "/api/admin/bolink/{parkingCode}/sync/{serviceName}", Need::Change, Scope::Lot("parkingCode")),
    ("POST", "/api/admin/mqtt/auth", Need::Admin, Scope::City),
    ("POST", "/api/admin/mqtt/acl", Need::Admin, Scope::City),
];

/// Every value a request gives the parameter `name`: the path's, then the query's.
fn named_lots(request: &Request, name: &str, path: Option<String>) -> Vec<String> {
    let query = request.uri().query().unwrap_or_default();
    path.into_iter()
        .chain(form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == name).map(|(_, v)| v.into_owned()))
        .collect()
}

/// Finds the caller (an integration's bearer token, or the configured
/// `admin_token`) and applies the route's [`POLICY`]; the handler gets the
/// caller as `Extension<Who>`.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    Client(client): Client,
    matched: Option<MatchedPath>,
    path: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    mut request: Request,
    next: Next,
) -> Response {
    let who = match crate::http::caller::from_bearer(&state, request.headers(), client).await {
        Ok(Some(who)) => who,
        Ok(None) => return ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    // The sandbox's API (mounted as a service) has no matched path: the city's own.
    let route = matched.as_ref().map(MatchedPath::as_str);
    let policy = match route {
        Some(route) => POLICY.iter().find(|(m, p, _, _)| *m == request.method().as_str() && *p == route),
        None => Some(&("*", "/sandbox", Need::Admin, Scope::City)),
    };
    let Some((_, _, need, scope)) = policy else {
        tracing::error!(route = ?route, method = %request.method(), "admin route without a policy refused");
        return ApiError(StatusCode::FORBIDDEN, "this operation has no access policy".into()).into_response();
    };
    let denied = match scope {
        Scope::City => who.check_city(*need).err(),
        Scope::Handler if who.may(*need) => None,
        Scope::Handler => Some(if *need == Need::Admin { crate::access::ADMIN_ONLY } else { crate::access::READ_ONLY }),
        Scope::Lot(name) => {
            let path_lot = path.ok().and_then(|p| p.iter().find(|(k, _)| k == name).map(|(_, v)| v.to_owned()));
            match named_lots(&request, name, path_lot).as_slice() {
                [lot] => who.check(*need, lot).err(),
                [] if who.city_wide() => who.check_city(*need).err(),
                [] => Some(crate::access::Denied {
                    zh: "受限账户必须指定车场",
                    en: "the lot parameter is required for a caller limited to some lots",
                }),
                _ => {
                    return ApiError(StatusCode::BAD_REQUEST, format!("{name}: given more than once")).into_response();
                }
            }
        }
    };
    if let Some(d) = denied {
        return ApiError(StatusCode::FORBIDDEN, d.en.to_owned()).into_response();
    }
    request.extensions_mut().insert(who);
    next.run(request).await
}

#[derive(Serialize, ToSchema)]
struct LotsReply {
    lots: Vec<LotView>,
}

#[derive(Serialize, ToSchema)]
struct LotView {
    #[serde(flatten)]
    status: LotStatus,
    /// Heard from within the last 15 minutes.
    online: bool,
}

/// Every lot that has reported, with its latest berth state.
#[utoipa::path(get, path = "/api/admin/lots", tag = "read", responses((status = 200, body = LotsReply)))]
async fn lots(State(state): State<AppState>, Extension(who): Extension<Who>) -> Result<Json<LotsReply>, ApiError> {
    let now = state.now();
    let cutoff = onepark_domain::time::format_time(now - Duration::minutes(ONLINE_MINUTES));
    let lots = state
        .store()
        .lot_statuses()
        .await?
        .into_iter()
        .filter(|status| who.sees(&status.parking_code))
        .map(|status| LotView { online: status.last_seen >= cutoff, status })
        .collect();
    Ok(Json(LotsReply { lots }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct DownlinkParams {
    /// Only this lot's.
    parking_code: Option<String>,
    /// Only those in this state.
    #[param(inline)]
    state: Option<DownlinkState>,
    /// At most this many (default 100; below 1 reads as 1, above 1000 as 1000).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct DownlinksReply {
    items: Vec<DownlinkView>,
}

#[derive(Serialize, ToSchema)]
struct DownlinkView {
    #[serde(flatten)]
    downlink: Downlink,
    /// Not confirmed by its deadline (20 s specialCar, 5 s others) and still retried.
    overdue: bool,
}

/// Downlinks, newest first, with their delivery state and confirm latency.
#[utoipa::path(get, path = "/api/admin/downlinks", tag = "lists", params(DownlinkParams),
    responses((status = 200, body = DownlinksReply)))]
async fn downlinks(
    State(state): State<AppState>,
    Query(p): Query<DownlinkParams>,
) -> Result<Json<DownlinksReply>, ApiError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let items = state.store().downlinks(p.parking_code.as_deref(), p.state, limit).await?;
    let now = onepark_domain::time::format_time(state.now());
    let items = items
        .into_iter()
        .map(|d| {
            let overdue = matches!(d.state, DownlinkState::Queued | DownlinkState::Published) && d.deadline_at < now;
            DownlinkView { overdue, downlink: d }
        })
        .collect();
    Ok(Json(DownlinksReply { items }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct RecordParams {
    /// Only this lot's.
    parking_code: Option<String>,
    /// Only this plate (exactly as stored).
    plate_no: Option<String>,
    /// Arrival at or after this.
    #[param(inline)]
    from: Option<DateOrTime>,
    /// Arrival before this.
    #[param(inline)]
    to: Option<DateOrTime>,
    /// Page number from 1 (default 1; below 1 reads as 1).
    #[param(maximum = 1_000_000_000)]
    page: Option<i64>,
    /// Records per page (default 50; below 1 reads as 1, above 500 as 500).
    page_size: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RecordsReply {
    page: i64,
    page_size: i64,
    items: Vec<RecordRow>,
}

/// Parking records (entries with their exit), newest first.
#[utoipa::path(get, path = "/api/admin/records", tag = "read", params(RecordParams),
    responses((status = 200, description = "one page", body = RecordsReply)))]
async fn records(State(store): State<Store>, Query(p): Query<RecordParams>) -> Result<Json<RecordsReply>, ApiError> {
    let page = p.page.unwrap_or(1).max(1);
    let size = p.page_size.unwrap_or(50).clamp(1, 500);
    // A page past any real result is a mistake, not page 1 (and no offset overflows).
    if page > MAX_PAGE {
        return Err(bad(format!("page: {page} is out of range (at most {MAX_PAGE})")));
    }
    let offset = (page - 1) * size;
    let query = RecordQuery {
        parking_code: p.parking_code.unwrap_or_default(),
        plate_no: p.plate_no.unwrap_or_default(),
        from: time_param(p.from, "from", "0000-01-01 00:00:00")?,
        to: time_param(p.to, "to", "9999-12-31 23:59:59")?,
        limit: size,
        offset,
    };
    let items = store.search(&query).await?;
    Ok(Json(RecordsReply { page, page_size: size, items }))
}

fn time_param(value: Option<DateOrTime>, name: &str, default: &str) -> Result<String, ApiError> {
    match value {
        None => Ok(default.to_owned()),
        Some(DateOrTime(v)) => onepark_domain::time::parse_time(&v)
            .map(onepark_domain::time::format_time)
            .or_else(|_| onepark_domain::time::parse_date(&v).map(|d| format!("{d} 00:00:00")))
            .map_err(|_| bad(format!("{name}: expected yyyy-MM-dd or yyyy-MM-dd HH:mm:ss"))),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RangeParams {
    /// At or after this.
    #[param(inline)]
    from: Option<DateOrTime>,
    /// Before this.
    #[param(inline)]
    to: Option<DateOrTime>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BerthsReply {
    parking_code: String,
    points: Vec<BerthPoint>,
}

/// A lot's berth states over time (one point per state received).
#[utoipa::path(get, path = "/api/admin/lots/{parkingCode}/berths", tag = "read",
    params(("parkingCode" = String, Path, description = "the lot"), RangeParams),
    responses((status = 200, body = BerthsReply)))]
async fn berths(
    State(store): State<Store>,
    Path(parking_code): Path<String>,
    Query(p): Query<RangeParams>,
) -> Result<Json<BerthsReply>, ApiError> {
    let from = time_param(p.from, "from", "0000-01-01 00:00:00")?;
    let to = time_param(p.to, "to", "9999-12-31 23:59:59")?;
    let points = store.berth_series(&parking_code, &from, &to).await?;
    Ok(Json(BerthsReply { parking_code, points }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct DayParams {
    /// The lot.
    parking_code: String,
    /// The day.
    #[param(inline)]
    date: Day,
}

fn day(p: &DayParams) -> Result<NaiveDate, ApiError> {
    onepark_domain::time::parse_date(&p.date.0).map_err(|_| bad("date: expected yyyy-MM-dd"))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReconciliationReply {
    parking_code: String,
    date: String,
    /// What the platform holds for the day.
    platform: PlatformCounts,
    /// The lot's latest uploadCheckRecord for the day and the platform's answer.
    last_check: Option<LastCheck>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PlatformCounts {
    arrive_num: i64,
    leave_num: i64,
    photo_num: i64,
    pay_num: i64,
    /// fen
    pay_total: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LastCheck {
    received_at: String,
    /// The lot's counts as it sent them.
    lot_counts: String,
    /// 0 when the counts and money agreed, else what differs (1 entries, 2 exits, 4 bills, added).
    account_mark: i64,
    /// 0 when the photo count agreed, 1 otherwise.
    photo_mark: i64,
}

/// One lot's day: the platform's counts beside the lot's latest daily check.
#[utoipa::path(get, path = "/api/admin/reports/reconciliation", tag = "read", params(DayParams),
    responses((status = 200, body = ReconciliationReply)))]
async fn reconciliation(
    State(store): State<Store>,
    Query(p): Query<DayParams>,
) -> Result<Json<ReconciliationReply>, ApiError> {
    let date = day(&p)?;
    let ours = store.day_counts(&p.parking_code, date).await?;
    let check = store.latest_check(&p.parking_code, date).await?;
    Ok(Json(ReconciliationReply {
        parking_code: p.parking_code,
        date: p.date.0,
        platform: PlatformCounts {
            arrive_num: ours.arrive,
            leave_num: ours.leave,
            photo_num: ours.photo,
            pay_num: ours.pay_num,
            pay_total: ours.pay_total,
        },
        last_check: check.map(|CheckRow { received_at, lot_counts, account_mark, photo_mark }| LastCheck {
            received_at,
            lot_counts,
            account_mark,
            photo_mark,
        }),
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct QualityReply {
    parking_code: String,
    date: String,
    quality: Quality,
}

/// One lot's data quality of a day (spec §三(二)).
#[utoipa::path(get, path = "/api/admin/reports/quality", tag = "read", params(DayParams),
    responses((status = 200, body = QualityReply)))]
async fn quality(State(state): State<AppState>, Query(p): Query<DayParams>) -> Result<Json<QualityReply>, ApiError> {
    let date = day(&p)?;
    let cutoff = onepark_domain::time::format_time(state.now() - Duration::days(OPEN_TOO_LONG_DAYS));
    let quality = state.store().quality(&p.parking_code, date, &cutoff).await?;
    Ok(Json(QualityReply { parking_code: p.parking_code, date: p.date.0, quality }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OnlineReply {
    parking_code: String,
    date: String,
    slots_heard: i64,
    /// 144 for a past day; the slots so far for today.
    slots_expected: i64,
    /// slotsHeard ÷ slotsExpected (0 for a future day).
    rate: f64,
    /// rate ≥ 0.99
    meets_spec: bool,
}

/// The daily online rate: 10-minute slots heard ÷ slots of the day (so far,
/// for today). The spec demands ≥ 99 %.
#[utoipa::path(get, path = "/api/admin/reports/online", tag = "read", params(DayParams),
    responses((status = 200, body = OnlineReply)))]
async fn online(State(state): State<AppState>, Query(p): Query<DayParams>) -> Result<Json<OnlineReply>, ApiError> {
    let date = day(&p)?;
    let heard = state.store().online_slots(&p.parking_code, date).await?;
    let now = state.now();
    let expected = if date == now.date() {
        i64::from(chrono::Timelike::hour(&now)) * 6 + i64::from(chrono::Timelike::minute(&now)) / 10 + 1
    } else {
        144
    };
    let rate = if date > now.date() { 0.0 } else { heard as f64 / expected as f64 };
    Ok(Json(OnlineReply {
        parking_code: p.parking_code,
        date: p.date.0,
        slots_heard: heard,
        slots_expected: expected,
        rate,
        meets_spec: rate >= 0.99,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// From this day or time on (yyyy-MM-dd or yyyy-MM-dd HH:mm:ss).
    #[param(inline)]
    from: Option<DateOrTime>,
    /// Before this time (a day: before its start).
    #[param(inline)]
    to: Option<DateOrTime>,
    /// Only this actor's (an account name, `token:<name>`, `pid:<pid>`, `cli`, `driver`).
    actor: Option<String>,
    /// Only this kind (list, refund, write_off, barrier, command, account, password, token, lot, integrator, signup).
    kind: Option<String>,
    /// Only this lot's.
    parking_code: Option<String>,
    /// At most this many (default 100, 1 to 1000).
    limit: Option<i64>,
    /// Skip this many (0 to 10⁹).
    offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct AuditReply {
    items: Vec<crate::store::AuditEntry>,
}

/// The audit trail, newest first: every change people and integrations made.
/// A caller limited to some lots sees their entries and its own.
#[utoipa::path(get, path = "/api/admin/audit", tag = "read", params(AuditParams), responses((status = 200, body = AuditReply)))]
async fn audit(
    State(store): State<Store>,
    Extension(who): Extension<Who>,
    Query(p): Query<AuditParams>,
) -> Result<Json<AuditReply>, ApiError> {
    if let Some(lot) = &p.parking_code {
        who.check(Need::Read, lot).map_err(|d| ApiError(StatusCode::FORBIDDEN, d.en.to_owned()))?;
    }
    let query = crate::store::AuditQuery {
        from: time_param(p.from, "from", "")?,
        to: time_param(p.to, "to", "")?,
        actor: p.actor.unwrap_or_default(),
        kind: p.kind.unwrap_or_default(),
        parking_code: p.parking_code.unwrap_or_default(),
        lots: who.lot_filter(),
        own: who.actor.clone(),
        before: None,
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
        offset: p.offset.unwrap_or(0).clamp(0, MAX_PAGE),
    };
    Ok(Json(AuditReply { items: store.audit(&query).await? }))
}
