//! The contract between the member and reservation services.
//!
//! Every event travels in one [`MemberEvent`] envelope whose attributes follow CloudEvents 1.0
//! (structured JSON mode). Event payloads carry identifiers and the member's version, never
//! personal data: events are immutable and retained, while a member's name and email must be
//! erasable. A payload type never changes once published; a change is a new `…v2` type.
//!
//! What may change within a version, what makes a new one, and what an older consumer does with
//! events from a newer contract: `EVOLUTION.md` beside this crate, enforced by the gate in
//! `tests/evolution.rs` against the released schemas in `schema/released/`. The topics, keys,
//! headers, senders and receivers: `asyncapi.yaml` (AsyncAPI 3.0).
//!
//! Layout:
//! - [`envelope`]: the envelope, its decoding and validation.
//! - [`member`]: the member event payloads.
//! - [`topic`]: topic and consumer-group names, so no string literal is scattered around.
//!
//! This crate does no I/O.

pub mod envelope;
pub mod member;
pub mod topic;

pub use envelope::{DecodeError, MemberEvent};
pub use member::{MemberDeleted, MemberEventData, MemberRegistered};
pub use topic::{ConsumerGroup, Topic};
