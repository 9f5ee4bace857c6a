//! A message as it came off the member-events topic, before anything is made of it.

use event_schema::{DecodeError, MemberEvent};
use rdkafka::Message;

#[derive(Clone, Debug)]
pub struct Delivery {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
}

/// Why a delivery can never be applied as it is.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("message has no payload")]
    MissingPayload,
    #[error(transparent)]
    Undecodable(#[from] DecodeError),
    /// Member events are keyed by member id so that one member's events share a partition and
    /// stay in order; an event under another key may have overtaken or been overtaken.
    #[error("message key {key:?} is not the event's member id {member_id}")]
    KeyMismatch { key: String, member_id: uuid::Uuid },
}

impl Delivery {
    pub fn from_message(message: &impl Message) -> Self {
        Self {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
        }
    }

    /// The key as text: the member id, when the producer followed the contract.
    pub fn key_text(&self) -> Option<String> {
        self.key
            .as_deref()
            .map(|key| String::from_utf8_lossy(key).into_owned())
    }

    /// The event, validated against its envelope and its key.
    pub fn decode(&self) -> Result<MemberEvent, Rejection> {
        let event = MemberEvent::decode(self.payload.as_deref().ok_or(Rejection::MissingPayload)?)?;
        match self.key_text() {
            Some(key) if key != event.member_id().to_string() => Err(Rejection::KeyMismatch {
                key,
                member_id: event.member_id(),
            }),
            _ => Ok(event),
        }
    }
}

#[cfg(test)]
mod tests {
    use event_schema::MemberEventData;
    use uuid::Uuid;

    use super::*;

    fn delivery(key: Option<&str>, payload: Option<&[u8]>) -> Delivery {
        Delivery {
            topic: "member-events".to_owned(),
            partition: 0,
            offset: 7,
            key: key.map(|key| key.as_bytes().to_vec()),
            payload: payload.map(<[u8]>::to_vec),
        }
    }

    fn deletion(member_id: Uuid) -> MemberEvent {
        MemberEvent::new(
            "/member-service",
            MemberEventData::Deleted(event_schema::MemberDeleted {
                member_id,
                member_version: 2,
            }),
        )
    }

    #[test]
    fn an_event_under_its_member_key_decodes() {
        let member_id = Uuid::now_v7();
        let json = deletion(member_id).to_json();
        let delivery = delivery(Some(&member_id.to_string()), Some(json.as_bytes()));
        assert_eq!(delivery.decode().expect("valid").member_id(), member_id);
    }

    #[test]
    fn an_event_under_another_key_is_rejected() {
        let json = deletion(Uuid::now_v7()).to_json();
        let delivery = delivery(Some("someone-else"), Some(json.as_bytes()));
        assert!(matches!(
            delivery.decode(),
            Err(Rejection::KeyMismatch { .. })
        ));
    }

    #[test]
    fn garbage_and_missing_payloads_are_rejected() {
        assert!(matches!(
            delivery(None, Some(b"\xff{not json")).decode(),
            Err(Rejection::Undecodable(_))
        ));
        assert!(matches!(
            delivery(None, None).decode(),
            Err(Rejection::MissingPayload)
        ));
    }
}
