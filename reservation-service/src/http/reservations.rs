//! `/reservations`: make, read, list, cancel.

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ApiError, AppState,
    examples::{
        MEMBER_ID_EXAMPLE, RESERVATION_ID_EXAMPLE, bad_id_example, internal_example,
        not_found_example, problem_example, reservation_example,
    },
    problem::Problem,
};
use crate::{
    auth::{Caller, Scope},
    db,
    domain::{
        CancellationReason, Change, NewReservation, Reservation, ReservationStatus, ValidationError,
    },
};

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;

/// The routes and their OpenAPI description, both from the handlers below.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reservations, make_reservation))
        .routes(routes!(get_reservation))
        .routes(routes!(cancel_reservation))
}

/// Unknown fields (`id`, `status`, …) are refused (422, naming the field).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "member_id": MEMBER_ID_EXAMPLE, "resource": "room-1",
    "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z"
}))]
struct ReservationRequest {
    /// A member this service knows from member events, and not deleted.
    member_id: Uuid,
    /// What is reserved: trimmed, 1 to 200 characters, not only invisible ones; no control
    /// characters and no bidirectional controls.
    resource: String,
    /// RFC 3339, from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z; stored to the microsecond.
    starts_at: DateTime<Utc>,
    /// RFC 3339, after `starts_at`, in the same range.
    ends_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!(reservation_example()))]
