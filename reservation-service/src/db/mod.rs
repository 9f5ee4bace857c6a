//! The service's own database: SQLite (default, one file, WAL) or PostgreSQL, chosen by the URL.
//!
//! One set of SQL serves both, through sqlx's `Any` driver: each query is written and tested
//! once, and neither the handlers nor the consumer know which database they talk to. The price:
//! - Queries use only what both dialects share: `$n` placeholders, `RETURNING`,
//!   `ON CONFLICT … DO UPDATE`, plain types. sqlx's `QueryBuilder` writes `?` for `Any`, which
//!   PostgreSQL rejects, so lists spell their `$n` out ([`placeholders`]).
//! - `Any` carries only integers, floats, booleans, text and bytes. Ids are UUIDs as TEXT and
//!   times fixed-width RFC 3339 text ([`time`]), not PostgreSQL's `uuid` and `timestamptz`:
//!   bigger, unchecked by the database, and compared as text (the overlap check), which is right
//!   only because every time is written by [`time::format`].
//! - No compile-time checked queries (`query!` needs one concrete database). Rows are read into
//!   `FromRow` structs of those plain types and converted to domain types in one place each; a
//!   mismatch shows in the tests, which run on SQLite and, in CI, on PostgreSQL.
//! - Each backend has its own migrations, because DDL is where the dialects differ; the two
//!   sets are kept in step by hand.
//! - Row locks stand in for what the dialects do differently: `UPDATE … SET x = x` takes a row
//!   lock on PostgreSQL and the write lock on SQLite ([`reservations::lock_resource`]).

pub mod batch;
pub mod changes;
pub mod connection;
pub mod member_list;
pub mod member_streams;
pub mod parked_events;
pub mod placeholders;
pub mod reservations;
pub mod retention;
pub mod time;

use std::str::FromStr;

pub use connection::{Backend, connect, connect_existing, ping};
pub use time::{format as format_time, parse as parse_time};

pub fn parse_uuid(text: &str) -> Result<uuid::Uuid, sqlx::Error> {
    uuid::Uuid::from_str(text).map_err(|error| sqlx::Error::Decode(Box::new(error)))
}
