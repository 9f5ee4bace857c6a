//! `/members`: register, read, list, delete.

use axum::{
    Json, Router,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
    routing::get,
};
use chrono::SecondsFormat;
use event_schema::{MemberDeleted, MemberEvent, MemberEventData, MemberRegistered};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiError, AppState};
use crate::{
    db::{self, members::InsertError},
    domain::{Member, NewMember},
};

/// The `source` attribute of every event this service emits.
pub const EVENT_SOURCE: &str = "/member-service";
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/members", get(list_members).post(register_member))
        .route("/members/{id}", get(get_member).delete(delete_member))
}

#[derive(Deserialize)]
struct RegisterRequest {
    name: String,
    email: String,
}

#[derive(Serialize)]
struct MemberResponse {
    id: Uuid,
    name: String,
    email: String,
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

#[derive(Deserialize)]
struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct MemberPage {
    items: Vec<MemberResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

async fn register_member(
    State(state): State<AppState>,
    payload: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<MemberResponse>), ApiError> {
    let Json(request) = payload?;
    let new_member =
        NewMember::parse(&request.name, &request.email).map_err(ApiError::Validation)?;
    let mut transaction = state.pool.begin().await.map_err(ApiError::internal)?;
    let member = db::members::insert(&mut transaction, &new_member)
        .await
        .map_err(|error| match error {
            InsertError::EmailTaken => ApiError::Conflict(format!(
                "email {} is already registered",
                new_member.email.as_str()
            )),
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

async fn get_member(
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<MemberResponse>, ApiError> {
    let Path(id) = id?;
    let mut connection = state.pool.acquire().await.map_err(ApiError::internal)?;
    db::members::find(&mut connection, id)
        .await
        .map_err(ApiError::internal)?
        .map(|member| Json(member.into()))
        .ok_or_else(|| member_not_found(id))
}

async fn list_members(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<MemberPage>, ApiError> {
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

async fn delete_member(
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
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
