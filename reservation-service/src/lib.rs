//! reservation-service: makes, reads and cancels reservations, and follows member events.
//!
//! It keeps its own list of known and deleted members, built only from member events, so it
//! never calls the member service. When a member is deleted, one transaction marks the member
//! deleted, cancels its active reservations and records the event id; only then is the event's
//! offset committed. Events it cannot decode are parked in a dead-letter topic.
//!
//! Layout:
//! - [`config`]: settings from the environment.
//! - [`domain`]: reservations, their rules, and how member events change the member list.
//! - [`db`]: connection, migrations and queries (SQLite or PostgreSQL).
//! - [`events`]: the consumer, applying events, the dead-letter topic.
//! - [`http`]: the REST API.
//! - [`startup`]: wires it together: [`Application`].
//! - [`telemetry`]: logging and signal handling.

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
