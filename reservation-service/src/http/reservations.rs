//! `/reservations`: make, read, list, cancel.

use axum::{
    Json, Router,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
    routing::{get, post},
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiError, AppState};
use crate::{
    db,
    domain::{CancellationReason, NewReservation, Reservation, ReservationStatus, ValidationError},
};

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/reservations",
            get(list_reservations).post(make_reservation),
        )
        .route("/reservations/{id}", get(get_reservation))
        .route("/reservations/{id}/cancel", post(cancel_reservation))
}

#[derive(Deserialize)]
struct ReservationRequest {
    member_id: Uuid,
    resource: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct ReservationResponse {
    id: Uuid,
    member_id: Uuid,
    resource: String,
    starts_at: String,
    ends_at: String,
    status: &'static str,
    cancellation_reason: Option<&'static str>,
    created_at: String,
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

#[derive(Deserialize)]
struct ListQuery {
    member_id: Option<Uuid>,
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<Uuid>,
}

#[derive(Serialize)]
struct ReservationPage {
    items: Vec<ReservationResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<Uuid>,
}

async fn make_reservation(
    State(state): State<AppState>,
    payload: Result<Json<ReservationRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ReservationResponse>), ApiError> {
    let Json(request) = payload?;
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
    let reservation = db::reservations::insert(&mut transaction, &new_reservation, db::time::now())
        .await
        .map_err(ApiError::internal)?;
    transaction.commit().await.map_err(ApiError::internal)?;
    tracing::info!(reservation_id = %reservation.id, member_id = %reservation.member_id, "reservation made");
    Ok((StatusCode::CREATED, Json(reservation.into())))
}

async fn get_reservation(
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<ReservationResponse>, ApiError> {
    let Path(id) = id?;
    let mut connection = state.pool.acquire().await.map_err(ApiError::internal)?;
    db::reservations::find(&mut connection, id)
        .await
        .map_err(ApiError::internal)?
        .map(|reservation| Json(reservation.into()))
        .ok_or_else(|| reservation_not_found(id))
}

async fn list_reservations(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ReservationPage>, ApiError> {
    let Query(query) = query?;
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
    let reservations = db::reservations::list(
        &mut connection,
        query.member_id,
        status,
        query.cursor,
        limit,
    )
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

async fn cancel_reservation(
    State(state): State<AppState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<ReservationResponse>, ApiError> {
    let Path(id) = id?;
    let mut transaction = state.pool.begin().await.map_err(ApiError::internal)?;
    let cancelled = db::reservations::cancel(
        &mut transaction,
        id,
        CancellationReason::CancelledByUser,
        db::time::now(),
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
    transaction.commit().await.map_err(ApiError::internal)?;
    Ok(Json(reservation.into()))
}

fn reservation_not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("reservation {id} does not exist"))
}
