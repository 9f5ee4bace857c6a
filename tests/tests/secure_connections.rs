//! Attacks on the connections: a client with a wrong password, one that trusts another
//! certificate authority, and a producer without member-service's credentials are all refused,
//! by Kafka (SASL_SSL, SCRAM-SHA-512, ACLs under the StandardAuthorizer) and by PostgreSQL (TLS,
//! `sslmode=verify-full`). Each refusal has its control: the right identity, trusted, gets in.
//!
//! Needs what `.ci/run` starts: the broker of `infra/kafka/kafka-secure.sh` with the variables
//! `kafka-secure.sh env` prints, and `TEST_DATABASE_URL` with
//! `sslmode=verify-full&sslrootcert=…` (see `infra/tls/postgres-tls.sh`). Built only with the
//! `secure-backends` feature, so that the plaintext runs do not meet it.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use event_schema::Topic;
use member_service::config::{KafkaSecurity, SecurityProtocol};
use rdkafka::{
    ClientConfig, ClientContext,
    config::RDKafkaLogLevel,
    consumer::{BaseConsumer, Consumer, ConsumerContext},
    error::{KafkaError, RDKafkaErrorCode},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use secrecy::SecretString;
use sqlx::{Connection, PgConnection, Row};
use system_tests::kafka_access::KafkaAccess;
use url::Url;
use uuid::Uuid;

const TIMEOUT: Duration = Duration::from_secs(15);

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run with the variables of `infra/kafka/kafka-secure.sh env`")
    })
}

fn bootstrap_servers() -> String {
    required("KAFKA_BOOTSTRAP_SERVERS")
}

fn access() -> KafkaAccess {
    let access = KafkaAccess::from_environment();
    assert_eq!(
        access.harness.kafka_security_protocol,
        SecurityProtocol::SaslSsl,
        "these tests attack a SASL_SSL broker: KAFKA_SECURITY_PROTOCOL=SASL_SSL"
    );
    assert_ne!(
        access.member_service.kafka_sasl_username, access.reservation_service.kafka_sasl_username,
        "each service needs its own identity: TEST_MEMBER_SERVICE_KAFKA_SASL_USERNAME and \
         TEST_RESERVATION_SERVICE_KAFKA_SASL_USERNAME"
    );
    access
}

/// The errors librdkafka reports on a client's connections: the reason a refused connection
/// was refused (its metadata request only says the transport failed).
#[derive(Clone, Default)]
struct RecordedErrors(Arc<Mutex<Vec<String>>>);

impl RecordedErrors {
    fn record(&self, text: String) {
        if let Ok(mut errors) = self.0.lock() {
            errors.push(text);
        }
    }
}

/// librdkafka logs why a connection failed from its broker threads as it happens; its error
/// events wait in a queue that a blocked metadata request does not serve.
impl ClientContext for RecordedErrors {
    fn log(&self, _level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.record(format!("{facility}: {message}"));
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.record(format!("{error}: {reason}"));
    }
}

impl ConsumerContext for RecordedErrors {}

/// Asks the broker for the cluster's metadata, which needs a connection that passed TLS and
/// authentication: the number of brokers, or the errors the client met.
async fn metadata(mut client: ClientConfig) -> Result<usize, Vec<String>> {
    // rdkafka passes librdkafka the level of the `log` crate, which is off in tests.
    client.set_log_level(RDKafkaLogLevel::Warning);
    let errors = RecordedErrors::default();
    let recorded = errors.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer<RecordedErrors> = client
            .create_with_context(errors)
            .map_err(|error| vec![error.to_string()])?;
        consumer
            .fetch_metadata(None, TIMEOUT)
            .map(|metadata| metadata.brokers().len())
            .map_err(|error| {
                let mut errors = recorded
                    .0
                    .lock()
                    .map(|list| list.clone())
                    .unwrap_or_default();
                errors.push(error.to_string());
                errors
            })
    })
    .await
    .expect("metadata task")
}

/// A refusal as librdkafka reports it to the request: the connection failed (it does not say
/// why; the reason is in its log, when one is shown). Each test pairs it with a control that
/// differs only in the credential or authority under test, which succeeds.
fn refused_at_connection(result: &Result<usize, Vec<String>>) -> bool {
    result.as_ref().err().is_some_and(|errors| {
        errors.iter().any(|error| {
            error.contains("SASL authentication error")
                || error.contains("certificate verify failed")
                || error.contains("BrokerTransportFailure")
        })
    })
}

