//! `/members`: register, read, list, delete.

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
};
use chrono::SecondsFormat;
use event_schema::{MemberDeleted, MemberEvent, MemberEventData, MemberRegistered};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{ApiError, AppState, problem::Problem};
use crate::auth::{Caller, Scope};
use crate::{
    db::{self, members::InsertError},
    domain::{Member, NewMember},
};

/// The `source` attribute of every event this service emits.
pub const EVENT_SOURCE: &str = "/member-service";
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

/// The routes and their OpenAPI description, both from the handlers below.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, register_member))
        .routes(routes!(get_member, delete_member))
}

/// Unknown fields (`id`, `status`, `admin`, …) are refused (422, naming the field).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "Ada Lovelace", "email": "ada@example.com" }))]
struct RegisterRequest {
    /// Trimmed; 1 to 200 characters, not only invisible ones; no control characters (line
    /// breaks, tabs, NUL) and no bidirectional controls.
    name: String,
    /// A bare address (`local-part@domain.tld`), stored lower-cased; unique among members.
    email: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!(member_example()))]
struct MemberResponse {
    id: Uuid,
    name: String,
    email: String,
    /// RFC 3339, UTC, microseconds.
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<Member> for MemberResponse {
    fn from(member: Member) -> Self {
        Self {
            id: member.id,
            name: member.name,
            email: member.email,
            created_at: member
                .created_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Members per page.
    #[param(minimum = 1, maximum = 500, default = 50)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page; absent for the first page.
    #[param(format = Uuid)]
    cursor: Option<String>,
}

/// Members in registration order, a page at a time.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({ "items": [member_example()], "next_cursor": MEMBER_ID_EXAMPLE }))]
struct MemberPage {
    items: Vec<MemberResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid, required = false)]
    next_cursor: Option<String>,
}

const MEMBER_ID_EXAMPLE: &str = "019ac3d2-4e00-7c11-8a2b-3c4d5e6f7a80";

fn member_example() -> serde_json::Value {
    json!({
        "id": MEMBER_ID_EXAMPLE,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "created_at": "2026-11-27T06:30:00.123456Z",
    })
}

fn not_found_example() -> serde_json::Value {
    Problem::example(
        StatusCode::NOT_FOUND,
        &format!("member {MEMBER_ID_EXAMPLE} does not exist or was deleted"),
        &[],
    )
}

fn bad_id_example() -> serde_json::Value {
    Problem::example(
        StatusCode::BAD_REQUEST,
        "Invalid URL: UUID parsing failed: invalid length: expected length 32 for simple format, found 2",
        &[],
    )
}

/// Registers a member and publishes `members.member_registered.v1` through the outbox. Staff
/// only.
#[utoipa::path(
    post,
    path = "/members",
    tag = "members",
    security(("bearer" = ["members:write", "staff"])),
    request_body = RegisterRequest,
    responses(
        (status = CREATED, description = "Registered", body = MemberResponse),
        (status = BAD_REQUEST, description = "The body is not JSON",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::BAD_REQUEST, "Failed to parse the request body as JSON: key must be a string at line 1 column 2", &[]))),
        (status = PAYLOAD_TOO_LARGE, description = "The body is larger than 64 KiB",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::PAYLOAD_TOO_LARGE, "the body is larger than 65536 bytes", &[]))),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not sent as `application/json`",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body must be sent as application/json", &[]))),
        (status = CONFLICT, description = "The email is already registered",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::CONFLICT, "the email is already registered", &[]))),
        (status = UNPROCESSABLE_ENTITY, description = "The request breaks a rule, or a field is missing, unknown or of the wrong type (`field` is then `body`, and the message names it); `errors` names every broken rule",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::UNPROCESSABLE_ENTITY, "name: must not be empty; email: is not a valid email address: expected local-part@domain.tld",
                &[("name", "must not be empty"), ("email", "is not a valid email address: expected local-part@domain.tld")]))),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed; nothing was registered",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::INTERNAL_SERVER_ERROR, "the server could not complete the request", &[]))),
    )
)]
async fn register_member(
    caller: Caller,
    State(state): State<AppState>,
    payload: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<MemberResponse>), ApiError> {
    caller.require_staff(Scope::MembersWrite)?;
    let Json(request) = payload?;
    let new_member =
        NewMember::parse(&request.name, &request.email).map_err(ApiError::Validation)?;
    let mut transaction = state.pool.begin().await.map_err(ApiError::internal)?;
    let member = db::members::insert(&mut transaction, &new_member)
        .await
        .map_err(|error| match error {
            // The address is not repeated: the answer may be logged or shown to others.
            InsertError::EmailTaken => {
                ApiError::Conflict("the email is already registered".to_owned())
            }
            InsertError::Database(error) => ApiError::internal(error),
        })?;
    let event = MemberEvent::new(
        EVENT_SOURCE,
        MemberEventData::Registered(MemberRegistered {
            member_id: member.id,
            member_version: version(member.version),
        }),
    );
    db::outbox::append(&mut transaction, &event)
        .await
        .map_err(ApiError::internal)?;
    transaction.commit().await.map_err(ApiError::internal)?;
    state.outbox_signal.event_committed();
    tracing::info!(member_id = %member.id, event_id = %event.id, "member registered");
    Ok((StatusCode::CREATED, Json(member.into())))
}

