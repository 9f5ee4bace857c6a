//! Topic creation through the Kafka admin API: the same call works against the embedded broker
//! and a real Kafka cluster (which, like tansu here, should not auto-create topics).

use std::time::Duration;

use member_service::config::KafkaSecurity;
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::{KafkaError, RDKafkaErrorCode},
};

/// Creates each `(name, partitions)` topic unless it exists, over plain text.
pub async fn create_topics(
    bootstrap_servers: &str,
    topics: &[(&str, i32)],
) -> Result<(), KafkaError> {
    create_topics_as(bootstrap_servers, &KafkaSecurity::default(), topics).await
}

/// Creates each `(name, partitions)` topic unless it exists, connecting as `security` says (an
/// identity allowed to create topics, on a cluster with ACLs).
pub async fn create_topics_as(
    bootstrap_servers: &str,
    security: &KafkaSecurity,
    topics: &[(&str, i32)],
) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> =
        security.client_config(bootstrap_servers).create()?;
    // Only the missing ones: asking for an existing topic is answered with an error that the
    // embedded broker also logs as one, on every restart.
    let existing = existing_topics(&admin)?;
    let new_topics: Vec<_> = topics
        .iter()
        .filter(|(name, _)| !existing.iter().any(|topic| topic == name))
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    if new_topics.is_empty() {
        return Ok(());
    }
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::error!(%topic, ?code, "cannot create topic");
                });
            }
        }
    }
    Ok(())
}

/// Topic names the broker knows. A blocking round trip, made once at start-up.
fn existing_topics(admin: &AdminClient<DefaultClientContext>) -> Result<Vec<String>, KafkaError> {
    admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(30))
        .map(|metadata| {
            metadata
                .topics()
                .iter()
                .map(|topic| topic.name().to_owned())
                .collect()
        })
}
