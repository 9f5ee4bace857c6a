//! A harness that runs the whole system for a test: a broker, two databases, both services on
//! port 0, and unique topic and group names, so tests run side by side without sharing state.
//!
//! Backends: by default SQLite files in a temporary directory and an embedded broker per test.
//! With `TEST_DATABASE_URL=postgres://…` each service gets a fresh PostgreSQL database; with
//! `KAFKA_BOOTSTRAP_SERVERS=host:port` the tests use that Kafka (and `KAFKA_CONTROL_SCRIPT`, a
//! script taking `stop`/`start`, to take it down in the outage tests).
//!
//! - [`audit`]: the invariants checked in both databases after a fault.
//! - [`auth`]: the tokens: the services verify the harness's, and its client sends a staff one.
//! - [`backends`]: the broker and the databases.
//! - [`faults`]: the faults the failure-injection suite and the chaos run inject.
//! - [`kafka_access`]: the tests' and the services' identities on a Kafka with ACLs.
//! - [`process`]: services as child processes, for `kill -9`.
//! - [`scenarios`]: the end-to-end scenarios, runnable against any backend.
//! - [`system`]: [`TestSystem`], the running services and HTTP helpers.
//! - [`eventually`]: waiting for eventually consistent outcomes with a deadline.

pub mod audit;
pub mod auth;
pub mod backends;
pub mod dead_letters;
pub mod faults;
pub mod kafka_access;
pub mod process;
pub mod scenarios;
pub mod system;

use std::{future::Future, time::Duration};

pub use system::TestSystem;

/// Polls `check` until it returns `Some`, failing the test with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
