//! Wiring: database, producer, relay, health check and HTTP server, stopped together by one
//! token.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::AnyPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    Config,
    auth::Verifier,
    db::{self, relay_lock::OutboxAccess},
    events::{
        BrokerProbe, Health, HealthMonitor, OutboxSignal, ProducerSettings, Relay, RelaySettings,
        create_producer,
    },
    http::{self, AppState, RequestLimits, ServerSettings},
    retention::Retention,
};

/// How long a stop waits for in-flight requests before closing their connections.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

pub struct Application {
    listener: TcpListener,
    state: AppState,
    limits: RequestLimits,
    server: ServerSettings,
    relay: Relay,
    health_monitor: HealthMonitor,
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
            .context("cannot open the member database")?;
        let producer = create_producer(&ProducerSettings {
            bootstrap_servers: config.kafka_bootstrap_servers.clone(),
            security: config.kafka_security.clone(),
            idempotence: config.kafka_idempotence,
            linger: config.kafka_linger,
            message_timeout: config.kafka_message_timeout,
        })
        .context("cannot create the Kafka producer")?;
        let listener = TcpListener::bind(config.listen_address)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen_address))?;
        let outbox_signal = OutboxSignal::default();
        let backend =
            db::Backend::of_url(secrecy::ExposeSecret::expose_secret(&config.database_url))?;
        let relay = Relay::new(
            OutboxAccess::new(pool.clone(), backend),
            producer.clone(),
            outbox_signal.clone(),
            RelaySettings {
                topic: config.member_events_topic.clone(),
                batch_size: config.relay_batch_size,
                sweep_interval: config.relay_sweep_interval,
            },
        );
        let health = Health::default();
        let health_monitor = HealthMonitor::new(
            pool.clone(),
            BrokerProbe::new(producer, config.member_events_topic),
            health.clone(),
        );
        let retention = Retention::new(pool.clone(), config.outbox_retention);
        let state = AppState {
            pool,
            outbox_signal,
            health,
            relay: relay.leadership(),
            verifier: Arc::new(
                Verifier::from_settings(&config.auth).context("cannot load the token key")?,
            ),
        };
        Ok(Self {
            listener,
            limits,
            server,
            state,
            relay,
            health_monitor,
            retention,
            shutdown: CancellationToken::new(),
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

    /// Cancel it to stop: HTTP drains in-flight requests, the relay finishes its round, the
    /// health check stops.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs the HTTP server, the outbox relay and the health check until the shutdown token is
    /// cancelled. All run inside this one future, so dropping or aborting it stops everything at
    /// once, as a crash would.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let address = self.listener.local_addr()?;
        tracing::info!(%address, "member-service listening");
        let shutdown = self.shutdown.clone();
        let server = async {
            let router = http::router_with_limits(self.state, self.limits);
            let served = http::serve(self.listener, router, shutdown, self.server).await;
            // However the server ended, the outbox relay and the health check end with it.
            self.shutdown.cancel();
            served
        };
        let ((), (), (), served) = tokio::join!(
            self.relay.run(self.shutdown.clone()),
            self.health_monitor.run(self.shutdown.clone()),
            self.retention.run(self.shutdown.clone()),
            server
        );
        served?;
        tracing::info!("member-service stopped");
        Ok(())
    }
}
