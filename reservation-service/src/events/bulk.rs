//! The common case of a batch in a handful of statements, whatever its size: every event
//! decodes, none of their members has an event parked, none of them was parked before. Anything
//! else goes event by event ([`super::apply::handle`]) in the same transaction.
//!
//! The effect is the same as applying the events one by one in order: the member list is
//! decided in memory, event after event, from what the database held at the start; every
//! member's stream is locked first, so nothing else changes those members meanwhile.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use event_schema::MemberEvent;
use sqlx::AnyConnection;

use super::{Applied, Delivery, Outcome};
use crate::{
    db,
    domain::{self, CancellationReason, KnownMember, MemberChange, MemberStatus},
};

/// Applies every delivery, or returns `None` (having changed nothing but taking the members'
/// locks) when one of them needs the event-by-event path.
pub async fn apply_all(
    connection: &mut AnyConnection,
    deliveries: &[&Delivery],
    now: DateTime<Utc>,
) -> Result<Option<Vec<Outcome>>, sqlx::Error> {
    let Some(first) = deliveries.first() else {
        return Ok(Some(Vec::new()));
    };
    let mut events = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match delivery.decode() {
            Ok(event) if delivery.topic == first.topic => events.push(event),
            _ => return Ok(None),
        }
    }
    let member_ids = unique_member_ids(&events);
    db::member_streams::lock_all(connection, &member_ids).await?;
    let positions = offset_ranges(deliveries);
    if db::parked_events::any_parked_of_members_or_positions(
        connection,
        &member_ids,
        &first.topic,
        &positions,
    )
    .await?
    {
        return Ok(None);
    }
    let event_ids: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
    let recorded = db::processed_events::recorded_among(connection, &event_ids).await?;
    let mut known = db::member_list::find_all(connection, &member_ids).await?;

    let mut seen = HashSet::new();
    let mut outcomes = Vec::with_capacity(events.len());
    let mut records = Vec::with_capacity(events.len());
    let mut changed = BTreeMap::new();
    let mut deleted = Vec::new();
    for event in &events {
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
        &events,
        &mut outcomes,
        now,
    )
    .await?;
    Ok(Some(outcomes.into_iter().map(Outcome::Applied).collect()))
}

/// The writes, in the order the event-by-event path makes them: records, the member list (the
/// lock new reservations wait on), then the cancellations.
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

fn unique_member_ids(events: &[MemberEvent]) -> Vec<String> {
    let mut member_ids: Vec<String> = events
        .iter()
        .map(|event| event.member_id().to_string())
        .collect();
    member_ids.sort_unstable();
    member_ids.dedup();
    member_ids
}

/// Per partition of the batch, its lowest and highest offset.
fn offset_ranges(deliveries: &[&Delivery]) -> Vec<(i32, i64, i64)> {
    let mut ranges: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for delivery in deliveries {
        let range = ranges
            .entry(delivery.partition)
            .or_insert((delivery.offset, delivery.offset));
        range.0 = range.0.min(delivery.offset);
        range.1 = range.1.max(delivery.offset);
    }
    ranges
        .into_iter()
        .map(|(partition, (from, to))| (partition, from, to))
        .collect()
}
