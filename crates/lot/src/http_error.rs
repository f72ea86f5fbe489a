//! The one error answer of the staff and gateway API: `{"error": "…"}`
//! with its status, the problem named (the field first, where there is
//! one). The lane API answers with its decision instead (`barrier`), and the
//! gate with its refusal (`auth`): their callers read those shapes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// `{"error": "…"}` naming the field: every staff API error.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    error: String,
}

/// An error answer: its status and what went wrong.
#[derive(Debug)]
pub(crate) struct HttpError {
    status: StatusCode,
    error: String,
}

/// A staff or gateway answer: its body, or an error.
pub(crate) type Reply<T> = Result<Json<T>, HttpError>;

impl HttpError {
    pub(crate) fn new(status: StatusCode, error: impl Into<String>) -> HttpError {
        HttpError { status, error: error.into() }
    }

    /// 400 naming the field.
    pub(crate) fn bad(field: &str, problem: impl std::fmt::Display) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, format!("{field}: {problem}"))
    }

    /// 500: our storage (or another part of the gateway) failed; logged here,
    /// since the caller only learns that it did.
    pub(crate) fn internal(e: impl std::fmt::Display) -> HttpError {
        tracing::error!(error = %e, "staff request failed");
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.error })).into_response()
    }
}
