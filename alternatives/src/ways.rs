//! The three ways, each a running system with the same handles: where to send DELETEs, where
//! cancellations are read, how to stop and restart the reservation side, and (polling) how to
//! slow member-service down.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use bench::system::BenchSystem;
use secrecy::SecretString;
use sqlx::{AnyPool, Connection, Executor, PgConnection};
use system_tests::backends::TestDatabases;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;
use uuid::Uuid;

use crate::{
    db,
    member_side::{self, DeletionMode, MemberSideState, ReservationClient},
    options::Plan,
    reservation_side::{Mode, ReservationSide},
    seed,
    workload::WorkloadSnapshot,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    Events,
    DirectCall,
    Polling,
}

impl Way {
    pub const ALL: [Self; 3] = [Self::Events, Self::DirectCall, Self::Polling];

    pub fn name(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::DirectCall => "direct call",
            Self::Polling => "polling",
        }
    }
}

pub enum WaySystem {
    /// The product, unchanged, started by the benchmark's harness.
    Events(Box<BenchSystem>),
    Alternative(Box<Alternative>),
}

pub struct Alternative {
    way: Way,
    databases: TestDatabases,
    member_url: String,
    member_pool: AnyPool,
    reservation_pool: AnyPool,
    member_state: MemberSideState,
    member_server: (CancellationToken, JoinHandle<()>),
    reservation_side: ReservationSide,
}

