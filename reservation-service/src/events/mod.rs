//! Consuming member events: the Kafka consumer loop, applying a batch of events in one
//! transaction, parking what cannot be processed, and the operator tools that replay it.

mod apply;
mod batch;
mod bulk;
mod consumer;
mod dead_letter;
mod delivery;
mod health;
mod probe;
pub mod replay;
pub mod rewind;
mod stats;

pub use apply::{Applied, Failure, Outcome, apply_event};
pub use batch::{HandleError, classify};
pub use consumer::{ConsumerSettings, MemberEventConsumer};
pub use dead_letter::DeadLetterQueue;
pub use delivery::{Delivery, Rejection};
pub use health::{ConsumerHealth, HealthMonitor, HealthReport, HealthSettings};
pub use probe::{ConsumerProbe, PartitionLag};
pub use stats::{ConsumerStats, StatsSnapshot};
