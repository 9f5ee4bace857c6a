//! Applying member events. Everything one delivery does happens in the caller's transaction:
//! the member list, the cancellations, the record of the event id, or parking it.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use event_schema::MemberEvent;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::Delivery;
use crate::{
    db::{self, parked_events::NewParkedEvent},
    domain::{self, CancellationReason, KnownMember, MemberChange, MemberStatus, ParkedEvent},
};

/// What applying an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Activated,
    Deleted {
        reservations_cancelled: u64,
    },
    /// Older than the member version already applied: recorded, no effect.
    Stale,
    /// This event id was applied before: no effect at all.
    Duplicate,
}

impl Applied {
    pub fn outcome(self) -> &'static str {
        match self {
            Self::Activated => "activated",
            Self::Deleted { .. } => "deleted",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
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

/// What became of one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied(Applied),
    /// Parked, now or by an earlier delivery of the same message.
    Parked(Failure),
}

/// Applies `delivery` or parks it, in `connection`'s transaction.
///
/// It is parked when it cannot be decoded, when `failure` says it failed too often, or when an
/// earlier event of the same member is parked: a member's events never overtake each other.
pub async fn handle(
    connection: &mut AnyConnection,
    delivery: &Delivery,
    failure: Option<&Failure>,
    now: DateTime<Utc>,
) -> Result<Outcome, sqlx::Error> {
    let decoded = delivery.decode();
    let member_id = match &decoded {
        Ok(event) => Some(event.member_id().to_string()),
        Err(_) => delivery.key_text(),
    };
    if let Some(member_id) = &member_id {
        db::member_streams::lock(connection, member_id).await?;
    }
    let parked = db::parked_events::at_position_or_parked_of_member(
        connection,
        &delivery.topic,
        delivery.partition,
        delivery.offset,
        member_id.as_deref(),
    )
    .await?;
    let is_this_delivery = |event: &&ParkedEvent| {
        (
            event.source_topic.as_str(),
            event.source_partition,
            event.source_offset,
        ) == (delivery.topic.as_str(), delivery.partition, delivery.offset)
    };
    // Parked by an earlier delivery of the same message: replayed or discarded since, or not.
    if let Some(earlier) = parked.iter().find(is_this_delivery) {
        return Ok(Outcome::Parked(Failure {
            reason: earlier.reason.clone(),
            attempts: earlier.attempts,
            first_failed_at: earlier.first_failed_at,
        }));
    }
    let failure = match (&decoded, failure) {
        (Err(rejection), _) => Failure {
            reason: rejection.to_string(),
            attempts: 1,
            first_failed_at: now,
        },
        (Ok(_), Some(failure)) => failure.clone(),
        (Ok(event), None) => match parked.first() {
            Some(blocker) => Failure {
                reason: format!(
                    "parked behind event {}, parked earlier for member {}",
                    blocker.id,
                    event.member_id()
                ),
                attempts: 0,
                first_failed_at: now,
            },
            None => {
                return apply_event(connection, event, now)
                    .await
                    .map(Outcome::Applied);
            }
        },
    };
    let event_id = decoded.as_ref().ok().map(|event| event.id);
    park(
        connection,
        delivery,
        member_id.as_deref(),
        event_id,
        &failure,
        now,
    )
    .await?;
    Ok(Outcome::Parked(failure))
}

async fn park(
    connection: &mut AnyConnection,
    delivery: &Delivery,
    member_id: Option<&str>,
    event_id: Option<Uuid>,
    failure: &Failure,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    db::parked_events::insert(
        connection,
        &NewParkedEvent {
            member_id,
            event_id,
            source_topic: &delivery.topic,
            source_partition: delivery.partition,
            source_offset: delivery.offset,
            message_key: delivery.key.as_deref(),
            payload: delivery.payload.as_deref(),
            reason: &failure.reason,
            attempts: failure.attempts,
            first_failed_at: failure.first_failed_at,
            parked_at: now,
        },
    )
    .await
}

/// Applies `event` exactly once, however often it is delivered. The caller holds the member's
/// stream lock.
pub async fn apply_event(
    connection: &mut AnyConnection,
    event: &MemberEvent,
    now: DateTime<Utc>,
) -> Result<Applied, sqlx::Error> {
    let mut applied = apply_events(connection, std::slice::from_ref(event), now).await?;
    // One event in, one outcome out.
    Ok(applied.pop().unwrap_or(Applied::Duplicate))
}

/// Applies `events` in order, each exactly once, in a handful of statements however many there
/// are; one outcome per event. The caller holds the stream lock of every member concerned, so
/// nothing else changes them meanwhile: the member list is decided in memory, event after event,
/// from what the database held at the start, then written.
pub async fn apply_events(
    connection: &mut AnyConnection,
    events: &[MemberEvent],
    now: DateTime<Utc>,
) -> Result<Vec<Applied>, sqlx::Error> {
    let member_ids = unique_member_ids(events);
    let event_ids: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
    let recorded = db::processed_events::recorded_among(connection, &event_ids).await?;
    let mut known = db::member_list::find_all(connection, &member_ids).await?;

    let mut seen = HashSet::new();
    let mut outcomes = Vec::with_capacity(events.len());
    let mut records = Vec::with_capacity(events.len());
    let mut changed = BTreeMap::new();
    let mut deleted = Vec::new();
    for event in events {
        let event_id = event.id.to_string();
        if recorded.contains(&event_id) || !seen.insert(event_id) {
            outcomes.push(Applied::Duplicate);
            continue;
        }
        let member_id = event.member_id().to_string();
        let applied = match domain::decide(known.get(&member_id).copied(), &event.payload) {
            MemberChange::Stale => Applied::Stale,
            MemberChange::Activate { version } => {
                let member = KnownMember {
                    status: MemberStatus::Active,
                    version,
                };
                known.insert(member_id.clone(), member);
                changed.insert(member_id, member);
                Applied::Activated
            }
            MemberChange::Delete { version } => {
                let member = KnownMember {
                    status: MemberStatus::Deleted,
                    version,
                };
                known.insert(member_id.clone(), member);
                changed.insert(member_id.clone(), member);
                deleted.push(member_id);
                Applied::Deleted {
                    reservations_cancelled: 0,
                }
            }
        };
        records.push((event, applied.outcome()));
        outcomes.push(applied);
    }
    write(
        connection,
        &records,
        changed,
        &deleted,
        events,
        &mut outcomes,
        now,
    )
    .await?;
    Ok(outcomes)
}

/// The writes: records, the member list (the lock new reservations wait on), then the
/// cancellations.
async fn write(
    connection: &mut AnyConnection,
    records: &[(&MemberEvent, &str)],
    changed: BTreeMap<String, KnownMember>,
    deleted: &[String],
    events: &[MemberEvent],
    outcomes: &mut [Applied],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    db::processed_events::record_all(connection, records, now).await?;
    let changed: Vec<(String, KnownMember)> = changed.into_iter().collect();
    db::member_list::upsert_all(connection, &changed, now).await?;
    let cancelled = db::reservations::cancel_all_of_members(
        connection,
        deleted,
        CancellationReason::MemberDeleted,
        now,
    )
    .await?;
    for (event, outcome) in events.iter().zip(outcomes.iter_mut()) {
        if let Applied::Deleted {
            reservations_cancelled,
        } = outcome
        {
            *reservations_cancelled = cancelled
                .get(&event.member_id().to_string())
                .copied()
                .unwrap_or_default();
        }
    }
    Ok(())
}

/// The members of `events`, each once, sorted (the order their locks are taken in).
pub(super) fn unique_member_ids(events: &[MemberEvent]) -> Vec<String> {
    let mut member_ids: Vec<String> = events
        .iter()
        .map(|event| event.member_id().to_string())
        .collect();
    member_ids.sort_unstable();
    member_ids.dedup();
    member_ids
}
