//! The Kafka producer: idempotent, `acks=all`, so a retried send neither duplicates nor reorders
//! within a partition.

use std::time::Duration;

use rdkafka::{
    error::KafkaResult,
    producer::{FutureProducer, Producer},
};

use crate::config::KafkaSecurity;

/// What the producer needs to know; built from the config at start-up.
#[derive(Clone, Debug)]
pub struct ProducerSettings {
    pub bootstrap_servers: String,
    /// How the producer authenticates and encrypts; the service's one setting for all clients.
    pub security: KafkaSecurity,
    /// Off for the embedded broker, whose idempotence check fails after reconnects.
    pub idempotence: bool,
    /// How long to wait to batch messages; zero sends at once.
    pub linger: Duration,
    /// How long one publish attempt may take.
    pub message_timeout: Duration,
}

pub fn create_producer(settings: &ProducerSettings) -> KafkaResult<FutureProducer> {
    let mut client = settings.security.client_config(&settings.bootstrap_servers);
    if settings.idempotence {
        client.set("enable.idempotence", "true");
    } else {
        // Without idempotence a retry could overtake the request before it; one at a time cannot.
        client
            .set("enable.idempotence", "false")
            .set("max.in.flight.requests.per.connection", "1");
    }
    client
        .set("client.id", "member-service")
        .set("acks", "all")
        .set("linger.ms", settings.linger.as_millis().to_string())
        .set(
            "message.timeout.ms",
            settings.message_timeout.as_millis().to_string(),
        )
        // librdkafka backs reconnects off up to 10 s by default, so publishing would resume up
        // to 10 s after the broker is back; 1 s keeps that bound short at little cost.
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "1000")
        .create()
}

/// Answers whether the broker can be reached, for `/ready`.
#[derive(Clone)]
pub struct BrokerProbe {
    producer: FutureProducer,
    topic: String,
}

impl BrokerProbe {
    pub fn new(producer: FutureProducer, topic: String) -> Self {
        Self { producer, topic }
    }

    pub async fn check(&self) -> Result<(), String> {
        let probe = self.clone();
        // fetch_metadata blocks the calling thread.
        tokio::task::spawn_blocking(move || {
            probe
                .producer
                .client()
                .fetch_metadata(Some(&probe.topic), Duration::from_secs(2))
                .map(|_| ())
                .map_err(|error| error.to_string())
        })
        .await
        .map_err(|error| error.to_string())?
    }
}
