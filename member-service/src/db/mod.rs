//! The service's own database: SQLite (default, one file, WAL) or PostgreSQL, chosen by the URL.
//!
//! One set of SQL serves both, through sqlx's `Any` driver: each query is written and tested
//! once, and a handler never knows which database it talks to. The price:
//! - Queries use only what both dialects share: `$n` placeholders, `RETURNING`, plain types.
//!   sqlx's `QueryBuilder` writes `?` for `Any`, which PostgreSQL rejects, so a dynamic list
//!   spells its `$n` out ([`placeholders`]).
//! - `Any` carries only integers, floats, booleans, text and bytes. Ids are UUIDs as TEXT and
//!   times fixed-width RFC 3339 text ([`time`]), not PostgreSQL's `uuid` and `timestamptz`:
//!   bigger, unchecked by the database, and compared as text, which is right only because every
//!   time is written by [`time::format`].
//! - No compile-time checked queries (`query!` needs one concrete database). Rows are read into
//!   `FromRow` structs of those plain types and converted to domain types in one place each; a
//!   mismatch shows in the tests, which run on SQLite and, in CI, on PostgreSQL.
//! - Each backend has its own migrations, because DDL is where the dialects differ (identity
//!   columns, types); the two sets are kept in step by hand.
//! - Where the backends really differ, the code says so: one connection for SQLite (one writer
//!   anyway), an advisory lock electing the relay on PostgreSQL ([`relay_lock`]).

pub mod connection;
pub mod members;
pub mod outbox;
pub mod placeholders;
pub mod relay_lock;
pub mod retention;
pub mod time;

use std::str::FromStr;

pub use connection::{Backend, connect};

/// Ids are stored as UUID text.
fn parse_uuid(text: &str) -> Result<uuid::Uuid, sqlx::Error> {
    uuid::Uuid::from_str(text).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}
