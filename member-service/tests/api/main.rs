//! The HTTP API through its router, on a temporary SQLite database and without a broker:
//! status codes, RFC 9457 problem bodies naming the field, pagination, erasure, readiness, and
//! the OpenAPI document against all of them.
//! One binary, so the helpers are built and linked once.

mod authorization;
mod helpers;
mod limits;
mod members;
mod metrics;
mod openapi;
mod openapi_checks;
mod readiness;
mod retention;
