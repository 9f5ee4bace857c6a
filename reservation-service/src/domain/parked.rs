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
