//! The dead-letter topic. An event this service cannot process is parked in its database (the
//! record operators replay from, see `dlq`), and a copy goes to this topic, untouched, with the
//! reason, the attempts and its original position in headers, for any other tooling to follow
//! (the headers and the size rule: [`crate::domain::dead_letter`]).

use rdkafka::{
    error::{KafkaError, KafkaResult, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

use crate::{
    config::KafkaSecurity,
    domain::{DeadLetterCopy, Delivery, Failure, dead_letter_copy, without_body},
};

/// librdkafka's default `message.max.bytes`, under the broker's default limit (1048588 bytes).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_000_000;

#[derive(Clone)]
pub struct DeadLetterQueue {
    producer: FutureProducer,
    topic: String,
    consumer_group: String,
    max_message_bytes: usize,
}

impl DeadLetterQueue {
    pub fn new(
        bootstrap_servers: &str,
        security: &KafkaSecurity,
        idempotence: bool,
        topic: String,
        consumer_group: String,
    ) -> KafkaResult<Self> {
        // Without idempotence, one request in flight keeps a retry from overtaking another.
        let in_flight = if idempotence { "5" } else { "1" };
        let producer = security
            .client_config(bootstrap_servers)
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
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Copies larger than `limit` bytes go without their body (its digest instead): the
    /// topic's `max.message.bytes`, or lower. Defaults to librdkafka's own producer limit.
    pub fn with_max_message_bytes(mut self, limit: usize) -> Self {
        self.max_message_bytes = limit;
        self
    }

    /// Publishes a copy of a parked delivery; returns once the broker acknowledged it. A copy
    /// the client or the broker refuses as too large goes again without its body.
    pub async fn publish(&self, delivery: &Delivery, failure: &Failure) -> KafkaResult<()> {
        let copy = dead_letter_copy(
            delivery,
            failure,
            &self.consumer_group,
            self.max_message_bytes,
        );
        match self.send(&copy).await {
            Err(KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge))
                if !copy.payload_omitted() =>
            {
                tracing::warn!(
                    size = copy.size(),
                    "dead-letter copy refused as too large; sending it without its body"
                );
                self.send(&without_body(copy)).await
            }
            sent => sent,
        }
    }

    async fn send(&self, copy: &DeadLetterCopy<'_>) -> KafkaResult<()> {
        let headers = copy
            .headers
            .iter()
            .fold(OwnedHeaders::new(), |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value),
                })
            });
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
        if let Some(key) = copy.key {
            record = record.key(key);
        }
        if let Some(payload) = copy.payload {
            record = record.payload(payload);
        }
        self.producer
            .send(record, Timeout::Never)
            .await
            .map(|_| ())
            .map_err(|(error, _)| error)
    }
}
