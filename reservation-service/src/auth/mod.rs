//! Who may do what: bearer tokens (JWT) checked against a key from configuration, and the scopes
//! and member a verified token grants.
//!
//! Both services have this folder, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`): the services verify tokens that a third party
//! issues, the same way.
//!
//! - [`keys`]: settings (issuer, audience, leeway, one key source) and the [`Verifier`].
//! - [`tokens`]: the claims, verification, and minting with an HS256 secret (development, tests).
//! - [`scope`]: the scopes and the rules a verified [`Caller`] is held to.

pub mod keys;
pub mod scope;
pub mod tokens;

pub use keys::{AuthSettings, KeyError, KeySource, Verifier};
pub use scope::{Caller, Refusal, Scope};
pub use tokens::{TokenError, TokenRequest, mint_hs256};
