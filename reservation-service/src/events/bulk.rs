//! The common case of a batch in a handful of statements, whatever its size: every event
//! decodes, none of their members has an event parked, none of them was parked before. Anything
//! else goes event by event ([`super::apply::handle`]) in the same transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::{
    Delivery, Outcome,
    apply::{apply_events, unique_member_ids},
};
use crate::db;

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
    let applied = apply_events(connection, &events, now).await?;
    Ok(Some(applied.into_iter().map(Outcome::Applied).collect()))
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
