//! Getting committed changes out to Kafka: the producer and the outbox relay.

mod producer;
mod relay;

pub use producer::{BrokerProbe, create_producer};
pub use relay::{OutboxSignal, Relay, RelayLeadership, RelaySettings};
