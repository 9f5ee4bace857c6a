//! The CloudEvents 1.0 envelope every member event travels in.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::member::MemberEventData;

pub const SPEC_VERSION: &str = "1.0";
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// The Kafka `content-type` header of a structured-mode CloudEvent.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// A member event with its CloudEvents attributes. Immutable once created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberEvent {
    pub specversion: String,
    /// UUIDv7: unique per event, so consumers can recognise a redelivery.
    pub id: Uuid,
    /// The producing service, e.g. `/member-service`.
    pub source: String,
    pub time: DateTime<Utc>,
    /// The member id, so that tooling can route and filter without decoding `data`.
    pub subject: String,
    pub datacontenttype: String,
    #[serde(flatten)]
    pub payload: MemberEventData,
}

/// Why bytes could not be turned into a [`MemberEvent`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("payload is not a member event: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("unsupported CloudEvents specversion {0:?}, expected \"1.0\"")]
    UnsupportedSpecVersion(String),
    #[error("subject {subject:?} does not match the member id {member_id} in data")]
    SubjectMismatch { subject: String, member_id: Uuid },
    #[error("member version must be at least 1")]
    InvalidVersion,
}

impl MemberEvent {
    /// A new event with a fresh UUIDv7 id, stamped now.
    pub fn new(source: impl Into<String>, payload: MemberEventData) -> Self {
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: Uuid::now_v7(),
            source: source.into(),
            time: Utc::now(),
            subject: payload.member_id().to_string(),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            payload,
        }
    }

    pub fn member_id(&self) -> Uuid {
        self.payload.member_id()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a member event always serializes")
    }

    /// Decodes and validates an event. Any input, however broken, gives an error, not a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let event: Self = serde_json::from_slice(bytes).map_err(DecodeError::Malformed)?;
        if event.specversion != SPEC_VERSION {
            return Err(DecodeError::UnsupportedSpecVersion(event.specversion));
        }
        if event.subject != event.member_id().to_string() {
            let member_id = event.member_id();
            return Err(DecodeError::SubjectMismatch {
                subject: event.subject,
                member_id,
            });
        }
        if event.payload.member_version() == 0 {
            return Err(DecodeError::InvalidVersion);
        }
        Ok(event)
    }
}
