//! reservation-service: makes, reads and cancels reservations, and follows member events.
//!
//! It keeps its own list of known and deleted members, built only from member events, so it
//! never calls the member service. When a member is deleted, one transaction marks the member
//! deleted at the event's member version and cancels its active reservations; only then is the
//! event's offset committed. That version tells a redelivered event (same or older version). Events it cannot decode are parked in a dead-letter topic.
//!
//! Layout:
//! - [`auth`]: bearer tokens: keys, verification, scopes.
//! - [`config`]: settings from the environment.
//! - [`domain`]: reservations, their rules, and the consumer's rules for a batch of member
//!   events (`domain/batch.rs`).
//! - [`db`]: connection, migrations and queries (SQLite or PostgreSQL).
//! - [`events`]: the consumer loop (poll, decide and write, commit), parking, the dead-letter
//!   topic.
//! - [`operator`]: the command-line tools: `dlq` for parked events, `rewind` for the group.
//! - [`cli`]: the command line.
//! - [`http`]: the REST API, and `/updates`: a Server-Sent Events stream of the change log
//!   (`db/changes.rs`), a table every change is recorded in by the transaction that makes it.
//! - [`retention`]: resolved parked events and the change log pruned
//!   after the configured retention.
//! - [`metrics`]: the Prometheus metrics (served at `/metrics`), each named once, and the
//!   process's recorder.
//! - [`startup`]: wires it together: [`Application`].
//! - [`telemetry`]: logs, trace export and signal handling.
//! - [`trace_context`]: W3C trace context across HTTP, the outbox and Kafka; the span of a request.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;
pub mod metrics;
pub mod operator;
pub mod retention;
pub mod startup;
pub mod telemetry;
pub mod trace_context;

pub use config::Config;
pub use startup::Application;
