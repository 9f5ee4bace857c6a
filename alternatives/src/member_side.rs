//! member-service as the two alternatives would have it: the same members table and queries
//! (member-service's `db`), but no outbox. `DELETE /members/{id}` either deletes locally (the
//! polling way) or first has reservation-service cancel the member's reservations over HTTP (the
//! direct call), and `GET /deleted-members` answers the poller.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{
        Path, Query, Request, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get},
};
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use uuid::Uuid;

use crate::{
    db,
    domain::{self, CallVerdict, DeletedMember, PollCursor},
    problem::{internal, problem},
    workload::Workload,
};

const MAX_PAGE_SIZE: u32 = 1_000;

#[derive(Clone)]
pub struct MemberSideState {
    pub pool: AnyPool,
    pub deletion: DeletionMode,
    /// Added before every request while non-zero (milliseconds): the slow member-service.
    pub injected_delay_ms: Arc<AtomicU64>,
    /// The poller's requests, as `GET /deleted-members` served them.
    pub polls: Arc<Workload>,
}

#[derive(Clone)]
pub enum DeletionMode {
    /// Delete and answer: the reservation side finds out by polling.
    Local,
    /// Have reservation-service cancel first; refuse the deletion when it cannot.
    CallReservationSide(ReservationClient),
}

pub fn router(state: MemberSideState) -> Router {
    Router::new()
        .route("/members/{id}", delete(delete_member))
        .route("/deleted-members", get(deleted_members))
        .layer(middleware::from_fn_with_state(
            state.injected_delay_ms.clone(),
            inject_delay,
        ))
        .with_state(state)
}

async fn inject_delay(
    State(delay): State<Arc<AtomicU64>>,
    request: Request,
    next: Next,
) -> Response {
    let milliseconds = delay.load(Ordering::Relaxed);
    if milliseconds > 0 {
        tokio::time::sleep(Duration::from_millis(milliseconds)).await;
    }
    next.run(request).await
}

async fn delete_member(
    State(state): State<MemberSideState>,
    id: Result<Path<Uuid>, PathRejection>,
) -> Response {
    let id = match id {
        Ok(Path(id)) => id,
        Err(rejection) => return problem(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let mut connection = match state.pool.acquire().await {
        Ok(connection) => connection,
        Err(error) => return internal(&error),
    };
    let member = match member_service::db::members::find(&mut connection, id).await {
        Ok(Some(member)) => member,
        Ok(None) => return not_found(id),
        Err(error) => return internal(&error),
    };
    // Released before the call: a transaction held across another service's answer would hold
    // the member's row (and on SQLite, the one connection) for as long as that service takes.
    drop(connection);
    if let DeletionMode::CallReservationSide(client) = &state.deletion {
        let deletion = DeletedMember {
            member_id: id,
            version: member.version + 1,
            deleted_at: member_service::db::time::now(),
        };
        if let CallVerdict::Refuse { reason } = domain::verdict(client.cancel(&deletion).await) {
            tracing::warn!(member_id = %id, %reason, "deletion refused");
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the member's reservations could not be cancelled ({reason}); nothing was deleted"
                ),
            );
        }
    }
    match delete_in_transaction(&state.pool, id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => not_found(id),
        Err(error) => internal(&error),
    }
}

async fn delete_in_transaction(pool: &AnyPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let deleted = member_service::db::members::delete(&mut transaction, id).await?;
    transaction.commit().await?;
    Ok(deleted.is_some())
}

fn not_found(id: Uuid) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        format!("member {id} does not exist or was deleted"),
    )
}

#[derive(Deserialize)]
struct DeletedQuery {
    /// A `next_cursor` (or the poller's own start); absent reads from the first deletion.
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize, Deserialize)]
pub struct DeletedPage {
    pub items: Vec<DeletedMember>,
    /// Present when the page was full: more may follow.
    pub next_cursor: Option<String>,
}

async fn deleted_members(
    State(state): State<MemberSideState>,
    query: Result<Query<DeletedQuery>, QueryRejection>,
) -> Response {
    let started = Instant::now();
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return problem(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let limit = query.limit.unwrap_or(MAX_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        let detail = format!("limit must be between 1 and {MAX_PAGE_SIZE}");
        return problem(StatusCode::BAD_REQUEST, detail);
    }
    let after = match query.cursor.as_deref().map(PollCursor::decode) {
        Some(None) => return problem(StatusCode::BAD_REQUEST, "cursor is not valid"),
        Some(cursor) => cursor,
        None => None,
    };
    let page = match state.pool.acquire().await {
        Ok(mut connection) => db::deleted_since(&mut connection, after, limit).await,
        Err(error) => Err(error),
    };
    let response = match page {
        Ok(items) => {
            let next_cursor = (items.len() == limit as usize)
                .then(|| domain::advance(None, &items).map(|cursor| cursor.encode()))
                .flatten();
            Json(DeletedPage { items, next_cursor }).into_response()
        }
        Err(error) => internal(&error),
    };
    state.polls.record(started.elapsed());
    response
}

/// The direct call: one client for all deletions, so connections are reused, with a timeout.
#[derive(Clone)]
pub struct ReservationClient {
    http: reqwest::Client,
    base_url: String,
}

impl ReservationClient {
    pub fn new(base_url: String, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self { http, base_url })
    }

    /// The answer's status, or why there was none.
    pub async fn cancel(&self, deletion: &DeletedMember) -> Result<u16, String> {
        self.http
            .post(format!(
                "{}/members/{}/deletion",
                self.base_url, deletion.member_id
            ))
            .json(deletion)
            .send()
            .await
            .map(|response| response.status().as_u16())
            .map_err(|error| error.to_string())
    }
}
