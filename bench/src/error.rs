//! What can stop a benchmark run.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("HTTP request for {what} failed")]
    Http {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what} answered {status}: {body}")]
    UnexpectedStatus {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("database query for {what} failed")]
    Database {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("a stored time {text:?} is not RFC 3339")]
    StoredTime {
        text: String,
        #[source]
        source: chrono::ParseError,
    },
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: &'static str, after: Duration },
    #[error("cannot write {path}")]
    Output {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--database-url is not a URL")]
    DatabaseUrl(#[source] url::ParseError),
    #[error("cannot write CSV")]
    Csv(#[from] csv::Error),
    #[error("{name} exited ({status}); the end of its log:\n{log_tail}")]
    ChildExited {
        name: &'static str,
        status: String,
        log_tail: String,
    },
    #[error("cannot create the topics: {0}")]
    Kafka(String),
    #[error("invalid service settings: {0}")]
    Settings(String),
    #[error("cannot draw {path}: {reason}")]
    Plot { path: String, reason: String },
}

impl BenchError {
    pub fn database(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { what, source }
    }

    pub fn http(what: &'static str) -> impl FnOnce(reqwest::Error) -> Self {
        move |source| Self::Http { what, source }
    }
}
