//! reservation-service as the two alternatives would have it, on its own database and schema:
//! `POST /members/{id}/deletion` for the direct call, or a poller that asks member-service every
//! interval which members were deleted since its cursor. Either can be stopped and started
//! again on the same port and database, for the outage.

use std::{net::SocketAddr, sync::Arc, time::Duration, time::Instant};

use axum::{
    Json, Router,
    extract::{Path, State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use sqlx::AnyPool;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    db,
    domain::{self, DeletedMember},
    member_side::DeletedPage,
    problem::{internal, problem},
    workload::Workload,
};

/// Deletions asked for per poll request.
const POLL_PAGE_SIZE: u32 = 1_000;

#[derive(Clone, Debug)]
pub enum Mode {
    /// Serve the direct call.
    AnswerCalls,
    /// Poll `member_url` every `interval`, re-reading `look_back` before the cursor.
    Poll {
        member_url: String,
        interval: Duration,
        look_back: Duration,
    },
}

pub struct ReservationSide {
    pool: AnyPool,
    address: SocketAddr,
    mode: Mode,
    /// The direct calls, as the cancellation endpoint served them.
    pub calls: Arc<Workload>,
    running: Option<(CancellationToken, JoinHandle<()>, JoinHandle<()>)>,
}

impl ReservationSide {
    /// Binds a free port and starts.
    pub async fn start(pool: AnyPool, mode: Mode) -> anyhow::Result<Self> {
        db::prepare_reservation_database(&pool).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut side = Self {
            address: listener.local_addr()?,
            pool,
            mode,
            calls: Arc::default(),
            running: None,
        };
        side.serve(listener);
        Ok(side)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops as a deployment would: in-flight requests finish, the poller ends its round.
    pub async fn stop(&mut self) {
        if let Some((shutdown, server, poller)) = self.running.take() {
            shutdown.cancel();
            let _ = server.await;
            let _ = poller.await;
        }
    }

    /// Starts again on the same port and database.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let listener = TcpListener::bind(self.address).await?;
        self.serve(listener);
        Ok(())
    }

    fn serve(&mut self, listener: TcpListener) {
        let shutdown = CancellationToken::new();
        let state = CallState {
            pool: self.pool.clone(),
            calls: self.calls.clone(),
        };
        let router = Router::new()
            .route("/members/{id}/deletion", post(cancel_for_deleted_member))
            .with_state(state);
        let stopping = shutdown.clone();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stopping.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "reservation side's server failed");
            }
        });
        let poller = match self.mode.clone() {
            Mode::AnswerCalls => tokio::spawn(async {}),
            Mode::Poll {
                member_url,
                interval,
                look_back,
            } => {
                let poller = Poller {
                    pool: self.pool.clone(),
                    http: reqwest::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .unwrap_or_default(),
                    member_url,
                    look_back,
                };
                tokio::spawn(poller.run(interval, shutdown.clone()))
            }
        };
        self.running = Some((shutdown, server, poller));
    }
}

#[derive(Clone)]
struct CallState {
    pool: AnyPool,
    calls: Arc<Workload>,
}

/// Cancels the member's reservations and records it deleted; repeating it changes nothing.
async fn cancel_for_deleted_member(
    State(state): State<CallState>,
    Path(member_id): Path<Uuid>,
    body: Result<Json<DeletedMember>, JsonRejection>,
) -> Response {
    let started = Instant::now();
    let response = match body {
        Ok(Json(deletion)) if deletion.member_id == member_id => {
            match db::apply_deletions(&state.pool, &[deletion], false).await {
                Ok(_) => StatusCode::NO_CONTENT.into_response(),
                Err(error) => internal(&error),
            }
        }
        Ok(_) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "member_id in the body differs from the path",
        ),
        Err(rejection) => problem(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    state.calls.record(started.elapsed());
    response
}

struct Poller {
    pool: AnyPool,
    http: reqwest::Client,
    member_url: String,
    look_back: Duration,
}

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error("member-service did not answer")]
    Http(#[from] reqwest::Error),
    #[error("reservation database failed")]
    Database(#[from] sqlx::Error),
}

impl Poller {
    /// A round at once, then one per `interval`; a failed round is logged and the next one
    /// starts from the stored cursor, so nothing read is lost.
    async fn run(self, interval: Duration, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            if let Err(error) = self.poll_once().await {
                tracing::warn!(error = format!("{error:#}"), "poll round failed");
            }
        }
    }

    /// Reads every deletion since the cursor (minus the look-back), a page at a time, each page
    /// applied with its cursor in one transaction.
    async fn poll_once(&self) -> Result<(), PollError> {
        let stored = db::load_cursor(&mut *self.pool.acquire().await?).await?;
        let mut cursor = domain::read_from(stored, self.look_back).map(|cursor| cursor.encode());
        loop {
            let mut request = self
                .http
                .get(format!("{}/deleted-members", self.member_url))
                .query(&[("limit", POLL_PAGE_SIZE.to_string())]);
            if let Some(cursor) = &cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            let page: DeletedPage = request.send().await?.error_for_status()?.json().await?;
            if !page.items.is_empty() {
                db::apply_deletions(&self.pool, &page.items, true).await?;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }
}
