//! The gateway's HTTP API in one router: the lane API (`barrier`), the
//! staff API (`staff`), the gateway's own endpoints (`gateway`), the login
//! and gate (`auth`), the booth page (`booth`), and the OpenAPI document
//! generated from the handlers.

use axum::Router;
use axum::extract::FromRef;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{self, Access};
use crate::state::LotState;
use crate::{barrier, booth, controller, gateway, staff};

/// The lot API's document, generated from the handlers (each registered
/// through `routes!`, so none goes undocumented) and their types; served at
/// `/api/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "onepark lot gateway API",
        description = "Lanes (cameras, barrier controllers) and staff (booth, integrators). Times are \
                       yyyy-MM-dd HH:mm:ss in the lot's zone; money is integer fen. Without [auth] only this \
                       machine may call it; with it, devices send their token and staff log in (docs/lot.md)."
    ),
    components(schemas(crate::http_error::ErrorBody)),
    tags((name = "lane", description = "cameras and barrier controllers"), (name = "staff", description = "the booth and integrators"),
         (name = "gateway", description = "status, reconciliation, login, metrics"))
)]
struct LotDoc;

/// A path nothing answers: the APIs' JSON error, or a page in the booth's layout.
async fn not_found(headers: axum::http::HeaderMap, uri: axum::http::Uri) -> axum::response::Response {
    let home = onepark_serve::pages::Home {
        brand: ("onepark 车场岗亭", "onepark booth"),
        links: &[("岗亭", "The booth", "/booth")],
    };
    onepark_serve::pages::not_found(&headers, uri.path(), &home)
}

pub fn router(state: LotState) -> Router {
    let (router, mut document) = OpenApiRouter::with_openapi(LotDoc::openapi())
        .routes(routes!(barrier::entry))
        .routes(routes!(barrier::exit))
        .routes(routes!(barrier::open_by_hand))
        .routes(routes!(controller::commands))
        .routes(routes!(controller::ack))
        .routes(routes!(staff::sessions))
        .routes(routes!(staff::correct_plate))
        .routes(routes!(staff::close))
        .routes(routes!(staff::refused))
        .routes(routes!(staff::retry))
        .routes(routes!(gateway::status))
        .routes(routes!(gateway::reconcile_now))
        .routes(routes!(gateway::check_day))
        .routes(routes!(staff::list_cards, staff::put_card))
        .routes(routes!(staff::delete_card))
        .routes(routes!(staff::arrears_collected))
        .routes(routes!(gateway::metrics))
        .routes(routes!(auth::login))
        .split_for_parts();
    auth::document(&mut document);
    router
        .route("/api/openapi.json", onepark_serve::json::document(document.to_pretty_json().unwrap_or_default()))
        .merge(booth::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(Access::from_ref(&state), auth::gate))
        .layer(axum::middleware::map_response(onepark_serve::json::errors))
        .with_state(state)
}
