//! RFC 9457 problem details: every error leaves as `application/problem+json`.
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`).

use axum::{
    Json,
    body::Body,
    extract::Request,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

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
    /// 413: a body over [`MAX_BODY_BYTES`].
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: a body not sent as `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 401: no token, or one that does not verify (`invalid_token` then, RFC 6750).
    #[error("{detail}")]
    Unauthorized { detail: String, invalid_token: bool },
    /// 403: a valid token that does not allow this request; `scope` is the one it lacks.
    #[error("{detail}")]
    Forbidden {
        detail: String,
        scope: Option<&'static str>,
    },
    /// 503 with `Retry-After`: more requests in flight than the server takes at once.
    #[error("{0}")]
    Overloaded(String),
    /// 503: the request ran past the server's deadline for it.
    #[error("{0}")]
    TimedOut(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The body of every error response, as `application/problem+json` (RFC 9457).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status code says what kind of problem it is.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    problem_type: &'static str,
    /// The status code's reason phrase.
    #[schema(example = "Not Found")]
    title: &'static str,
    #[schema(example = 404)]
    status: u16,
    /// What went wrong with this request, for a person to read. A 500 says nothing internal.
    detail: String,
    /// Only on a validation failure (422): every rule the request breaks, by field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    errors: Vec<FieldError>,
}

/// One broken rule, naming the field so a client can show it next to the input.
#[derive(Serialize, ToSchema)]
pub struct FieldError {
    /// The request field, or `body` when the JSON does not have the expected shape.
    #[schema(example = "email")]
    field: &'static str,
    #[schema(example = "must be an email address")]
    message: String,
}

impl Problem {
    fn new(status: StatusCode, detail: String, errors: Vec<FieldError>) -> Self {
        Self {
            problem_type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            errors,
        }
    }

    /// A problem as this API sends it, for the examples in the OpenAPI document.
    pub fn example(
        status: StatusCode,
        detail: &str,
        errors: &[(&'static str, &str)],
    ) -> serde_json::Value {
        let errors = errors
            .iter()
            .map(|&(field, message)| FieldError {
                field,
                message: message.to_owned(),
            })
            .collect();
        serde_json::to_value(Self::new(status, detail.to_owned(), errors)).unwrap_or_default()
    }
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
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Overloaded(_) | Self::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
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
                    message: error.message.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(Problem::new(status, detail, errors)),
        )
            .into_response();
        if let Some(challenge) = self.challenge() {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if matches!(self, Self::Overloaded(_)) {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

impl ApiError {
    /// The `WWW-Authenticate` challenge of a 401 or 403 (RFC 6750, section 3).
    fn challenge(&self) -> Option<HeaderValue> {
        let realm = env!("CARGO_PKG_NAME");
        let text = match self {
            Self::Unauthorized {
                invalid_token: false,
                ..
            } => format!("Bearer realm=\"{realm}\""),
            Self::Unauthorized { detail, .. } => format!(
                "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
                detail.replace('"', "'")
            ),
            Self::Forbidden {
                scope: Some(scope), ..
            } => {
                format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{scope}\"")
            }
            _ => return None,
        };
        HeaderValue::from_str(&text).ok()
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
            other => match other.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    Self::PayloadTooLarge(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
                }
                StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType(
                    "the body must be sent as application/json".to_owned(),
                ),
                _ => Self::BadRequest(other.body_text()),
            },
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

/// When a client refused for overload should try again: soon, as requests end in milliseconds.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// The largest request body read: every request of these APIs is far smaller.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// axum answers a method a route does not have by itself, with an empty body: give it a problem
/// body, keeping its `Allow` header.
pub async fn bare_errors_as_problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let detail = "this route does not answer this method; `Allow` lists those it does";
    let body = serde_json::to_vec(&Problem::new(parts.status, detail.to_owned(), Vec::new()))
        .unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Response::from_parts(parts, Body::from(body))
}

pub async fn not_found_fallback(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
