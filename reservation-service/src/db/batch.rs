//! A batch of member events: what its rules ([`crate::domain::decide_batch`]) need to know, read
//! in three queries, and the writes their decisions make, in a handful of statements however
//! large the batch. The caller holds the transaction and the members' stream locks.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::{
    changes, member_list,
    parked_events::{self, NewParkedEvent, OffsetRange},
    reservations,
};
use crate::domain::{
    Applied, Arrival, CancellationReason, Change, Decision, Failure, Knowledge, KnownMember,
    MemberChange, MemberStatus, Outcome,
};

/// What the database knows of `arrivals` and their members. The member list's versions are
/// what tells a redelivered event: no record of event ids is read.
pub async fn knowledge(
    connection: &mut AnyConnection,
    arrivals: &[Arrival],
    member_ids: &[String],
) -> Result<Knowledge, sqlx::Error> {
    Ok(Knowledge {
        members: member_list::find_all(connection, member_ids).await?,
        parked: parked_events::of_members_or_offsets(connection, member_ids, &offsets(arrivals))
            .await?,
    })
}

/// Writes each arrival's decision; one outcome per arrival. Parked events first, then the member
/// list (the lock new reservations wait on, and the record of the versions applied), the
/// cancellations, and last the change log (whose lock is always taken last: [`changes`]).
/// Stale and duplicate events write nothing.
pub async fn write(
    connection: &mut AnyConnection,
    arrivals: &[Arrival],
    decisions: &[Decision],
    now: DateTime<Utc>,
) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut outcomes = Vec::with_capacity(decisions.len());
    let mut members = BTreeMap::new();
    let mut deleted = Vec::new();
    let mut member_changes = Vec::new();
    // When each deleted member's deletion happened, from its event.
    let mut deleted_at = BTreeMap::new();
    for (arrival, decision) in arrivals.iter().zip(decisions) {
        let outcome = match (decision, &arrival.event) {
            (Decision::Apply(change), Ok(event)) => {
                let member_id = event.member_id().to_string();
                let applied = match *change {
                    MemberChange::Activate { version } => {
                        let status = MemberStatus::Active;
                        members.insert(member_id, KnownMember { status, version });
                        member_changes.push(Change::MemberLearned {
                            member_id: event.member_id(),
                            version,
                            at: event.time,
                        });
                        Applied::Activated
                    }
                    MemberChange::Delete { version } => {
                        let status = MemberStatus::Deleted;
                        members.insert(member_id.clone(), KnownMember { status, version });
                        deleted_at.insert(member_id.clone(), event.time);
                        deleted.push(member_id);
                        member_changes.push(Change::MemberDeleted {
                            member_id: event.member_id(),
                            version,
                            at: event.time,
                        });
                        Applied::Deleted {
                            reservations_cancelled: 0,
                        }
                    }
                    MemberChange::Stale => Applied::Stale,
                    MemberChange::Duplicate => Applied::Duplicate,
                };
                Outcome::Applied(applied)
            }
            (Decision::Park(failure) | Decision::ParkBehind { failure, .. }, _) => {
                park(connection, arrival, failure, now).await?;
                Outcome::Parked(failure.clone())
            }
            (Decision::ParkedBefore(failure), _) => Outcome::Parked(failure.clone()),
            // The rules apply decoded events only.
            (Decision::Apply(_), Err(_)) => Outcome::Applied(Applied::Duplicate),
        };
        outcomes.push(outcome);
    }
    let members: Vec<(String, KnownMember)> = members.into_iter().collect();
    member_list::upsert_all(connection, &members, now).await?;
    let cancelled = reservations::cancel_all_of_members(
        connection,
        &deleted,
        CancellationReason::MemberDeleted,
        now,
    )
    .await?;
    let mut cancelled_per_member: BTreeMap<String, u64> = BTreeMap::new();
    for reservation in &cancelled {
        *cancelled_per_member
            .entry(reservation.member_id.to_string())
            .or_default() += 1;
    }
    let cancellations = cancelled
        .into_iter()
        .map(|reservation| Change::ReservationCancelled {
            member_deleted_at: deleted_at.get(&reservation.member_id.to_string()).copied(),
            reservation,
        });
    member_changes.extend(cancellations);
    changes::record(connection, &member_changes, now).await?;
    for (arrival, outcome) in arrivals.iter().zip(&mut outcomes) {
        if let Outcome::Applied(Applied::Deleted {
            reservations_cancelled,
        }) = outcome
        {
            *reservations_cancelled = arrival
                .member_id()
                .and_then(|member_id| cancelled_per_member.get(&member_id).copied())
                .unwrap_or_default();
        }
    }
    Ok(outcomes)
}

/// Parks `arrival` with its bytes exactly as they came. Parking the same position twice (a
/// redelivery) keeps the first record.
async fn park(
    connection: &mut AnyConnection,
    arrival: &Arrival,
    failure: &Failure,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let delivery = &arrival.delivery;
    let member_id = arrival.member_id();
    parked_events::insert(
        connection,
        &NewParkedEvent {
            id: arrival.parking_id,
            member_id: member_id.as_deref(),
            event_id: arrival.event.as_ref().ok().map(|event| event.id),
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

/// Per topic and partition of the arrivals, their lowest and highest offset.
fn offsets(arrivals: &[Arrival]) -> Vec<OffsetRange<'_>> {
    let mut ranges: BTreeMap<(&str, i32), (i64, i64)> = BTreeMap::new();
    for arrival in arrivals {
        let delivery = &arrival.delivery;
        let range = ranges
            .entry((delivery.topic.as_str(), delivery.partition))
            .or_insert((delivery.offset, delivery.offset));
        range.0 = range.0.min(delivery.offset);
        range.1 = range.1.max(delivery.offset);
    }
    ranges
        .into_iter()
        .map(|((topic, partition), (from, to))| OffsetRange {
            topic,
            partition,
            from,
            to,
        })
        .collect()
}
