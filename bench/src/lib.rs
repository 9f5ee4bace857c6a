//! A load benchmark of the whole system: how fast a member deletion becomes cancelled
//! reservations, against the raw single-row commit rate of the same database server.
//!
//! It starts the system in this process (the system-tests harness: SQLite and an embedded
//! broker, or PostgreSQL and Kafka), drives it over HTTP, and reads the deletion and
//! cancellation times from the two databases.
//!
//! - [`options`]: command line and the plan it resolves to.
//! - [`system`]: the system under test, and where the raw commits go.
//! - [`setup`]: members and reservations registered over HTTP.
//! - [`baseline`]: raw single-row insert transactions at the same concurrency.
//! - [`load`]: deletions as fast as possible, or at a rate.
//! - [`propagation`]: deletion-to-cancellation times from both databases.
//! - [`timeline`]: outbox backlog, consumer lag and pending deletions over time.
//! - [`run`]: the phases in order.
//! - [`report`], [`plots`]: table, CSV and PNGs.
//! - [`statistics`]: percentiles and rates.

pub mod baseline;
pub mod error;
pub mod load;
pub mod options;
pub mod plots;
pub mod propagation;
pub mod report;
pub mod run;
pub mod setup;
pub mod statistics;
pub mod system;
pub mod timeline;

pub use error::BenchError;
pub use options::Options;
pub use report::Report;