async fn new_member_events_topic(access: &KafkaAccess) -> String {
    let topic = format!("{}-{}", Topic::MemberEvents.name(), Uuid::now_v7().simple());
    stack::create_topics_as(&bootstrap_servers(), &access.harness, &[(&topic, 1)])
        .await
        .expect("the admin creates topics");
    topic
}

async fn publish(security: &KafkaSecurity, topic: &str) -> Result<(), KafkaError> {
    let producer: FutureProducer = security
        .client_config(&bootstrap_servers())
        .set("message.timeout.ms", TIMEOUT.as_millis().to_string())
        .create()?;
    producer
        .send(
            FutureRecord::to(topic).key("forged").payload("{}"),
            Timeout::After(TIMEOUT),
        )
        .await
        .map(|_| ())
        .map_err(|(error, _)| error)
}

#[tokio::test]
async fn kafka_refuses_a_client_with_a_wrong_password() {
    let access = access();
    let wrong = KafkaSecurity {
        kafka_sasl_password: Some(SecretString::from("not-the-password")),
        ..access.member_service.clone()
    };
    let refused = metadata(wrong.client_config(&bootstrap_servers())).await;
    assert!(
        refused_at_connection(&refused),
        "a wrong password must be refused, got {refused:?}"
    );
    let admitted = metadata(access.member_service.client_config(&bootstrap_servers())).await;
    assert_eq!(admitted.ok(), Some(1), "the right password is admitted");
}

#[tokio::test]
async fn kafka_is_refused_by_a_client_that_does_not_trust_its_certificate() {
    let access = access();
    let untrusting = KafkaSecurity {
        kafka_ssl_ca_location: Some(required("TEST_UNTRUSTED_CA_LOCATION").into()),
        ..access.member_service.clone()
    };
    let refused = metadata(untrusting.client_config(&bootstrap_servers())).await;
    // The control: the same client trusting the right authority gets in.
    let admitted = metadata(access.member_service.client_config(&bootstrap_servers())).await;
    assert_eq!(admitted.ok(), Some(1), "the right authority is trusted");
    assert!(
        refused_at_connection(&refused),
        "a broker certificate from an authority the client does not trust must be refused, \
         got {refused:?}"
    );
}

#[tokio::test]
async fn a_producer_without_member_service_credentials_cannot_write_member_events() {
    let access = access();
    let topic = new_member_events_topic(&access).await;
    let forged = publish(&access.reservation_service, &topic).await;
    assert!(
        matches!(
            forged,
            Err(KafkaError::MessageProduction(
                RDKafkaErrorCode::TopicAuthorizationFailed
            ))
        ),
        "reservation-service's identity must not write member events, got {forged:?}"
    );
    publish(&access.member_service, &topic)
        .await
        .expect("member-service writes member events");
}

fn database_url() -> Url {
    let url = Url::parse(&required("TEST_DATABASE_URL")).expect("TEST_DATABASE_URL is a URL");
    let parameter = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(
        parameter("sslmode").as_deref(),
        Some("verify-full"),
        "TEST_DATABASE_URL must ask for sslmode=verify-full"
    );
    assert!(parameter("sslrootcert").is_some(), "and name sslrootcert");
    url
}

fn with_parameter(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .chain([(name.to_owned(), value.to_owned())])
        .collect();
    let mut changed = url.clone();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

#[tokio::test]
async fn postgresql_is_reached_over_verified_tls_and_refuses_an_untrusted_certificate() {
    let url = database_url();
    let mut connection = PgConnection::connect(url.as_str())
        .await
        .expect("verify-full with the right authority connects");
    let encrypted: bool = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut connection)
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(encrypted, "the session is encrypted");

    let untrusting = with_parameter(&url, "sslrootcert", &required("TEST_UNTRUSTED_CA_LOCATION"));
    let refused = PgConnection::connect(untrusting.as_str()).await;
    assert!(
        refused.is_err(),
        "a server certificate from an authority the client does not trust must be refused"
    );
}

#[tokio::test]
async fn postgresql_refuses_a_wrong_password() {
    let mut url = database_url();
    url.set_password(Some("not-the-password"))
        .expect("URL with a password");
    let refused = PgConnection::connect(url.as_str()).await;
    assert!(
        matches!(&refused, Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("28P01")),
        "a wrong password must be refused (invalid_password), got {:?}",
        refused.map(|_| ())
    );
}
