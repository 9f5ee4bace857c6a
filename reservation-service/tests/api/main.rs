//! The HTTP API through its router, on a temporary SQLite database and without a broker or a
//! consumer: status codes, RFC 9457 problem bodies naming the field, overlaps, the contested
//! slot, pagination, cancellation, the member list, the change log's rows, and the OpenAPI
//! document against all of them. One binary, so the helpers are built and linked once.

mod authorization;
mod change_log;
mod helpers;
mod known_members;
mod limits;
mod metrics;
mod openapi;
mod openapi_checks;
mod reservations;
mod retention;
mod updates;
