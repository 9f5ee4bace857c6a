//! What changed on this service's side, as the change log records it and `/updates` streams it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Reservation;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    ReservationCreated(Reservation),
    /// `member_deleted_at` is the deletion event's time when the member's deletion cancelled it,
    /// so a reader can tell how long the deletion took to reach the reservation.
    ReservationCancelled {
        reservation: Reservation,
        member_deleted_at: Option<DateTime<Utc>>,
    },
    /// A member registered, as this service learned from its event (`at` is the event's time).
    MemberLearned {
        member_id: Uuid,
        version: i64,
        at: DateTime<Utc>,
    },
    /// A member deleted, as this service learned from its event (`at` is the event's time).
    MemberDeleted {
        member_id: Uuid,
        version: i64,
        at: DateTime<Utc>,
    },
}

impl Change {
    /// The name of the change, which is also the SSE event type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ReservationCreated(_) => "reservation_created",
            Self::ReservationCancelled { .. } => "reservation_cancelled",
            Self::MemberLearned { .. } => "member_learned",
            Self::MemberDeleted { .. } => "member_deleted",
        }
    }

    pub fn member_id(&self) -> Uuid {
        match self {
            Self::ReservationCreated(reservation)
            | Self::ReservationCancelled { reservation, .. } => reservation.member_id,
            Self::MemberLearned { member_id, .. } | Self::MemberDeleted { member_id, .. } => {
                *member_id
            }
        }
    }
}
