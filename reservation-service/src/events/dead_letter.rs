//! The dead-letter topic: events this service cannot process are parked there, untouched, with
//! the reason and their original position in headers, so that nothing is dropped and an operator
//! can inspect and replay them.

use chrono::{SecondsFormat, Utc};
use rdkafka::{
    ClientConfig, Message,
    error::KafkaResult,
    message::{BorrowedMessage, Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

pub const HEADER_REASON: &str = "dlq.reason";
pub const HEADER_ORIGINAL_TOPIC: &str = "dlq.original.topic";
pub const HEADER_ORIGINAL_PARTITION: &str = "dlq.original.partition";
pub const HEADER_ORIGINAL_OFFSET: &str = "dlq.original.offset";
pub const HEADER_FAILED_AT: &str = "dlq.failed.at";
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

    /// Parks `message` with `reason`; returns once the broker acknowledged it.
    pub async fn park(&self, message: &BorrowedMessage<'_>, reason: &str) -> KafkaResult<()> {
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let failed_at = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: HEADER_REASON,
                value: Some(reason),
            })
            .insert(Header {
                key: HEADER_ORIGINAL_TOPIC,
                value: Some(message.topic()),
            })
            .insert(Header {
                key: HEADER_ORIGINAL_PARTITION,
                value: Some(&partition),
            })
            .insert(Header {
                key: HEADER_ORIGINAL_OFFSET,
                value: Some(&offset),
            })
            .insert(Header {
                key: HEADER_FAILED_AT,
                value: Some(&failed_at),
            })
            .insert(Header {
                key: HEADER_CONSUMER_GROUP,
                value: Some(&self.consumer_group),
            });
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        self.producer
            .send(record, Timeout::Never)
            .await
            .map(|_| ())
            .map_err(|(error, _)| error)
    }
}
