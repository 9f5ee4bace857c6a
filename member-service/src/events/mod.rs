//! Getting committed changes out to Kafka: the producer, the outbox relay, and the background
//! check of what they depend on.

mod health;
mod producer;
mod publish_trace;
mod relay;

pub use health::{Health, HealthMonitor, HealthReport};
pub use producer::{BrokerProbe, ProducerSettings, create_producer};
pub use relay::{OutboxSignal, Relay, RelayLeadership, RelaySettings};
