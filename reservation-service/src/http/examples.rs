//! Example values for the OpenAPI document, shaped as the handlers answer.

use axum::http::StatusCode;
use serde_json::json;

use super::problem::Problem;

pub const MEMBER_ID_EXAMPLE: &str = "019ac3d2-4e00-7c11-8a2b-3c4d5e6f7a80";
pub const RESERVATION_ID_EXAMPLE: &str = "019ac3e0-1a2b-7c3d-8e4f-5a6b7c8d9e0f";

pub fn reservation_example() -> serde_json::Value {
    json!({
        "id": RESERVATION_ID_EXAMPLE,
        "member_id": MEMBER_ID_EXAMPLE,
        "resource": "room-1",
        "starts_at": "2030-01-01T10:00:00.000000Z",
        "ends_at": "2030-01-01T11:00:00.000000Z",
        "status": "active",
        "cancellation_reason": null,
        "created_at": "2026-11-27T06:31:00.000042Z",
        "cancelled_at": null,
    })
}

pub fn problem_example(status: StatusCode, detail: &str) -> serde_json::Value {
    Problem::example(status, detail, &[])
}

pub fn not_found_example() -> serde_json::Value {
    problem_example(
        StatusCode::NOT_FOUND,
        &format!("reservation {RESERVATION_ID_EXAMPLE} does not exist"),
    )
}

pub fn bad_id_example() -> serde_json::Value {
    problem_example(
        StatusCode::BAD_REQUEST,
        "Invalid URL: UUID parsing failed: invalid length: expected length 32 for simple format, found 2",
    )
}

pub fn internal_example() -> serde_json::Value {
    problem_example(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server could not complete the request",
    )
}
