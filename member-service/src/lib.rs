//! member-service: registers, reads and deletes members, and tells the rest of the system
//! through events.
//!
//! Every change is written together with an outbox row in one database transaction; the relay
//! publishes outbox rows to Kafka afterwards. So an event exists exactly when its change
//! committed, and none is lost while the broker is down.
//!
//! Layout:
//! - [`auth`]: bearer tokens: keys, verification, scopes.
//! - [`config`]: settings from the environment.
//! - [`domain`]: members and the rules for registering them.
//! - [`db`]: connection, migrations and queries (SQLite or PostgreSQL).
//! - [`events`]: the outbox relay that publishes to Kafka, and the health check behind `/ready`.
//! - [`http`]: the REST API, and `/metrics`.
//! - [`metrics`]: the Prometheus metrics, each named once, and the process's recorder.
//! - [`retention`]: published outbox rows pruned after the configured retention.
//! - [`startup`]: wires it together: [`Application`].
//! - [`telemetry`]: logs, trace export and signal handling.
//! - [`trace_context`]: W3C trace context across HTTP, the outbox and Kafka; the span of a request.

pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;
pub mod metrics;
pub mod retention;
pub mod startup;
pub mod telemetry;
pub mod trace_context;

pub use config::Config;
pub use startup::Application;
