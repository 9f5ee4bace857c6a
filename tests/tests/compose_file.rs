//! What can be proven about `infra/compose.yaml` without a Docker engine: it is valid Compose,
//! each service's environment parses with that service's own config loader, and ports, topics
//! and partitions agree with the code.

use std::{collections::BTreeMap, path::Path};

use event_schema::Topic;
use serde_yaml::Value;

const COMPOSE: &str = include_str!("../../infra/compose.yaml");
const COMPOSE_SCHEMA: &str = include_str!("../../infra/schemas/compose-spec.json");

fn compose() -> Value {
    serde_yaml::from_str(COMPOSE).expect("compose.yaml is YAML")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    &compose["services"][name]
}

fn environment(service: &Value) -> BTreeMap<String, String> {
    let mapping = service["environment"]
        .as_mapping()
        .expect("environment is a mapping");
    mapping
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                other => panic!("unexpected environment value {other:?}"),
            };
            (key.as_str().expect("variable name").to_owned(), value)
        })
        .collect()
}

/// Published ports as `docker compose up` would see them with no variables set: a
/// `${NAME:-default}` is its default.
fn published_ports(service: &Value) -> Vec<String> {
    service["ports"]
        .as_sequence()
        .map(|ports| {
            ports
                .iter()
                .filter_map(|port| port.as_str().map(with_defaults))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a `/run/secrets/<name>` file as the container would see it: the file that the compose
/// file's top-level `secrets.<name>.file` names, relative to `infra/`.
fn read_secret(path: &Path) -> std::io::Result<String> {
    let compose = compose();
    let file = path
        .strip_prefix("/run/secrets")
        .ok()
        .and_then(|name| compose["secrets"][name.to_str()?]["file"].as_str())
        .ok_or(std::io::ErrorKind::NotFound)?;
    let infra = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra");
    std::fs::read_to_string(infra.join(file))
}

fn with_defaults(text: &str) -> String {
    let mut resolved = text.to_owned();
    while let Some(start) = resolved.find("${") {
        let Some(length) = resolved[start..].find('}') else {
            break;
        };
        let inner = &resolved[start + 2..start + length];
        let default = inner
            .split_once(":-")
            .map(|(_, default)| default)
            .unwrap_or_default()
            .to_owned();
        resolved.replace_range(start..=start + length, &default);
    }
    resolved
}

#[test]
fn compose_file_is_valid_against_the_compose_specification() {
    let schema: serde_json::Value = serde_json::from_str(COMPOSE_SCHEMA).expect("schema is JSON");
    let document: serde_json::Value = serde_yaml::from_str(COMPOSE).expect("compose.yaml as JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "compose.yaml breaks the Compose Specification:\n{}",
        errors.join("\n")
    );
}

#[test]
fn member_service_environment_parses_with_its_own_config_loader() {
    let compose = compose();
    let member = service(&compose, "member-service");
    let variables = environment(member);
    let config = member_service::Config::from_environment_reading(
        variables
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
        read_secret,
    )
    .unwrap_or_else(|error| panic!("member-service rejects its compose environment: {error}"));
    assert_eq!(config.member_events_topic, Topic::MemberEvents.name());
    let port = config.listen_address.port();
    assert_eq!(port, 8081, "same port as the local run");
    assert!(published_ports(member).contains(&format!("127.0.0.1:{port}:{port}")));
    assert_eq!(config.kafka_bootstrap_servers, "kafka:19092");
    let database = secrecy::ExposeSecret::expose_secret(&config.database_url).to_owned();
    assert!(database.starts_with("postgres://members:"), "{database}");
    // Without a key the service refuses to start: the compose file must hand it one.
    member_service::auth::Verifier::from_settings(&config.auth)
        .unwrap_or_else(|error| panic!("member-service has no usable token key: {error}"));
    assert_eq!(
        variables["OTEL_EXPORTER_OTLP_ENDPOINT"],
        "http://jaeger:4318"
    );
}

#[test]
fn reservation_service_environment_parses_with_its_own_config_loader() {
    let compose = compose();
    let reservation = service(&compose, "reservation-service");
    let variables = environment(reservation);
    let config = reservation_service::Config::from_environment_reading(
        variables
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
        read_secret,
    )
    .unwrap_or_else(|error| panic!("reservation-service rejects its compose environment: {error}"));
    assert_eq!(config.member_events_topic, Topic::MemberEvents.name());
    assert_eq!(
        config.dead_letter_topic,
        Topic::MemberEventsDeadLetter.name()
    );
    let port = config.listen_address.port();
    assert_eq!(port, 8082, "same port as the local run");
    assert!(published_ports(reservation).contains(&format!("127.0.0.1:{port}:{port}")));
    reservation_service::auth::Verifier::from_settings(&config.auth)
        .unwrap_or_else(|error| panic!("reservation-service has no usable token key: {error}"));
    assert_eq!(
        variables["OTEL_EXPORTER_OTLP_ENDPOINT"],
        "http://jaeger:4318"
    );
}

#[test]
fn topics_are_created_with_the_partitions_the_code_expects() {
    let compose = compose();
    let command = service(&compose, "kafka-topics")["command"][0]
        .as_str()
        .expect("topic command");
    for topic in [Topic::MemberEvents, Topic::MemberEventsDeadLetter] {
        let expected = format!(
            "--topic {} --partitions {}",
            topic.name(),
            topic.partitions()
        );
        assert!(
            command.contains(&expected),
            "kafka-topics does not run `{expected}`"
        );
    }
}

#[test]
fn every_container_has_a_health_check_and_services_wait_for_healthy_dependencies() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    for (name, definition) in services {
        let name = name.as_str().expect("service name");
        if name == "kafka-topics" {
            continue; // a one-shot job: dependants wait for it to complete instead
        }
        assert!(
            definition["healthcheck"]["test"].is_sequence(),
            "{name} has no health check"
        );
    }
    for name in ["member-service", "reservation-service"] {
        let depends_on = service(&compose, name)["depends_on"]
            .as_mapping()
            .expect("depends_on");
        assert!(!depends_on.is_empty());
        for (dependency, condition) in depends_on {
            let condition = condition["condition"].as_str().unwrap_or_default();
            assert!(
                matches!(
                    condition,
                    "service_healthy" | "service_completed_successfully"
                ),
                "{name} starts without waiting for {dependency:?}"
            );
        }
    }
    let databases = ["members-db", "reservations-db"]
        .map(|name| environment(service(&compose, name))["POSTGRES_DB"].clone());
    assert_ne!(
        databases[0], databases[1],
        "each service owns its own database"
    );
}

#[test]
fn passwords_are_secrets_and_ports_are_bound_to_this_machine_only() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    for (name, definition) in services {
        let name = name.as_str().expect("service name");
        if definition["environment"].is_mapping() {
            for (variable, value) in environment(definition) {
                let secret = variable.contains("PASSWORD") || variable == "DATABASE_URL";
                assert!(
                    !secret || variable.ends_with("_FILE"),
                    "{name} has {variable} in its environment; give it as a secret (*_FILE)"
                );
                if let Some(secret) = value.strip_prefix("/run/secrets/") {
                    let listed = definition["secrets"]
                        .as_sequence()
                        .is_some_and(|secrets| secrets.iter().any(|listed| listed == secret));
                    assert!(listed, "{name} reads secret {secret} without mounting it");
                    assert!(
                        read_secret(Path::new(&value)).is_ok(),
                        "secret {secret} has no file"
                    );
                }
            }
        }
        for port in published_ports(definition) {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name} publishes {port} on every interface"
            );
        }
    }
    let ui = environment(service(&compose, "kafka-ui"));
    assert_eq!(
        ui.get("KAFKA_CLUSTERS_0_READONLY").map(String::as_str),
        Some("true")
    );
}
