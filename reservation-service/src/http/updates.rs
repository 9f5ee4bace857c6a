//! `/updates`: a Server-Sent Events stream of what changes on this service's side, read from the
//! change log ([`db::changes`]).
//!
//! Every stream reads the log after the last id it sent, a page at a time, whether it starts,
//! resumes with `Last-Event-ID` (after a dropped connection or a restart of the service) or
//! was woken by a commit: one path, and the database is the only truth. It reads the next page
//! only when the client has taken the last one (the body is pulled by the connection as the
//! socket drains), so a slow client holds at most one page in memory, however far behind it is.
//! A commit wakes the waiting streams ([`ChangeSignal`]); a poll every second finds what another
//! process committed and sends the consumer's lag when it changed.

use std::{
    collections::VecDeque,
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use serde::Deserialize;
use serde_json::json;
use sqlx::AnyPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::authentication::bearer_token;
use super::{
    ApiError, AppState,
    examples::{MEMBER_ID_EXAMPLE, problem_example},
    problem::Problem,
};
use crate::{
    auth::{Scope, TokenError},
    db::{self, changes::ChangeSignal, changes::LoggedChange},
    events::ConsumerHealth,
};

/// Changes read from the database at once: about the most a stream holds in memory (a page
/// ends with a whole row of the log, which may take it past this by part of one row).
pub const PAGE_SIZE: usize = 100;
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How soon a browser's `EventSource` reconnects after the stream ends.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(updates))
}

/// What the streams share: the commit signal, the cap on their number and the shutdown.
#[derive(Clone, Debug)]
pub struct UpdateStreams {
    pub signal: ChangeSignal,
    permits: Arc<Semaphore>,
    shutdown: CancellationToken,
    changes_read: Arc<AtomicU64>,
}

impl UpdateStreams {
    /// At most `max_streams` at once; all of them end when `shutdown` is cancelled.
    pub fn new(signal: ChangeSignal, max_streams: usize, shutdown: CancellationToken) -> Self {
        Self {
            signal,
            permits: Arc::new(Semaphore::new(max_streams)),
            shutdown,
            changes_read: Arc::default(),
        }
    }

    /// Ends every stream, as the service's shutdown does.
    pub fn shutdown_streams(&self) {
        self.shutdown.cancel();
    }

    /// Changes all streams have read from the change log so far: what they hold in memory is
    /// what they read minus what they sent.
    pub fn changes_read(&self) -> u64 {
        self.changes_read.load(Ordering::Relaxed)
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UpdatesQuery {
    /// Only this member's changes (the consumer's lag is sent to every stream). A member's token
    /// streams only its own member's, with or without this.
    member_id: Option<Uuid>,
    /// The bearer token, for a browser's `EventSource`, which cannot send an `Authorization`
    /// header; other clients send the header. Only this route reads a token from the query.
    access_token: Option<String>,
}

/// One event of the stream, parsed: in OpenAPI 3.1 the schema of a `text/event-stream`
/// response describes each event, not the raw text (the example shows the text).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the wire format; axum's `Sse` writes the events
struct StreamEvent {
    /// The change's id, the `Last-Event-ID` to resume after; absent on `lag`.
    id: Option<String>,
    /// `reservation_created`, `reservation_cancelled`, `member_learned`, `member_deleted` or `lag`.
    event: Option<String>,
    /// The change as JSON text.
    data: String,
    /// How long a browser waits before it reconnects, in milliseconds.
    retry: Option<u64>,
}

/// A stream of changes, oldest first: every change since the start, or since the one named by
/// `Last-Event-ID`, then each change as it commits. Events: `reservation_created`,
/// `reservation_cancelled` (`reservation.cancellation_reason`; `member_deleted_at`, the time
/// of the member's deletion when that cancelled it), `member_learned`, `member_deleted` (as
/// learned from the member's event; `at` is the event's time), each with an `id` from the
/// database and a JSON `data` that repeats it as `id` and `type`; and `lag` (no id): the
/// consumer's total lag and readiness, when they change.
#[utoipa::path(
    get,
    path = "/updates",
    tag = "reservations",
    security(("bearer" = ["reservations:read"])),
    params(
        UpdatesQuery,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "The id of the last change received: the stream starts after it. A browser's `EventSource` sends it when it reconnects."),
    ),
    responses(
        (status = OK, description = "Server-Sent Events, until the client leaves or the service stops",
            content_type = "text/event-stream", body = StreamEvent,
            example = json!(format!("retry: 1000\nevent: lag\ndata: {{\"total_lag\":0,\"ready\":true}}\n\n\
                id: 7\nevent: member_deleted\ndata: {{\"id\":7,\"type\":\"member_deleted\",\"member_id\":\"{MEMBER_ID_EXAMPLE}\",\"version\":2,\"at\":\"2030-01-01T09:00:00.000000Z\"}}\n\n"))),
        (status = BAD_REQUEST, description = "`member_id` is not a UUID, or `Last-Event-ID` not a change id",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::BAD_REQUEST, "Last-Event-ID must be a change id (a whole number), not \"x\""))),
        (status = SERVICE_UNAVAILABLE, description = "As many streams are open as the service allows (`SSE_MAX_STREAMS`); try again later",
            body = Problem, content_type = "application/problem+json",
            example = json!(problem_example(StatusCode::SERVICE_UNAVAILABLE, "too many update streams are open; try again later"))),
    )
)]
async fn updates(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<UpdatesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let token = match (&query.access_token, bearer_token(&headers)) {
        (_, Ok(token)) => token,
        (Some(token), Err(TokenError::Missing)) => token.as_str(),
        (_, Err(error)) => return Err(error.into()),
    };
    let caller = state.verifier.verify(token)?;
    let member_id = caller.member_filter(Scope::ReservationsRead, query.member_id)?;
    let after_id = last_event_id(&headers)?;
    let Ok(permit) = state.updates.permits.clone().try_acquire_owned() else {
        return Ok(too_many_streams());
    };
    let reader = Reader {
        pool: state.pool.clone(),
        member_id,
        last_id: after_id,
        page: VecDeque::new(),
        woken: state.updates.signal.subscribe(),
        poll: tokio::time::interval(POLL_INTERVAL),
        health: state.health.clone(),
        lag_sent: None,
        streams: state.updates.clone(),
        _permit: permit,
    };
    let events = futures::stream::unfold(reader, Reader::next);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn last_event_id(headers: &HeaderMap) -> Result<i64, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(0);
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Last-Event-ID must be a change id (a whole number), not {text:?}"
            ))
        })
}

