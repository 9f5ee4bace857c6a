//! The dead-letter topic. An event this service cannot process is parked in its database (the
//! record operators replay from, see `dlq`), and a copy goes to this topic, untouched, with the
//! reason, the attempts and its original position in headers, for any other tooling to follow.

use chrono::SecondsFormat;
use rdkafka::{
    ClientConfig,
    error::KafkaResult,
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

use crate::domain::{Delivery, Failure};

pub const HEADER_REASON: &str = "dlq.reason";
pub const HEADER_ORIGINAL_TOPIC: &str = "dlq.original.topic";
pub const HEADER_ORIGINAL_PARTITION: &str = "dlq.original.partition";
pub const HEADER_ORIGINAL_OFFSET: &str = "dlq.original.offset";
pub const HEADER_ATTEMPTS: &str = "dlq.attempts";
pub const HEADER_FIRST_FAILED_AT: &str = "dlq.first.failed.at";
pub const HEADER_CONSUMER_GROUP: &str = "dlq.consumer.group";

#[derive(Clone)]
pub struct DeadLetterQueue {
    producer: FutureProducer,
    topic: String,
    consumer_group: String,
}

impl DeadLetterQueue {
    pub fn new(
        bootstrap_servers: &str,
        idempotence: bool,
        topic: String,
        consumer_group: String,
    ) -> KafkaResult<Self> {
        // Without idempotence, one request in flight keeps a retry from overtaking another.
        let in_flight = if idempotence { "5" } else { "1" };
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("client.id", "reservation-service-dead-letter")
            .set("enable.idempotence", idempotence.to_string())
            .set("max.in.flight.requests.per.connection", in_flight)
            .set("acks", "all")
            .set("message.timeout.ms", "10000")
            // As the consumer: reconnect within a second of the broker's return.
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "1000")
            .create()?;
        Ok(Self {
            producer,
            topic,
            consumer_group,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Publishes a copy of a parked delivery; returns once the broker acknowledged it.
    pub async fn publish(&self, delivery: &Delivery, failure: &Failure) -> KafkaResult<()> {
        let partition = delivery.partition.to_string();
        let offset = delivery.offset.to_string();
        let attempts = failure.attempts.to_string();
        let first_failed_at = failure
            .first_failed_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let headers = [
            (HEADER_REASON, failure.reason.as_str()),
            (HEADER_ATTEMPTS, &attempts),
            (HEADER_ORIGINAL_TOPIC, &delivery.topic),
            (HEADER_ORIGINAL_PARTITION, &partition),
            (HEADER_ORIGINAL_OFFSET, &offset),
            (HEADER_FIRST_FAILED_AT, &first_failed_at),
            (HEADER_CONSUMER_GROUP, &self.consumer_group),
        ]
        .into_iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value),
            })
        });
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
        if let Some(key) = &delivery.key {
            record = record.key(key);
        }
        if let Some(payload) = &delivery.payload {
            record = record.payload(payload);
        }
        self.producer
            .send(record, Timeout::Never)
            .await
            .map(|_| ())
            .map_err(|(error, _)| error)
    }
}
