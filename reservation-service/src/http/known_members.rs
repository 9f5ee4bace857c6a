//! `/known-members/{id}`: this service's own view of a member, built from events.

use axum::{
    Json, Router,
    extract::{Path, State, rejection::PathRejection},
    routing::get,
};
use serde::Serialize;
use uuid::Uuid;

use super::{ApiError, AppState};
use crate::db;

pub fn router() -> Router<AppState> {
    Router::new().route("/known-members/{id}", get(get_known_member))
}

#[derive(Serialize)]
struct KnownMemberResponse {
    member_id: Uuid,
    status: &'static str,
    version: i64,
}

async fn get_known_member(
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<KnownMemberResponse>, ApiError> {
    let Path(member_id) = id?;
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