/// A 503 problem. `ApiError` has no such variant, and its file is shared with member-service
/// (docs/decisions/0001-shared-plumbing.md), so the body is built from the same `Problem`.
fn too_many_streams() -> Response {
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let detail = "too many update streams are open; try again later";
    (
        status,
        [
            (header::CONTENT_TYPE, "application/problem+json"),
            (header::RETRY_AFTER, "5"),
        ],
        axum::Json(Problem::example(status, detail, &[])),
    )
        .into_response()
}

/// One stream's position in the change log, and the one page it holds.
struct Reader {
    pool: AnyPool,
    member_id: Option<Uuid>,
    last_id: i64,
    page: VecDeque<LoggedChange>,
    woken: watch::Receiver<u64>,
    poll: tokio::time::Interval,
    health: Arc<ConsumerHealth>,
    lag_sent: Option<(Option<i64>, bool)>,
    streams: UpdateStreams,
    /// Its place under the cap, given back when the stream is dropped.
    _permit: OwnedSemaphorePermit,
}

impl Reader {
    /// The next event; `None` ends the stream (shutdown, or the database failed: the client
    /// reconnects with `Last-Event-ID` and loses nothing).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if self.streams.shutdown.is_cancelled() {
                return None;
            }
            if let Some(change) = self.page.pop_front() {
                self.last_id = change.id;
                let event = Event::default()
                    .id(change.id.to_string())
                    .event(change.kind)
                    .data(change.data);
                return Some((Ok(event), self));
            }
            if let Some(event) = self.lag_event() {
                return Some((Ok(event), self));
            }
            // Marks the signal seen before reading, so a commit after the read wakes it again.
            self.woken.borrow_and_update();
            match self.read_page().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "update stream cannot read the change log; ending it");
                    return None;
                }
            }
            tokio::select! {
                () = self.streams.shutdown.cancelled() => return None,
                _ = self.woken.changed() => {}
                _ = self.poll.tick() => {}
            }
        }
    }

    /// Reads the next page of changes; whether there were any.
    async fn read_page(&mut self) -> Result<bool, sqlx::Error> {
        let mut connection = self.pool.acquire().await?;
        let page =
            db::changes::after(&mut connection, self.last_id, self.member_id, PAGE_SIZE).await?;
        let count = u64::try_from(page.len()).unwrap_or(u64::MAX);
        self.streams
            .changes_read
            .fetch_add(count, Ordering::Relaxed);
        self.page = page.into();
        Ok(!self.page.is_empty())
    }

    /// The consumer's lag and readiness when they differ from what this stream sent last (the
    /// first event of every stream, which also sets the client's reconnection delay).
    fn lag_event(&mut self) -> Option<Event> {
        let report = self.health.report();
        let lag = (report.total_lag, report.not_ready.is_empty());
        if self.lag_sent == Some(lag) {
            return None;
        }
        let first = self.lag_sent.is_none();
        self.lag_sent = Some(lag);
        let event = Event::default()
            .event("lag")
            .data(json!({ "total_lag": lag.0, "ready": lag.1 }).to_string());
        Some(if first {
            event.retry(RECONNECT_AFTER)
        } else {
            event
        })
    }
}