struct ReservationResponse {
    id: Uuid,
    member_id: Uuid,
    resource: String,
    /// RFC 3339, UTC, microseconds; so are the other times.
    #[schema(format = DateTime)]
    starts_at: String,
    #[schema(format = DateTime)]
    ends_at: String,
    /// `active` or `cancelled`.
    #[schema(pattern = "^(active|cancelled)$")]
    status: &'static str,
    /// `cancelled_by_user` or `member_deleted` (the member's deletion cancelled it); null
    /// while active.
    #[schema(pattern = "^(cancelled_by_user|member_deleted)$")]
    cancellation_reason: Option<&'static str>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    cancelled_at: Option<String>,
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl From<Reservation> for ReservationResponse {
    fn from(reservation: Reservation) -> Self {
        Self {
            id: reservation.id,
            member_id: reservation.member_id,
            resource: reservation.resource,
            starts_at: rfc3339(reservation.starts_at),
            ends_at: rfc3339(reservation.ends_at),
            status: reservation.status.as_str(),
            cancellation_reason: reservation
                .cancellation_reason
                .map(CancellationReason::as_str),
            created_at: rfc3339(reservation.created_at),
            cancelled_at: reservation.cancelled_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this member's reservations.
    member_id: Option<Uuid>,
    /// Only reservations in this status: `active` or `cancelled`.
    #[param(pattern = "^(active|cancelled)$")]
    status: Option<String>,
    /// Reservations per page.
    #[param(minimum = 1, maximum = 500, default = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page; absent for the first page.
    cursor: Option<Uuid>,
}

/// Reservations in creation order, a page at a time.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({ "items": [reservation_example()], "next_cursor": RESERVATION_ID_EXAMPLE }))]
struct ReservationPage {
    items: Vec<ReservationResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    next_cursor: Option<Uuid>,
}

/// Reserves a resource for a time, for a member this service knows (from member events) and
/// that is not deleted. At most one active reservation holds a resource at any time. A member's
/// token reserves only for its own member; staff reserves for anyone.
#[utoipa::path(
    post,
    path = "/reservations",
    tag = "reservations",
    security(("bearer" = ["reservations:write"])),
    request_body = ReservationRequest,
    responses(
        (status = CREATED, description = "Reserved", body = ReservationResponse),
        (status = BAD_REQUEST, description = "The body is not JSON",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::BAD_REQUEST, "Failed to parse the request body as JSON: key must be a string at line 1 column 2"))),
        (status = PAYLOAD_TOO_LARGE, description = "The body is larger than 64 KiB",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::PAYLOAD_TOO_LARGE, "the body is larger than 65536 bytes"))),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "The body is not sent as `application/json`",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body must be sent as application/json"))),
        (status = CONFLICT, description = "An active reservation holds the resource in an overlapping time",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::CONFLICT, &format!("room-1 is already reserved in that time by reservation {RESERVATION_ID_EXAMPLE}")))),
        (status = UNPROCESSABLE_ENTITY, description = "The request breaks a rule (`member_id` unknown or deleted, empty `resource`, `ends_at` not after `starts_at` or outside 1970 to 9999), or a field is missing, unknown or of the wrong type (`field` is then `body`, and the message names it); `errors` names every broken rule",
            body = Problem, content_type = "application/problem+json",
            example = json!(Problem::example(StatusCode::UNPROCESSABLE_ENTITY, "resource: must not be empty; ends_at: must be after starts_at",
                &[("resource", "must not be empty"), ("ends_at", "must be after starts_at")]))),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed; nothing was reserved",
            body = Problem, content_type = "application/problem+json", example = json!(internal_example())),
    )
)]
async fn make_reservation(
    caller: Caller,
    State(state): State<AppState>,
    payload: Result<Json<ReservationRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ReservationResponse>), ApiError> {
    let Json(request) = payload?;
    caller.require_for_member(Scope::ReservationsWrite, request.member_id)?;
    let new_reservation = NewReservation::parse(
        request.member_id,
        &request.resource,
        db::time::stored_precision(request.starts_at),
        db::time::stored_precision(request.ends_at),
    )
    .map_err(ApiError::Validation)?;
    let mut transaction = state.pool.begin().await.map_err(ApiError::internal)?;
    db::reservations::lock_resource(&mut transaction, &new_reservation.resource)
        .await
        .map_err(ApiError::internal)?;
    // Only members this service has heard of, and not deleted: checked against its own list.
    if !db::member_list::lock_if_active(&mut transaction, new_reservation.member_id)
        .await
        .map_err(ApiError::internal)?
    {
        let known = db::member_list::find(&mut transaction, new_reservation.member_id)
            .await
            .map_err(ApiError::internal)?;
        let message = match known {
            Some(_) => "member was deleted",
            None => "member is unknown",
        };
        return Err(ApiError::Validation(vec![ValidationError::new(
            "member_id",
            message,
        )]));
    }
    if let Some(existing) = db::reservations::find_overlapping(
        &mut transaction,
        &new_reservation.resource,
        new_reservation.starts_at,
        new_reservation.ends_at,
    )
    .await
    .map_err(ApiError::internal)?
    {
        return Err(ApiError::Conflict(format!(
            "{} is already reserved in that time by reservation {existing}",
            new_reservation.resource
        )));
    }
    let now = db::time::now();
    let reservation = db::reservations::insert(&mut transaction, &new_reservation, now)
        .await
        .map_err(ApiError::internal)?;
    let created = Change::ReservationCreated(reservation.clone());
    db::changes::record(&mut transaction, &[created], now)
        .await
        .map_err(ApiError::internal)?;
    transaction.commit().await.map_err(ApiError::internal)?;
    state.updates.signal.committed();
    tracing::info!(reservation_id = %reservation.id, member_id = %reservation.member_id, "reservation made");
    Ok((StatusCode::CREATED, Json(reservation.into())))
}