/// A member, unless it was deleted: deletion erases its name and email. A member's token reads
/// only its own member; staff reads any.
#[utoipa::path(
    get,
    path = "/members/{id}",
    tag = "members",
    security(("bearer" = ["members:read"])),
    params(("id" = Uuid, Path, description = "The member's id")),
    responses(
        (status = OK, description = "The member", body = MemberResponse),
        (status = BAD_REQUEST, description = "The id is not a UUID",
            body = Problem, content_type = "application/problem+json", example = json!(bad_id_example())),
        (status = NOT_FOUND, description = "No such member, or it was deleted",
            body = Problem, content_type = "application/problem+json", example = json!(not_found_example())),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::INTERNAL_SERVER_ERROR, "the server could not complete the request", &[]))),
    )
)]
async fn get_member(
    caller: Caller,
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<MemberResponse>, ApiError> {
    let Path(id) = id?;
    caller.require_for_member(Scope::MembersRead, id)?;
    let mut connection = state.pool.acquire().await.map_err(ApiError::internal)?;
    db::members::find(&mut connection, id)
        .await
        .map_err(ApiError::internal)?
        .map(|member| Json(member.into()))
        .ok_or_else(|| member_not_found(id))
}

/// Members in registration order, a page at a time: follow `next_cursor` until it is absent.
/// Staff only.
#[utoipa::path(
    get,
    path = "/members",
    tag = "members",
    security(("bearer" = ["members:read", "staff"])),
    params(PageQuery),
    responses(
        (status = OK, description = "One page of members", body = MemberPage),
        (status = BAD_REQUEST, description = "`limit` is outside 1..=500, or `cursor` is not a cursor this API gave",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::BAD_REQUEST, "limit must be between 1 and 500", &[]))),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::INTERNAL_SERVER_ERROR, "the server could not complete the request", &[]))),
    )
)]
async fn list_members(
    caller: Caller,
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<MemberPage>, ApiError> {
    caller.require_staff(Scope::MembersRead)?;
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let after = query
        .cursor
        .map(|cursor| {
            Uuid::parse_str(&cursor)
                .map_err(|_| ApiError::BadRequest(format!("cursor {cursor:?} is not valid")))
        })
        .transpose()?;
    let mut connection = state.pool.acquire().await.map_err(ApiError::internal)?;
    let members = db::members::list(&mut connection, after, limit)
        .await
        .map_err(ApiError::internal)?;
    let next_cursor = (members.len() == limit as usize)
        .then(|| members.last().map(|member| member.id.to_string()))
        .flatten();
    Ok(Json(MemberPage {
        items: members.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Deletes a member: erases its name and email and publishes `members.member_deleted.v1`, upon
/// which reservation-service cancels the member's reservations. A member's token deletes only
/// its own member (erasure on request); staff deletes any.
#[utoipa::path(
    delete,
    path = "/members/{id}",
    tag = "members",
    security(("bearer" = ["members:write"])),
    params(("id" = Uuid, Path, description = "The member's id")),
    responses(
        (status = NO_CONTENT, description = "Deleted; the event is in the outbox"),
        (status = BAD_REQUEST, description = "The id is not a UUID",
            body = Problem, content_type = "application/problem+json", example = json!(bad_id_example())),
        (status = NOT_FOUND, description = "No such member, or it was deleted already",
            body = Problem, content_type = "application/problem+json", example = json!(not_found_example())),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed; nothing was deleted",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::INTERNAL_SERVER_ERROR, "the server could not complete the request", &[]))),
    )
)]
async fn delete_member(
    caller: Caller,
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    caller.require_for_member(Scope::MembersWrite, id)?;
    let mut transaction = state.pool.begin().await.map_err(ApiError::internal)?;
    let new_version = db::members::delete(&mut transaction, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| member_not_found(id))?;
    let event = MemberEvent::new(
        EVENT_SOURCE,
        MemberEventData::Deleted(MemberDeleted {
            member_id: id,
            member_version: version(new_version),
        }),
    );
    db::outbox::append(&mut transaction, &event)
        .await
        .map_err(ApiError::internal)?;
    transaction.commit().await.map_err(ApiError::internal)?;
    state.outbox_signal.event_committed();
    tracing::info!(member_id = %id, event_id = %event.id, "member deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn member_not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("member {id} does not exist or was deleted"))
}

/// Database versions start at 1 and only grow, so they always fit.
fn version(database_version: i64) -> u64 {
    u64::try_from(database_version).unwrap_or_default()
}
