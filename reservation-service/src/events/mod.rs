//! Consuming member events: the Kafka consumer loop, applying one event in one transaction, and
//! parking what cannot be processed in the dead-letter topic.

mod apply;
mod consumer;
mod dead_letter;
mod stats;

pub use apply::{Applied, apply_member_event};
pub use consumer::{ConsumerProbe, ConsumerSettings, MemberEventConsumer};
pub use dead_letter::DeadLetterQueue;
pub use stats::{ConsumerStats, StatsSnapshot};