/// One reservation, active or cancelled. A member's token reads only its member's.
#[utoipa::path(
    get,
    path = "/reservations/{id}",
    tag = "reservations",
    security(("bearer" = ["reservations:read"])),
    params(("id" = Uuid, Path, description = "The reservation's id")),
    responses(
        (status = OK, description = "The reservation", body = ReservationResponse),
        (status = BAD_REQUEST, description = "The id is not a UUID",
            body = Problem, content_type = "application/problem+json", example = json!(bad_id_example())),
        (status = NOT_FOUND, description = "No such reservation",
            body = Problem, content_type = "application/problem+json", example = json!(not_found_example())),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed",
            body = Problem, content_type = "application/problem+json", example = json!(internal_example())),
    )
)]
async fn get_reservation(
    caller: Caller,
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<ReservationResponse>, ApiError> {
    let Path(id) = id?;
    caller.require(Scope::ReservationsRead)?;
    let mut connection = state.pool.acquire().await.map_err(ApiError::internal)?;
    let reservation = db::reservations::find(&mut connection, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| reservation_not_found(id))?;
    caller.require_for_member(Scope::ReservationsRead, reservation.member_id)?;
    Ok(Json(reservation.into()))
}

/// Reservations in creation order, a page at a time, optionally of one member or in one
/// status: follow `next_cursor` until it is absent. A member's token lists only its member's
/// (`member_id` may be omitted or must be its own); staff lists anyone's.
#[utoipa::path(
    get,
    path = "/reservations",
    tag = "reservations",
    security(("bearer" = ["reservations:read"])),
    params(ListQuery),
    responses(
        (status = OK, description = "One page of reservations", body = ReservationPage),
        (status = BAD_REQUEST, description = "`limit` is outside 1..=500, `status` is neither `active` nor `cancelled`, or `member_id` or `cursor` is not a UUID",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::BAD_REQUEST, "limit must be between 1 and 500"))),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed",
            body = Problem, content_type = "application/problem+json", example = json!(internal_example())),
    )
)]
async fn list_reservations(
    caller: Caller,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ReservationPage>, ApiError> {
    let Query(query) = query?;
    let member_id = caller.member_filter(Scope::ReservationsRead, query.member_id)?;
    let status = query
        .status
        .map(|status| {
            ReservationStatus::parse(&status).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "status must be active or cancelled, not {status:?}"
                ))
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let mut connection = state.pool.acquire().await.map_err(ApiError::internal)?;
    let reservations =
        db::reservations::list(&mut connection, member_id, status, query.cursor, limit)
            .await
            .map_err(ApiError::internal)?;
    let next_cursor = (reservations.len() == limit as usize)
        .then(|| reservations.last().map(|reservation| reservation.id))
        .flatten();
    Ok(Json(ReservationPage {
        items: reservations.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Cancels an active reservation (`cancellation_reason` becomes `cancelled_by_user`). A member's
/// token cancels only its member's.
#[utoipa::path(
    post,
    path = "/reservations/{id}/cancel",
    tag = "reservations",
    security(("bearer" = ["reservations:write"])),
    params(("id" = Uuid, Path, description = "The reservation's id")),
    responses(
        (status = OK, description = "Cancelled: the reservation as it is now", body = ReservationResponse),
        (status = BAD_REQUEST, description = "The id is not a UUID",
            body = Problem, content_type = "application/problem+json", example = json!(bad_id_example())),
        (status = NOT_FOUND, description = "No such reservation",
            body = Problem, content_type = "application/problem+json", example = json!(not_found_example())),
        (status = CONFLICT, description = "The reservation is cancelled already (by the user, or by its member's deletion)",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::CONFLICT, &format!("reservation {RESERVATION_ID_EXAMPLE} is already cancelled (member_deleted)")))),
        (status = INTERNAL_SERVER_ERROR, description = "The database failed; nothing was cancelled",
            body = Problem, content_type = "application/problem+json", example = json!(internal_example())),
    )
)]
async fn cancel_reservation(
    caller: Caller,
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<ReservationResponse>, ApiError> {
    let Path(id) = id?;
    caller.require(Scope::ReservationsWrite)?;
    let mut transaction = state.pool.begin().await.map_err(ApiError::internal)?;
    // Whose it is, before anything changes: a reservation's member never changes.
    let owner = db::reservations::find(&mut transaction, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| reservation_not_found(id))?
        .member_id;
    caller.require_for_member(Scope::ReservationsWrite, owner)?;
    let now = db::time::now();
    let cancelled = db::reservations::cancel(
        &mut transaction,
        id,
        CancellationReason::CancelledByUser,
        now,
    )
    .await
    .map_err(ApiError::internal)?;
    let Some(reservation) = cancelled else {
        let existing = db::reservations::find(&mut transaction, id)
            .await
            .map_err(ApiError::internal)?;
        return Err(match existing {
            Some(reservation) => ApiError::Conflict(format!(
                "reservation {id} is already cancelled ({})",
                reservation
                    .cancellation_reason
                    .map_or("unknown reason", CancellationReason::as_str)
            )),
            None => reservation_not_found(id),
        });
    };
    let change = Change::ReservationCancelled {
        reservation: reservation.clone(),
        member_deleted_at: None,
    };
    db::changes::record(&mut transaction, &[change], now)
        .await
        .map_err(ApiError::internal)?;
    transaction.commit().await.map_err(ApiError::internal)?;
    state.updates.signal.committed();
    Ok(Json(reservation.into()))
}

fn reservation_not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("reservation {id} does not exist"))
}
