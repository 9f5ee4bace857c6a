//! Settings, read once at start-up from the environment (or flags), with defaults that run
//! locally against `cargo run -p stack`.

pub mod environment;
pub mod kafka;

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use event_schema::{ConsumerGroup, Topic};
use secrecy::SecretString;

use crate::auth::AuthSettings;

pub use environment::LogFormat;
use environment::{parse_milliseconds, parse_positive_milliseconds, parse_secret};
pub use kafka::{KafkaSecurity, KafkaSecurityError, SaslMechanism, SecurityProtocol};

#[derive(Clone, Debug, Parser)]
#[command(
    name = "reservation-service",
    about = "Reservations API and member-event consumer"
)]
pub struct Config {
    /// Address the HTTP API listens on (port 0 picks a free port).
    #[arg(
        long,
        env = "RESERVATION_SERVICE_ADDRESS",
        default_value = "127.0.0.1:8082"
    )]
    pub listen_address: SocketAddr,

    /// `sqlite://path/to/file.db` or `postgres://user:password@host/database`; TLS with
    /// `?sslmode=verify-full&sslrootcert=/path/to/ca.pem`. Secret: better from DATABASE_URL_FILE.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, hide_default_value = true, default_value = "sqlite://reservation-service.db", value_parser = parse_secret)]
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

    /// Where events that cannot be processed are parked, with the reason in headers.
    #[arg(long, env = "DEAD_LETTER_TOPIC", default_value = Topic::MemberEventsDeadLetter.name())]
    pub dead_letter_topic: String,

    /// Dead-letter copies larger than this go without their body (its SHA-256 and length in
    /// headers instead; the parked record keeps the bytes). At most the topic's
    /// `max.message.bytes`.
    #[arg(long, env = "DEAD_LETTER_MAX_MESSAGE_BYTES", default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1024..))]
    pub dead_letter_max_message_bytes: u32,

    /// Idempotent producer (the default, for Kafka). The embedded broker sets it off: its
    /// idempotence check fails after reconnects; order is then kept by one request in flight. A
    /// dead-letter copy sent twice is harmless: a redelivered parked event is copied again anyway,
    /// and the operator tools work on the parked record, which is one per position.
    #[arg(long, env = "KAFKA_IDEMPOTENCE", default_value_t = true, action = clap::ArgAction::Set)]
    pub kafka_idempotence: bool,

    #[arg(long, env = "CONSUMER_GROUP", default_value = ConsumerGroup::ReservationService.name())]
    pub consumer_group: String,

    /// Longest a fetch waits for data. Kafka answers as soon as data arrives; the embedded broker
    /// answers only when this runs out, so the local stack sets it to a few milliseconds.
    #[arg(long = "kafka-fetch-wait-max-ms", env = "KAFKA_FETCH_WAIT_MAX_MS", default_value = "100", value_parser = parse_milliseconds)]
    pub kafka_fetch_wait_max: Duration,

    /// How often stored offsets (of events already applied) are committed to the group.
    #[arg(long = "kafka-commit-interval-ms", env = "KAFKA_COMMIT_INTERVAL_MS", default_value = "1000", value_parser = parse_milliseconds)]
    pub kafka_commit_interval: Duration,

    /// Most events applied at once, in one transaction. The consumer takes no more from the
    /// broker until they are applied: this bounds its memory and batches its commits.
    #[arg(long, env = "CONSUMER_MAX_IN_FLIGHT", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub consumer_max_in_flight: u16,

    /// Resolved parked events and change-log entries are deleted once this many hours old (default
    /// 14 days). Redelivered events are recognised by the member list's versions, which are never
    /// pruned, so this need not outlast the member-events topic's retention.
    #[arg(long = "retention-hours", env = "RETENTION_HOURS", default_value = "336", value_parser = crate::retention::parse_hours)]
    pub retention: Duration,

    /// Attempts at an event whose handling keeps failing (for a reason other than an
    /// unreachable database, which is retried without limit) before it is parked.
    #[arg(long, env = "CONSUMER_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub consumer_max_attempts: u32,

    /// What the Kafka client may hold fetched ahead of the consumer, per partition; it stops
    /// fetching when this is full.
    #[arg(long, env = "KAFKA_FETCH_QUEUE_KBYTES", default_value_t = 1024)]
    pub kafka_fetch_queue_kbytes: u32,

    /// How long the group may take to notice that a member died (Kafka's `session.timeout.ms`;
    /// the broker bounds it, 6 s to 30 min by default). A killed replica's partitions wait this
    /// long before another takes them over.
    #[arg(long = "kafka-session-timeout-ms", env = "KAFKA_SESSION_TIMEOUT_MS", default_value = "10000", value_parser = parse_positive_milliseconds)]
    pub kafka_session_timeout: Duration,

    /// Static group membership (`group.instance.id`): a stable name per replica, unique within
    /// the group. A replica restarted under the same name takes its old partitions back at once,
    /// without a rebalance; unset, every start joins as a new member.
    #[arg(long, env = "KAFKA_GROUP_INSTANCE_ID")]
    pub kafka_group_instance_id: Option<String>,

    /// How long the consumer may hold no partitions while its topic has some, or have lag and
    /// apply nothing, before the service reports itself not ready (and logs a warning).
    #[arg(long = "consumer-stall-grace-ms", env = "CONSUMER_STALL_GRACE_MS", default_value = "20000", value_parser = parse_milliseconds)]
    pub consumer_stall_grace: Duration,

    /// Most `/updates` streams open at once; past it, a new one is answered 503.
    #[arg(long, env = "SSE_MAX_STREAMS", default_value_t = 100)]
    pub sse_max_streams: usize,

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
            ("CONSUMER_GROUP", "replica-group"),
            ("KAFKA_FETCH_WAIT_MAX_MS", "5"),
        ])
        .expect("valid environment");
        assert_eq!(config.consumer_group, "replica-group");
        assert_eq!(config.kafka_fetch_wait_max, Duration::from_millis(5));
        assert_eq!(
            config.dead_letter_topic,
            Topic::MemberEventsDeadLetter.name()
        );
    }

    #[test]
    fn variables_with_a_settings_prefix_that_no_setting_reads_are_reported() {
        let names = [
            "RESERVATION_SERVICE_ADRESS",
            "KAFKA_BOOTSTRAP_SERVER",
            "RESERVATION_SERVICE_ADDRESS",
            "KAFKA_BOOTSTRAP_SERVERS",
            "KAFKA_HOME",
            "RUST_LOG",
            "PATH",
        ];
        assert_eq!(
            Config::unrecognised_variables(names.map(String::from)),
            ["RESERVATION_SERVICE_ADRESS", "KAFKA_BOOTSTRAP_SERVER"]
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
        assert!(Config::from_environment([("CONSUMER_GROUPS", "x")]).is_err());
        assert!(Config::from_environment([("RESERVATION_SERVICE_ADDRESS", "nowhere")]).is_err());
    }
}
