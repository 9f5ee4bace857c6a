//! Consuming member events. One event's path, top to bottom: `consumer.rs` polls a batch and
//! commits its offsets once written; `batch.rs` decides and writes it in one transaction (the
//! rules are [`crate::domain::decide_batch`]), retrying as `retry.rs` says; `park.rs` sends
//! copies of what was parked to the dead-letter topic (`dead_letter.rs`). Also here: the
//! consumer's counters (`stats.rs`), probe and health, for `/ready` and `/consumer`.

mod batch;
mod consumer;
mod dead_letter;
mod event_trace;
mod health;
mod park;
mod probe;
mod retry;
mod stats;

pub use consumer::{ConsumerFailure, ConsumerSettings, MemberEventConsumer};
pub use dead_letter::DeadLetterQueue;
pub use health::{ConsumerHealth, HealthMonitor, HealthReport, HealthSettings};
pub use probe::{ConsumerProbe, PartitionLag};
pub use stats::{ConsumerStats, StatsSnapshot};
