//! `/known-members/{id}`: this service's own view of a member, built from events.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
    http::StatusCode,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ApiError, AppState,
    examples::{MEMBER_ID_EXAMPLE, bad_id_example, internal_example, problem_example},
    problem::Problem,
};
use crate::{
    auth::{Caller, Scope},
    db,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_known_member))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({ "member_id": MEMBER_ID_EXAMPLE, "status": "deleted", "version": 2 }))]
struct KnownMemberResponse {
    member_id: Uuid,
    /// `active` or `deleted`.
    #[schema(pattern = "^(active|deleted)$")]
    status: &'static str,
    /// The member version of the last event applied.
    version: i64,
}

/// What this service knows of a member from the member events it applied: whether it may
/// reserve, and the version it has seen. A member's token asks only about its own member.
#[utoipa::path(
    get,
    path = "/known-members/{id}",
    tag = "member list",
    security(("bearer" = ["reservations:read"])),
    params(("id" = Uuid, Path, description = "The member's id")),
    responses(
        (status = OK, description = "The member as the events left it", body = KnownMemberResponse),
        (status = BAD_REQUEST, description = "The id is not a UUID",
            body = Problem, content_type = "application/problem+json", example = json!(bad_id_example())),
        (status = NOT_FOUND, description = "No event about this member has been applied (yet)",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::NOT_FOUND, &format!("no event about member {MEMBER_ID_EXAMPLE} has been applied")))),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed",
            body = Problem, content_type = "application/problem+json", example = json!(internal_example())),
    )
)]
async fn get_known_member(
    caller: Caller,
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<KnownMemberResponse>, ApiError> {
    let Path(member_id) = id?;
    caller.require_for_member(Scope::ReservationsRead, member_id)?;
    let mut connection = state.pool.acquire().await.map_err(ApiError::internal)?;
    let known = db::member_list::find(&mut connection, member_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no event about member {member_id} has been applied"
            ))
        })?;
    Ok(Json(KnownMemberResponse {
        member_id,
        status: known.status.as_str(),
        version: known.version,
    }))
}
