//! Wiring: database, consumer and HTTP server, stopped together by one token.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::AnyPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    Config,
    auth::Verifier,
    db::{self, changes::ChangeSignal},
    events::{
        ConsumerHealth, ConsumerSettings, ConsumerStats, DeadLetterQueue, HealthMonitor,
        HealthSettings, MemberEventConsumer,
    },
    http::{self, AppState, RequestLimits, ServerSettings, UpdateStreams},
    retention::Retention,
};

/// How long a stop waits for open connections once the update streams have ended.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

/// How long `/ready` reports a consumer stopped for good before the process exits.
const CONSUMER_FAILURE_LINGER: Duration = Duration::from_secs(1);

pub struct Application {
    listener: TcpListener,
    state: AppState,
    limits: RequestLimits,
    server: ServerSettings,
    consumer: MemberEventConsumer,
    monitor: HealthMonitor,
    retention: Retention,
    shutdown: CancellationToken,
}

impl Application {
    /// Connects to the database (running migrations) and the broker, and binds the port.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        if config.metrics_enabled {
            crate::metrics::install().context("cannot start the metrics recorder")?;
        } else {
            crate::metrics::recorder::disable();
        }
        let limits = config.request_limits();
        let server = ServerSettings {
            header_read_timeout: config.http_header_read_timeout,
            drain: SHUTDOWN_DRAIN,
        };
        config
            .kafka_security
            .check()
            .context("invalid Kafka security settings")?;
        let pool = db::connect(&config.database_url, config.database_max_connections)
            .await
            .context("cannot open the reservation database")?;
        let dead_letters = DeadLetterQueue::new(
            &config.kafka_bootstrap_servers,
            &config.kafka_security,
            config.kafka_idempotence,
            config.dead_letter_topic.clone(),
            config.consumer_group.clone(),
        )
        .context("cannot create the dead-letter producer")?
        .with_max_message_bytes(
            usize::try_from(config.dead_letter_max_message_bytes).unwrap_or(usize::MAX),
        );
        let stats = Arc::new(ConsumerStats::default());
        let changes = ChangeSignal::default();
        let consumer = MemberEventConsumer::new(
            &ConsumerSettings {
                bootstrap_servers: config.kafka_bootstrap_servers.clone(),
                security: config.kafka_security.clone(),
                group: config.consumer_group.clone(),
                topic: config.member_events_topic.clone(),
                fetch_wait_max: config.kafka_fetch_wait_max,
                commit_interval: config.kafka_commit_interval,
                max_in_flight: usize::from(config.consumer_max_in_flight),
                max_attempts: config.consumer_max_attempts,
                fetch_queue_kbytes: config.kafka_fetch_queue_kbytes,
                session_timeout: config.kafka_session_timeout,
                group_instance_id: config.kafka_group_instance_id.clone(),
            },
            pool.clone(),
            dead_letters,
            stats.clone(),
            changes.clone(),
        )
        .context("cannot create the Kafka consumer")?;
        let listener = TcpListener::bind(config.listen_address)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen_address))?;
        let health = Arc::new(ConsumerHealth::default());
        let monitor = HealthMonitor {
            probe: consumer.probe(),
            pool: pool.clone(),
            stats: stats.clone(),
            health: health.clone(),
            settings: HealthSettings {
                stall_grace: config.consumer_stall_grace,
                check_interval: Duration::from_secs(1),
            },
        };
        let shutdown = CancellationToken::new();
        let state = AppState {
            pool,
            consumer: Some(consumer.probe()),
            stats,
            health,
            updates: UpdateStreams::new(changes, config.sse_max_streams, shutdown.clone()),
            verifier: Arc::new(
                Verifier::from_settings(&config.auth).context("cannot load the token key")?,
            ),
        };
        Ok(Self {
            listener,
            limits,
            server,
            retention: Retention::new(state.pool.clone(), config.retention),
            state,
            consumer,
            monitor,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|address| address.port())
            .unwrap_or_default()
    }

    /// The database pool, for tests that check the database directly.
    pub fn pool(&self) -> AnyPool {
        self.state.pool.clone()
    }

    /// Cancel it to stop: HTTP drains in-flight requests, the consumer commits what it applied.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs the HTTP server and the member-event consumer until the shutdown token is cancelled. Both run
    /// inside this one future, so dropping or aborting it stops everything at once, as a crash
    /// would.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let address = self.listener.local_addr()?;
        tracing::info!(%address, "reservation-service listening");
        let shutdown = self.shutdown.clone();
        let stats = self.state.stats.clone();
        let health = self.state.health.clone();
        let server = async {
            let router = http::router_with_limits(self.state, self.limits);
            let served = http::serve(self.listener, router, shutdown, self.server).await;
            // However the server ended, the member-event consumer ends with it.
            self.shutdown.cancel();
            served
        };
        let consumer = async {
            let ended = self.consumer.run(self.shutdown.clone()).await;
            stats.record_stopped();
            if ended.is_err() {
                // Stopped for good: `/ready` says so at once, for a moment, then the whole
                // process stops with an error status, for its orchestrator to restart it.
                health.consumer_stopped();
                tokio::select! {
                    () = tokio::time::sleep(CONSUMER_FAILURE_LINGER) => {}
                    () = self.shutdown.cancelled() => {}
                }
                self.shutdown.cancel();
            }
            ended
        };
        let (ended, (), (), served) = tokio::join!(
            consumer,
            self.monitor.run(self.shutdown.clone()),
            self.retention.run(self.shutdown.clone()),
            server
        );
        served?;
        ended.context("the member-event consumer stopped for good")?;
        tracing::info!("reservation-service stopped");
        Ok(())
    }
}
