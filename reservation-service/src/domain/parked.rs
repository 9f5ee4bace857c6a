//! Events the consumer could not process, as operators see them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParkedStatus {
    /// Waiting for an operator; the member's later events wait behind it.
    Parked,
    /// Applied by `dlq replay`.
    Replayed,
    /// Dropped on purpose by `dlq discard`, with the operator's reason.
    Discarded,
}

impl ParkedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parked => "parked",
            Self::Replayed => "replayed",
            Self::Discarded => "discarded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "parked" => Some(Self::Parked),
            "replayed" => Some(Self::Replayed),
            "discarded" => Some(Self::Discarded),
            _ => None,
        }
    }
}

/// Why an event is parked instead of applied, and since when it has been failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub attempts: u32,
    pub first_failed_at: DateTime<Utc>,
}

impl Failure {
    /// `previous` failed once more, with `error`.
    pub fn again(
        previous: Option<Failure>,
        error: &impl std::fmt::Display,
        now: DateTime<Utc>,
    ) -> Self {
        let attempts = previous
            .as_ref()
            .map_or(0, |failure| failure.attempts)
            .saturating_add(1);
        Self {
            reason: super::readable_reason(&format!(
                "handler failed {attempts} times; last error: {error}"
            )),
            attempts,
            first_failed_at: previous.map_or(now, |failure| failure.first_failed_at),
        }
    }
}

/// A parked event with the bytes exactly as they arrived.
#[derive(Clone, Debug, Serialize)]
pub struct ParkedEvent {
    pub id: Uuid,
    pub member_id: Option<String>,
    pub event_id: Option<String>,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    #[serde(skip)]
    pub message_key: Option<Vec<u8>>,
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    pub reason: String,
    pub attempts: u32,
    pub first_failed_at: DateTime<Utc>,
    pub parked_at: DateTime<Utc>,
    pub status: ParkedStatus,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

impl ParkedEvent {
    /// Why it was parked, as the dead-letter copy says.
    pub fn failure(&self) -> Failure {
        Failure {
            reason: self.reason.clone(),
            attempts: self.attempts,
            first_failed_at: self.first_failed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn a_failure_counts_its_attempts_and_keeps_when_it_began() {
        let began = Utc::now();
        let first = Failure::again(None, &"refused", began);
        assert_eq!(first.attempts, 1);
        assert_eq!(first.first_failed_at, began);
        let second = Failure::again(Some(first), &"refused again", began + Duration::seconds(1));
        assert_eq!(
            second,
            Failure {
                reason: "handler failed 2 times; last error: refused again".to_owned(),
                attempts: 2,
                first_failed_at: began,
            }
        );
    }
}
