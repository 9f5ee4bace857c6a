//! Settings, read once at start-up from the environment (or flags), with defaults that run
//! locally against `cargo run -p stack`.

pub mod environment;
pub mod kafka;

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use event_schema::Topic;
use secrecy::SecretString;

use crate::auth::AuthSettings;

pub use environment::LogFormat;
use environment::{parse_milliseconds, parse_positive_milliseconds, parse_secret};
pub use kafka::{KafkaSecurity, KafkaSecurityError, SaslMechanism, SecurityProtocol};

#[derive(Clone, Debug, Parser)]
#[command(name = "member-service", about = "Members API and outbox relay")]
pub struct Config {
    /// Address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, env = "MEMBER_SERVICE_ADDRESS", default_value = "127.0.0.1:8081")]
    pub listen_address: SocketAddr,

    /// `sqlite://path/to/file.db` or `postgres://user:password@host/database`; TLS with
    /// `?sslmode=verify-full&sslrootcert=/path/to/ca.pem`. Secret: better from DATABASE_URL_FILE.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, hide_default_value = true, default_value = "sqlite://member-service.db", value_parser = parse_secret)]
    pub database_url: SecretString,

    /// Upper bound of pooled PostgreSQL connections (SQLite uses one writer connection).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    pub kafka_bootstrap_servers: String,

    #[command(flatten)]
    pub kafka_security: KafkaSecurity,

    #[arg(long, env = "MEMBER_EVENTS_TOPIC", default_value = Topic::MemberEvents.name())]
    pub member_events_topic: String,

    /// Idempotent producer (the default, for Kafka). The embedded broker sets it off: its
    /// idempotence check fails after reconnects; order is then kept by one request in flight, and
    /// a retried duplicate carries the member version the consumer already applied, so it has no
    /// second effect there.
    #[arg(long, env = "KAFKA_IDEMPOTENCE", default_value_t = true, action = clap::ArgAction::Set)]
    pub kafka_idempotence: bool,

    /// How long the producer waits to batch messages; 0 sends at once.
    #[arg(long = "kafka-linger-ms", env = "KAFKA_LINGER_MS", default_value = "1", value_parser = parse_milliseconds)]
    pub kafka_linger: Duration,

    /// How long one publish attempt may take before the relay backs off and retries.
    #[arg(long = "kafka-message-timeout-ms", env = "KAFKA_MESSAGE_TIMEOUT_MS", default_value = "10000", value_parser = parse_milliseconds)]
    pub kafka_message_timeout: Duration,

    /// The relay wakes on every commit; this sweep is only a safety net.
    #[arg(long, env = "RELAY_SWEEP_INTERVAL_MS", default_value = "5000", value_parser = parse_milliseconds)]
    pub relay_sweep_interval: Duration,

    /// Outbox rows published per round.
    #[arg(long, env = "RELAY_BATCH_SIZE", default_value_t = 256)]
    pub relay_batch_size: u32,

    /// Published outbox rows are deleted once this many hours old. Keep it longer than the
    /// member-events topic's retention (default 14 days, twice Kafka's default of 7).
    #[arg(long = "outbox-retention-hours", env = "OUTBOX_RETENTION_HOURS", default_value = "336", value_parser = crate::retention::parse_hours)]
    pub outbox_retention: Duration,

    /// How long a client may take to send a request's head before its connection is closed.
    #[arg(long = "http-header-read-timeout-ms", env = "HTTP_HEADER_READ_TIMEOUT_MS", default_value = "10000", value_parser = parse_positive_milliseconds)]
    pub http_header_read_timeout: Duration,

    /// How long an API request may run before it is answered 503 (`/updates` streams excepted).
    #[arg(long = "http-request-timeout-ms", env = "HTTP_REQUEST_TIMEOUT_MS", default_value = "10000", value_parser = parse_positive_milliseconds)]
    pub http_request_timeout: Duration,

    /// Most API requests in flight at once (`/updates` streams excepted); past it a request is
    /// answered 503 with `Retry-After` at once.
    #[arg(long, env = "HTTP_MAX_CONCURRENT_REQUESTS", default_value = "512", value_parser = clap::value_parser!(u32).range(1..))]
    pub http_max_concurrent_requests: u32,

    /// Prometheus metrics at `/metrics`. `false` records none and `/metrics` answers 404: for a
    /// deployment that collects none, and for the benchmark's cost-of-observability phase.
    #[arg(long, env = "METRICS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub metrics_enabled: bool,

    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Who may call the API: the key bearer tokens are verified with, their issuer and audience.
    #[command(flatten)]
    pub auth: AuthSettings,
}

