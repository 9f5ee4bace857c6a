//! RFC 9457 problem details: every error leaves as `application/problem+json`.
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`).

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::domain::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request breaks {} rule(s)", .0.len())]
    Validation(Vec<ValidationError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    problem_type: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError<'a>>,
}

#[derive(Serialize)]
struct FieldError<'a> {
    field: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Validation(errors) => errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            Self::Internal(error) => {
                // Logged once, here; the client learns nothing internal.
                tracing::error!(error = format!("{error:#}"), "request failed");
                "the server could not complete the request".to_owned()
            }
            other => other.to_string(),
        };
        let errors = match &self {
            Self::Validation(errors) => errors
                .iter()
                .map(|error| FieldError {
                    field: error.field,
                    message: &error.message,
                })
                .collect(),
            _ => Vec::new(),
        };
        let body = Problem {
            problem_type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            errors,
        };
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(body),
        )
            .into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Well-formed JSON of the wrong shape (missing field, wrong type): name the problem.
            JsonRejection::JsonDataError(error) => Self::Validation(vec![ValidationError {
                field: "body",
                message: error.body_text(),
            }]),
            other => Self::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

pub async fn not_found_fallback(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
