//! Who the tests are to a Kafka with authentication and ACLs: the harness's own clients (topic
//! creation, forged and raw events, reading the dead letters) use the identity the environment
//! gives with the services' variables (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_USERNAME`,
//! `KAFKA_SASL_PASSWORD[_FILE]`, `KAFKA_SSL_CA_LOCATION`, …), and each service gets an identity
//! of its own when `TEST_MEMBER_SERVICE_KAFKA_SASL_USERNAME` / `…_PASSWORD_FILE` (and the same
//! with `RESERVATION_SERVICE`) are set: the ACLs under test are then the ones the services meet
//! in production. `infra/kafka/kafka-secure.sh env` prints all of them.

use clap::{CommandFactory, Parser};
use member_service::config::KafkaSecurity;
use rdkafka::ClientConfig;

#[derive(Parser)]
#[command(name = "system-tests")]
struct SecuritySettings {
    #[command(flatten)]
    security: KafkaSecurity,
}

/// The security settings of one client, read from the process environment: the variables
/// `KafkaSecurity` reads, with `prefix` before each (`""` for the harness's own).
pub fn security_from_environment(prefix: &str) -> KafkaSecurity {
    let command = SecuritySettings::command();
    let mut variables = Vec::new();
    for argument in command.get_arguments() {
        let Some(name) = argument.get_env().and_then(|name| name.to_str()) else {
            continue;
        };
        for suffix in ["", "_FILE"] {
            if let Ok(value) = std::env::var(format!("{prefix}{name}{suffix}")) {
                variables.push((format!("{name}{suffix}"), value));
            }
        }
    }
    let settings: SecuritySettings = member_service::config::environment::from_environment(
        variables
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
    .unwrap_or_else(|error| panic!("Kafka security variables ({prefix}KAFKA_*): {error}"));
    settings
        .security
        .check()
        .unwrap_or_else(|error| panic!("Kafka security variables ({prefix}KAFKA_*): {error}"));
    settings.security
}

/// The identities of the tests' Kafka clients.
#[derive(Clone, Debug, Default)]
pub struct KafkaAccess {
    /// The harness's own clients: allowed to create topics and write anywhere.
    pub harness: KafkaSecurity,
    pub member_service: KafkaSecurity,
    pub reservation_service: KafkaSecurity,
}

impl KafkaAccess {
    pub fn from_environment() -> Self {
        let harness = security_from_environment("");
        let service = |name: &str| {
            let own = security_from_environment(&format!("TEST_{name}_"));
            match (own.kafka_sasl_username, own.kafka_sasl_password) {
                (Some(username), Some(password)) => KafkaSecurity {
                    kafka_sasl_username: Some(username),
                    kafka_sasl_password: Some(password),
                    ..harness.clone()
                },
                _ => harness.clone(),
            }
        };
        Self {
            member_service: service("MEMBER_SERVICE"),
            reservation_service: service("RESERVATION_SERVICE"),
            harness,
        }
    }

    /// A client configuration for the harness's own clients.
    pub fn harness_client(&self, bootstrap_servers: &str) -> ClientConfig {
        self.harness.client_config(bootstrap_servers)
    }

    pub fn describe(&self) -> String {
        let protocol = self.harness.kafka_security_protocol.name();
        match &self.member_service.kafka_sasl_username {
            Some(user) => format!(
                "{protocol} as {user} and {}",
                self.reservation_service
                    .kafka_sasl_username
                    .as_deref()
                    .unwrap_or_default()
            ),
            None => protocol.to_owned(),
        }
    }
}

/// The flags (without `--`) that give a service `security`, for `Config::from_pairs`.
pub fn security_pairs(security: &KafkaSecurity) -> Vec<(&'static str, String)> {
    security.to_flags()
}
