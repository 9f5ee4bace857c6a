//! Settings, read once at start-up from the environment (or flags), with defaults that run
//! locally against `cargo run -p stack`.

use std::{net::SocketAddr, time::Duration};

use clap::{CommandFactory, Parser, ValueEnum};
use event_schema::Topic;
use secrecy::SecretString;

#[derive(Clone, Debug, Parser)]
#[command(name = "member-service", about = "Members API and outbox relay")]
pub struct Config {
    /// Address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, env = "MEMBER_SERVICE_ADDRESS", default_value = "127.0.0.1:8081")]
    pub listen_address: SocketAddr,

    /// `sqlite://path/to/file.db` or `postgres://user:password@host/database`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://member-service.db", value_parser = parse_secret)]
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

    #[arg(long, env = "MEMBER_EVENTS_TOPIC", default_value = Topic::MemberEvents.name())]
    pub member_events_topic: String,

    /// Idempotent producer (the default, for Kafka). The embedded broker sets it off: its
    /// idempotence check fails after reconnects; order is then kept by one request in flight, and
    /// retried duplicates are absorbed by the consumer's event-id record.
    #[arg(long, env = "KAFKA_IDEMPOTENCE", default_value_t = true, action = clap::ArgAction::Set)]
    pub kafka_idempotence: bool,

    /// How long the producer waits to batch messages; 0 sends at once.
    #[arg(long, env = "KAFKA_LINGER_MS", default_value_t = 1)]
    pub kafka_linger_ms: u64,

    /// How long one publish attempt may take before the relay backs off and retries.
    #[arg(long, env = "KAFKA_MESSAGE_TIMEOUT_MS", default_value_t = 10_000)]
    pub kafka_message_timeout_ms: u64,

    /// The relay wakes on every commit; this sweep is only a safety net.
    #[arg(long, env = "RELAY_SWEEP_INTERVAL_MS", default_value = "5000", value_parser = parse_millis)]
    pub relay_sweep_interval: Duration,

    /// Outbox rows published per round.
    #[arg(long, env = "RELAY_BATCH_SIZE", default_value_t = 256)]
    pub relay_batch_size: u32,

    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value.to_owned()))
}

fn parse_millis(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value.parse().map(Duration::from_millis)
}

/// Variables that tooling in this repository reads and that share a prefix with a setting:
/// `infra/kafka/kafka.sh`'s, and the tests' way to stop and start that Kafka.
const OTHER_TOOLS_VARIABLES: &[&str] = &[
    "KAFKA_HOME",
    "KAFKA_DATA_DIR",
    "KAFKA_BOOTSTRAP",
    "KAFKA_CONTROL_SCRIPT",
];

impl Config {
    /// Those of `names` that start like a setting's variable (up to its last word: `KAFKA_`,
    /// `DEAD_LETTER_`, …) but that no setting reads: most likely misspelt, leaving a default in
    /// force. The binary warns about them at start-up.
    pub fn unrecognised_variables(names: impl IntoIterator<Item = String>) -> Vec<String> {
        let command = Self::command();
        let settings: Vec<&str> = command
            .get_arguments()
            .filter_map(|argument| argument.get_env()?.to_str())
            .collect();
        let prefixes: Vec<&str> = settings
            .iter()
            .filter_map(|setting| setting.rfind('_').map(|end| &setting[..=end]))
            .collect();
        names
            .into_iter()
            .filter(|name| {
                prefixes.iter().any(|prefix| name.starts_with(prefix))
                    && !settings.contains(&name.as_str())
                    && !OTHER_TOOLS_VARIABLES.contains(&name.as_str())
            })
            .collect()
    }

    /// Defaults with the given overrides, as the binary would see them. Used by tests and by the
    /// local stack, which run the service in-process.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Result<Self, clap::Error> {
        let mut arguments = vec!["member-service".to_owned()];
        for (flag, value) in pairs {
            arguments.push(format!("--{flag}={value}"));
        }
        Self::try_parse_from(arguments)
    }

    /// Parses a set of environment variables exactly as the binary would see them, without
    /// touching the process environment: how a deployment file's settings are checked. Names
    /// that are not settings of this service are an error, except `RUST_LOG`.
    pub fn from_environment<'a>(
        variables: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, clap::Error> {
        let command = Self::command();
        let mut arguments = vec![command.get_name().to_owned()];
        for (name, value) in variables {
            if name == "RUST_LOG" {
                continue;
            }
            let flag = command
                .get_arguments()
                .find(|argument| argument.get_env().is_some_and(|env| env == name))
                .and_then(|argument| argument.get_long())
                .ok_or_else(|| {
                    Self::command().error(
                        clap::error::ErrorKind::UnknownArgument,
                        format!("{name} is not a setting of this service"),
                    )
                })?;
            arguments.push(format!("--{flag}={value}"));
        }
        Self::try_parse_from(arguments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unknown_or_malformed_variables_are_rejected() {
        assert!(Config::from_environment([("MEMBER_SERVICE_ADRESS", "0.0.0.0:9000")]).is_err());
        assert!(Config::from_environment([("RELAY_BATCH_SIZE", "many")]).is_err());
    }
}
