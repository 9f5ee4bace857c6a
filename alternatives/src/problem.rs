//! RFC 9457 problem responses of the alternatives' endpoints.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// A problem+json answer; a 503 says when to try again.
pub fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(body),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

/// A database failure: logged once here, nothing internal in the answer.
pub fn internal(error: &sqlx::Error) -> Response {
    tracing::error!(%error, "request failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server could not complete the request",
    )
}