impl Config {
    /// The bounds the HTTP API puts on each request.
    pub fn request_limits(&self) -> crate::http::RequestLimits {
        crate::http::RequestLimits {
            timeout: self.http_request_timeout,
            max_concurrent: usize::try_from(self.http_max_concurrent_requests)
                .unwrap_or(usize::MAX),
        }
    }

    /// Those of `names` that start like a setting's variable but that no setting reads: most
    /// likely misspelt, leaving a default in force. The binary warns about them at start-up.
    pub fn unrecognised_variables(names: impl IntoIterator<Item = String>) -> Vec<String> {
        environment::unrecognised_variables::<Self>(names)
    }

    /// The settings of this process: flags, variables, and `NAME_FILE` for any variable
    /// `NAME` (see `environment`).
    pub fn from_process() -> Result<Self, clap::Error> {
        environment::from_process()
    }

    /// Defaults with the given overrides, as the binary would see them. Used by tests and by the
    /// local stack, which run the service in-process.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Result<Self, clap::Error> {
        environment::from_pairs(pairs)
    }

    /// Parses a set of environment variables exactly as the binary would see them: how a
    /// deployment file's settings are checked.
    pub fn from_environment<'a>(
        variables: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, clap::Error> {
        environment::from_environment(variables)
    }

    /// As `from_environment`, with `NAME_FILE` files read by `read`.
    pub fn from_environment_reading<'a>(
        variables: impl IntoIterator<Item = (&'a str, &'a str)>,
        read: impl Fn(&std::path::Path) -> std::io::Result<String>,
    ) -> Result<Self, clap::Error> {
        environment::from_environment_reading(variables, read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{KeyError, Verifier};

    #[test]
    fn environment_variables_map_to_settings() {
        let config = Config::from_environment([
            ("MEMBER_SERVICE_ADDRESS", "0.0.0.0:9000"),
            ("RELAY_SWEEP_INTERVAL_MS", "250"),
            ("RUST_LOG", "debug"),
        ])
        .expect("valid environment");
        assert_eq!(config.listen_address.port(), 9000);
        assert_eq!(config.relay_sweep_interval, Duration::from_millis(250));
        assert_eq!(config.member_events_topic, Topic::MemberEvents.name());
    }

    #[test]
    fn variables_with_a_settings_prefix_that_no_setting_reads_are_reported() {
        let names = [
            "MEMBER_SERVICE_ADRESS",
            "KAFKA_BOOTSTRAP_SERVER",
            "MEMBER_SERVICE_ADDRESS",
            "KAFKA_BOOTSTRAP_SERVERS",
            "KAFKA_HOME",
            "RUST_LOG",
            "PATH",
        ];
        assert_eq!(
            Config::unrecognised_variables(names.map(String::from)),
            ["MEMBER_SERVICE_ADRESS", "KAFKA_BOOTSTRAP_SERVER"]
        );
    }

    #[test]
    fn the_service_does_not_start_without_exactly_one_token_key() {
        let secret = ("AUTH_HS256_SECRET", "a-development-secret-of-32-bytes!");
        let none = Config::from_environment([]).expect("the settings parse without a key");
        assert!(matches!(
            Verifier::from_settings(&none.auth),
            Err(KeyError::Missing)
        ));
        assert_eq!(none.auth.auth_audience, env!("CARGO_PKG_NAME"));
        assert!(Config::from_environment([("AUTH_HS256_SECRET", "short")]).is_err());
        assert!(
            Config::from_environment([secret, ("AUTH_PUBLIC_KEY_FILE", "/etc/key.pem")]).is_err(),
            "two keys"
        );
        assert!(Config::from_environment([secret, ("AUTH_LEEWAY_SECONDS", "301")]).is_err());
    }

    #[test]
    fn help_shows_no_secret_values() {
        assert_eq!(
            environment::secrets_shown_in_help::<Config>(),
            [] as [String; 0]
        );
    }

    #[test]
    fn unknown_or_malformed_variables_are_rejected() {
        assert!(Config::from_environment([("MEMBER_SERVICE_ADRESS", "0.0.0.0:9000")]).is_err());
        assert!(Config::from_environment([("RELAY_BATCH_SIZE", "many")]).is_err());
    }
}