impl WaySystem {
    pub async fn start(way: Way, plan: &Plan) -> anyhow::Result<Self> {
        if way == Way::Events {
            let output = plan.output.display().to_string();
            let mut options = <bench::Options as clap::Parser>::try_parse_from([
                "bench",
                "--output",
                output.as_str(),
            ])?;
            options.database_url.clone_from(&plan.database_url);
            options
                .kafka_bootstrap_servers
                .clone_from(&plan.kafka_bootstrap_servers);
            return Ok(Self::Events(Box::new(BenchSystem::start(&options).await?)));
        }
        let databases = match &plan.database_url {
            Some(url) => TestDatabases::Postgres {
                admin_url: Url::parse(url)?,
            },
            None => TestDatabases::Sqlite(tempfile_in(&plan.output)?),
        };
        let connect = |url: String| async move {
            member_service::db::connect(&SecretString::from(url), 10).await
        };
        let member_pool = connect(databases.create("members").await).await?;
        let reservation_url = SecretString::from(databases.create("reservations").await);
        let reservation_pool = reservation_service::db::connect(&reservation_url, 10).await?;
        db::prepare_member_database(&member_pool).await?;
        let member_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let member_url = format!("http://{}", member_listener.local_addr()?);
        let mode = match way {
            Way::Polling => Mode::Poll {
                member_url: member_url.clone(),
                interval: plan.poll_interval,
                look_back: plan.poll_look_back,
            },
            _ => Mode::AnswerCalls,
        };
        let reservation_side = ReservationSide::start(reservation_pool.clone(), mode).await?;
        let deletion = match way {
            Way::DirectCall => DeletionMode::CallReservationSide(ReservationClient::new(
                reservation_side.base_url(),
                plan.call_timeout,
            )?),
            _ => DeletionMode::Local,
        };
        let member_state = MemberSideState {
            pool: member_pool.clone(),
            deletion,
            injected_delay_ms: Arc::default(),
            polls: Arc::default(),
        };
        let shutdown = CancellationToken::new();
        let stopping = shutdown.clone();
        let router = member_side::router(member_state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(member_listener, router)
                .with_graceful_shutdown(async move { stopping.cancelled().await })
                .await;
        });
        Ok(Self::Alternative(Box::new(Alternative {
            way,
            databases,
            member_url,
            member_pool,
            reservation_pool,
            member_state,
            member_server: (shutdown, server),
            reservation_side,
        })))
    }

    pub fn member_url(&self) -> String {
        match self {
            Self::Events(system) => system.member_url.clone(),
            Self::Alternative(system) => system.member_url.clone(),
        }
    }

    /// The client the load uses: the harness's for the product (it carries the token the
    /// services verify), `plain` for the alternatives, whose endpoints take none.
    pub fn http(&self, plain: &reqwest::Client) -> reqwest::Client {
        match self {
            Self::Events(system) => system.http().clone(),
            Self::Alternative(_) => plain.clone(),
        }
    }

    pub fn reservation_pool(&self) -> AnyPool {
        match self {
            Self::Events(system) => system.reservation_pool.clone(),
            Self::Alternative(system) => system.reservation_pool.clone(),
        }
    }

    /// `count` members with reservations, ready to be deleted.
    pub async fn populate(&self, count: usize, plan: &Plan) -> anyhow::Result<Vec<Uuid>> {
        match self {
            Self::Events(system) => Ok(bench::setup::populate(
                system,
                count,
                plan.reservations_per_member,
                plan.setup_concurrency,
            )
            .await?),
            Self::Alternative(system) => {
                seed::populate(
                    &system.member_pool,
                    &system.reservation_pool,
                    count,
                    plan.reservations_per_member,
                )
                .await
            }
        }
    }

    pub async fn stop_reservation_side(&mut self) -> anyhow::Result<()> {
        match self {
            Self::Events(system) => system.stop_consumer().await?,
            Self::Alternative(system) => system.reservation_side.stop().await,
        }
        Ok(())
    }

    pub async fn start_reservation_side(&mut self) -> anyhow::Result<()> {
        match self {
            Self::Events(system) => Ok(system.start_consumer().await?),
            Self::Alternative(system) => system.reservation_side.restart().await,
        }
    }

    /// Adds `delay` before every request member-service answers (the alternatives' only).
    pub fn slow_member_side(&self, delay: Duration) {
        if let Self::Alternative(system) = self {
            let milliseconds = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            let injected = &system.member_state.injected_delay_ms;
            injected.store(milliseconds, Ordering::Relaxed);
        }
    }

    /// Requests between the two services so far, as the side that answers them counted: the
    /// poller's on member-service, the direct calls on reservation-service. The events way
    /// makes none: reservation-service never calls member-service, nor the other way round.
    pub fn requests_between_services(&self) -> WorkloadSnapshot {
        match self {
            Self::Events(_) => WorkloadSnapshot::default(),
            Self::Alternative(system) => match system.way {
                Way::Polling => system.member_state.polls.snapshot(),
                _ => system.reservation_side.calls.snapshot(),
            },
        }
    }

    pub async fn shut_down(self) -> anyhow::Result<()> {
        match self {
            Self::Events(system) => Ok(system.shut_down().await?),
            Self::Alternative(mut system) => {
                system.reservation_side.stop().await;
                let (shutdown, server) = system.member_server;
                shutdown.cancel();
                let _ = server.await;
                let names = [
                    database_name(&system.member_pool).await,
                    database_name(&system.reservation_pool).await,
                ];
                system.member_pool.close().await;
                system.reservation_pool.close().await;
                if let TestDatabases::Postgres { admin_url } = &system.databases {
                    let mut admin = PgConnection::connect(admin_url.as_str()).await?;
                    for name in names.into_iter().flatten() {
                        let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        admin.execute(statement.as_str()).await?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// On PostgreSQL the database's name, to drop it at the end; `None` on SQLite.
async fn database_name(pool: &AnyPool) -> Option<String> {
    sqlx::query_scalar::<_, String>("SELECT CAST(current_database() AS TEXT)")
        .fetch_one(pool)
        .await
        .ok()
}

/// The SQLite files go beside the results, on the same disk: fsync must cost what it costs.
fn tempfile_in(directory: &std::path::Path) -> anyhow::Result<tempfile::TempDir> {
    std::fs::create_dir_all(directory)?;
    Ok(tempfile::TempDir::new_in(directory)?)
}
