//! The consumer's rules for a batch of arrivals: which events apply, which are no-ops, which are
//! parked. Pure: it takes what the database knows, read under the members' stream locks, and
//! returns one [`Decision`] per arrival; the caller writes them in the same transaction.
//!
//! In order of precedence, an arrival is:
//! - parked before, when its very position was parked by an earlier delivery of the message;
//! - parked, when it does not decode, or applying it failed too often;
//! - parked behind, when its member has an event parked: a member's events never overtake
//!   each other;
//! - otherwise applied by the member-list rule ([`super::decide`]), against the member as it
//!   stands after the batch's earlier events: registered or deleted when its version is newer
//!   than the member's, a duplicate when it is the member's version (this very event again), stale
//!   when it is older or the member is deleted.
//!
//! The member's version is the only record of what was applied: a redelivered event is
//! recognised by it, so no event id is read or written per event.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Arrival, Failure, KnownMember, MemberChange, MemberStatus, ParkedEvent, ParkedStatus};

/// What the database knows of a batch: enough to decide every arrival without asking again.
#[derive(Clone, Debug, Default)]
pub struct Knowledge {
    /// The member list's entries for the batch's members, by member id.
    pub members: HashMap<String, KnownMember>,
    /// The batch's members' parked events, and whatever was parked from the batch's positions
    /// (replayed or discarded since, or not).
    pub parked: Vec<ParkedEvent>,
}

/// What to do with one arrival.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The member-list rule's verdict: a change to the member list, or none (stale, duplicate).
    Apply(MemberChange),
    /// Parked by an earlier delivery of the same message: nothing to write, but its dead-letter
    /// copy is published again (the earlier delivery may have stopped short of it).
    ParkedBefore(Failure),
    /// Park it: it does not decode, or applying it failed too often.
    Park(Failure),
    /// Park it behind `blocker`, its member's event parked earlier.
    ParkBehind { blocker: Uuid, failure: Failure },
}

impl Decision {
    /// Why it is parked, when it is.
    pub fn parking(&self) -> Option<&Failure> {
        match self {
            Self::ParkedBefore(failure)
            | Self::Park(failure)
            | Self::ParkBehind { failure, .. } => Some(failure),
            Self::Apply(_) => None,
        }
    }
}

/// What became of one arrival once its decision was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied(Applied),
    /// Parked, now or by an earlier delivery of the same message.
    Parked(Failure),
}

/// What applying an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Activated,
    Deleted {
        reservations_cancelled: u64,
    },
    /// Older than the member version already applied, or later than the member's deletion: no
    /// effect.
    Stale,
    /// At the member version already applied: this very event again (a redelivery, or a retried
    /// publish), no effect.
    Duplicate,
}

impl Applied {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activated => "activated",
            Self::Deleted { .. } => "deleted",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
        }
    }
}

/// Decides every arrival, in order. `failed_too_often`, when given, parks every arrival not
/// parked before (the consumer gives up on one event at a time).
pub fn decide_batch(
    knowledge: &Knowledge,
    arrivals: &[Arrival],
    failed_too_often: Option<&Failure>,
    now: DateTime<Utc>,
) -> Vec<Decision> {
    let mut batch = BatchSoFar::new(knowledge);
    arrivals
        .iter()
        .map(|arrival| batch.decide(arrival, failed_too_often, now))
        .collect()
}

/// A member's first event still parked, by position.
#[derive(Clone, Copy)]
struct Blocker {
    id: Uuid,
    position: (i32, i64),
}

/// The database's knowledge as the batch's earlier decisions change it.
struct BatchSoFar<'a> {
    knowledge: &'a Knowledge,
    members: HashMap<String, KnownMember>,
    blockers: HashMap<String, Blocker>,
}

impl<'a> BatchSoFar<'a> {
    fn new(knowledge: &'a Knowledge) -> Self {
        let mut batch = Self {
            knowledge,
            members: knowledge.members.clone(),
            blockers: HashMap::new(),
        };
        for parked in &knowledge.parked {
            if let (ParkedStatus::Parked, Some(member_id)) = (parked.status, &parked.member_id) {
                let position = (parked.source_partition, parked.source_offset);
                batch.block(member_id, parked.id, position);
            }
        }
        batch
    }

    fn decide(
        &mut self,
        arrival: &Arrival,
        failed_too_often: Option<&Failure>,
        now: DateTime<Utc>,
    ) -> Decision {
        let delivery = &arrival.delivery;
        if let Some(earlier) = self
            .knowledge
            .parked
            .iter()
            .find(|parked| delivery.is_at(parked))
        {
            return Decision::ParkedBefore(earlier.failure());
        }
        let event = match (&arrival.event, failed_too_often) {
            (Err(rejection), _) => {
                self.hold_back_member_of(arrival);
                return Decision::Park(Failure {
                    reason: super::readable_reason(&rejection.to_string()),
                    attempts: 1,
                    first_failed_at: now,
                });
            }
            (Ok(_), Some(failure)) => {
                self.hold_back_member_of(arrival);
                return Decision::Park(failure.clone());
            }
            (Ok(event), None) => event,
        };
        let member_id = event.member_id().to_string();
        if let Some(blocker) = self.blockers.get(&member_id) {
            let blocker = blocker.id;
            let failure = Failure {
                reason: format!(
                    "parked behind event {blocker}, parked earlier for member {member_id}"
                ),
                attempts: 0,
                first_failed_at: now,
            };
            self.hold_back_member_of(arrival);
            return Decision::ParkBehind { blocker, failure };
        }
        let change = super::decide(self.members.get(&member_id).copied(), &event.payload);
        let status = match change {
            MemberChange::Activate { version } => Some((MemberStatus::Active, version)),
            MemberChange::Delete { version } => Some((MemberStatus::Deleted, version)),
            MemberChange::Stale | MemberChange::Duplicate => None,
        };
        if let Some((status, version)) = status {
            self.members
                .insert(member_id, KnownMember { status, version });
        }
        Decision::Apply(change)
    }

    /// `arrival` is parked: its member's later events wait behind it, or behind an earlier one.
    fn hold_back_member_of(&mut self, arrival: &Arrival) {
        if let Some(member_id) = arrival.member_id() {
            let position = (arrival.delivery.partition, arrival.delivery.offset);
            self.block(&member_id, arrival.parking_id, position);
        }
    }

    fn block(&mut self, member_id: &str, id: Uuid, position: (i32, i64)) {
        let blocker = self
            .blockers
            .entry(member_id.to_owned())
            .or_insert(Blocker { id, position });
        if position < blocker.position {
            *blocker = Blocker { id, position };
        }
    }
}

#[cfg(test)]
mod evolution_tests;
#[cfg(test)]
mod tests;
