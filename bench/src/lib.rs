//! A load benchmark of the whole system: how fast a member deletion becomes cancelled
//! reservations, against the raw single-row commit rate of the same database server.
//!
//! It starts each service (and the embedded broker, when there is no external Kafka) as a
//! process of its own, on SQLite files or PostgreSQL databases, drives them over HTTP, reads the
//! deletion and cancellation times from the two databases, each component's CPU time and memory
//! from `/proc`, and the rows and statements each deletion writes from the databases' statistics.
//!
//! - [`options`]: command line and the plan it resolves to.
//! - [`system`]: the system under test, and where the raw commits go.
//! - [`processes`], [`child`]: the child processes, and this binary's side when it is one.
//! - [`resources`]: CPU time and resident memory per component, from `/proc`.
//! - [`write_counters`], [`amplification`]: rows and statements per deletion, from the
//!   databases' statistics.
//! - [`setup`]: members and reservations registered over HTTP.
//! - [`baseline`]: raw single-row insert transactions at the same concurrency.
//! - [`load`]: deletions as fast as possible, or at a rate.
//! - [`propagation`]: deletion-to-cancellation times from both databases.
//! - [`hops`]: where the propagation time goes, from the services' own metrics.
//! - [`timeline`]: outbox backlog, consumer lag and pending deletions over time.
//! - [`observability`], [`collector`]: the maximum rate with metrics and tracing on against
//!   both off, an OTLP receiver and a `/metrics` scraper.
//! - [`run`]: the phases in order.
//! - [`report`], [`costs`], [`plots`]: table, CSV and PNGs.
//! - [`statistics`]: percentiles and rates.

pub mod amplification;
pub mod baseline;
pub mod child;
pub mod collector;
pub mod costs;
pub mod error;
pub mod hops;
pub mod load;
pub mod observability;
pub mod options;
pub mod plots;
pub mod processes;
pub mod propagation;
pub mod report;
pub mod resources;
pub mod run;
pub mod setup;
pub mod statistics;
pub mod system;
pub mod timeline;
pub mod write_counters;

pub use error::BenchError;
pub use options::Options;
pub use report::Report;
