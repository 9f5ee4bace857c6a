//! A message as it came off the member-events topic, and what it decoded to: each delivery is
//! decoded once, when it arrives, and carried as an [`Arrival`] through retries and parking.

use event_schema::{DecodeError, MemberEvent};
use uuid::Uuid;

use super::ParkedEvent;

/// The message's bytes and where it sat in the topic, before anything is made of them.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    KeyMismatch { key: String, member_id: Uuid },
}

impl Delivery {
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

    /// Whether `parked` was parked from this very position.
    pub fn is_at(&self, parked: &ParkedEvent) -> bool {
        (
            parked.source_topic.as_str(),
            parked.source_partition,
            parked.source_offset,
        ) == (self.topic.as_str(), self.partition, self.offset)
    }
}

/// A delivery with its event decoded, or the reason it does not decode.
#[derive(Debug)]
pub struct Arrival {
    pub delivery: Delivery,
    pub event: Result<MemberEvent, Rejection>,
    /// The id its parked record has, or gets should it be parked: known before deciding, so that
    /// the member's later events can name the event they wait behind.
    pub parking_id: Uuid,
}

impl Arrival {
    /// Decodes `delivery`, once.
    pub fn new(delivery: Delivery) -> Self {
        let event = delivery.decode();
        Self {
            delivery,
            event,
            parking_id: Uuid::now_v7(),
        }
    }

    /// A parked event arriving again, for an operator's replay.
    pub fn of_parked(parked: &ParkedEvent) -> Self {
        let delivery = Delivery {
            topic: parked.source_topic.clone(),
            partition: parked.source_partition,
            offset: parked.source_offset,
            key: parked.message_key.clone(),
            payload: parked.payload.clone(),
        };
        Self {
            event: delivery.decode(),
            delivery,
            parking_id: parked.id,
        }
    }

    /// The member whose stream it belongs to: the event's, or the key's when it does not decode
    /// and its key is a member id. A key that is no member id names no member's stream; taken as
    /// one, a producer's key of any bytes (NUL, a megabyte) would reach the stream lock's row and
    /// the parked record, where the database refuses it, and nothing could be parked.
    pub fn member_id(&self) -> Option<String> {
        match &self.event {
            Ok(event) => Some(event.member_id().to_string()),
            Err(_) => self
                .delivery
                .key
                .as_deref()
                .and_then(|key| Uuid::try_parse_ascii(key).ok())
                .map(|member_id| member_id.to_string()),
        }
    }
}

/// The members of `arrivals`, each once, sorted: the order their stream locks are taken in.
pub fn member_ids(arrivals: &[Arrival]) -> Vec<String> {
    let mut member_ids: Vec<String> = arrivals.iter().filter_map(Arrival::member_id).collect();
    member_ids.sort_unstable();
    member_ids.dedup();
    member_ids
}

#[cfg(test)]
mod tests {
    use event_schema::MemberEventData;

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

    #[test]
    fn an_arrival_that_does_not_decode_belongs_to_its_key() {
        let member_id = Uuid::now_v7();
        let key = member_id.to_string();
        let arrival = Arrival::new(delivery(Some(&key), Some(b"{")));
        assert!(arrival.event.is_err());
        assert_eq!(arrival.member_id(), Some(key));
        let upper_case = member_id.to_string().to_uppercase();
        let arrival = Arrival::new(delivery(Some(&upper_case), Some(b"{")));
        assert_eq!(arrival.member_id(), Some(member_id.to_string()));
        assert_eq!(Arrival::new(delivery(None, Some(b"{"))).member_id(), None);
    }

    #[test]
    fn a_key_that_is_no_member_id_names_no_member() {
        for key in ["member-7", "\0", &"k".repeat(100_000)] {
            assert_eq!(
                Arrival::new(delivery(Some(key), Some(b"{"))).member_id(),
                None
            );
        }
    }

    #[test]
    fn members_are_locked_once_each_in_sorted_order() {
        let first = Uuid::now_v7();
        let second = Uuid::now_v7();
        let arrival = |member_id: Uuid| {
            let json = deletion(member_id).to_json();
            Arrival::new(delivery(
                Some(&member_id.to_string()),
                Some(json.as_bytes()),
            ))
        };
        let arrivals = [arrival(second), arrival(first), arrival(second)];
        assert_eq!(
            member_ids(&arrivals),
            vec![first.to_string(), second.to_string()]
        );
    }
}
