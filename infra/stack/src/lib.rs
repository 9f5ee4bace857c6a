//! The local run: the whole system in one process, speaking the real Kafka protocol over TCP.
//!
//! - [`broker`]: an embedded Kafka-compatible broker (tansu, SlateDB storage in a directory).
//! - [`cli`]: the `stack` command: the local run, and `events tail`.
//! - [`gate`]: a TCP gate that takes a server off the network and back, for outage tests.
//! - [`tail`]: `events tail`, a consumer group of its own that prints every event.
//! - [`tokens`]: the development token secret, and minting tokens with it (`stack token`).
//! - [`topics`]: creating the topics through the Kafka admin API, as against any Kafka.
//! - [`walkthrough`]: what the stack prints when it is up.

pub mod broker;
pub mod cli;
pub mod gate;
pub mod tail;
pub mod tokens;
pub mod topics;
pub mod walkthrough;

pub use broker::EmbeddedBroker;
pub use topics::{create_topics, create_topics_as};
