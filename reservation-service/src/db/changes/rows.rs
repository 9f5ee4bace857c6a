//! The change log's rows, without I/O: a transaction's changes grouped into one row per member
//! (written), and a row expanded back into its changes (read). A row holds the ids
//! `first_id..=last_id`, one per change, and the changes as a JSON array in id order, each one
//! the update exactly as the stream sends it.

use std::collections::HashMap;

use serde_json::{Value, json};
use uuid::Uuid;

use super::super::time;
use crate::domain::{Change, Reservation};

/// A row to insert: one member's changes in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRow {
    pub first_id: i64,
    pub last_id: i64,
    pub member_id: Uuid,
    /// The updates as a JSON array, in id order.
    pub changes: String,
}

/// `changes` as rows numbered from `first_id` on: one row per member, members in the order
/// they first appear, each member's changes in their own order. Ids are therefore handed out
/// member by member, not in the order of `changes` across members: they commit together, so
/// no reader can tell the difference, and each member's row gets a contiguous range.
pub fn group(changes: &[Change], first_id: i64) -> Vec<NewRow> {
    let mut groups: Vec<(Uuid, Vec<&Change>)> = Vec::new();
    let mut group_of_member: HashMap<Uuid, usize> = HashMap::new();
    for change in changes {
        let member_id = change.member_id();
        let index = *group_of_member.entry(member_id).or_insert_with(|| {
            groups.push((member_id, Vec::new()));
            groups.len() - 1
        });
        groups[index].1.push(change);
    }
    let mut rows = Vec::with_capacity(groups.len());
    let mut next_id = first_id;
    for (member_id, changes) in groups {
        let row_first_id = next_id;
        let mut updates = Vec::with_capacity(changes.len());
        for change in changes {
            updates.push(update(next_id, change));
            next_id += 1;
        }
        rows.push(NewRow {
            first_id: row_first_id,
            last_id: next_id - 1,
            member_id,
            changes: Value::Array(updates).to_string(),
        });
    }
    rows
}

/// A row as read back: its id range and its changes as JSON text.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredRow {
    pub first_id: i64,
    pub last_id: i64,
    pub changes: String,
}

/// A recorded change: its id, its kind and the update as JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedChange {
    pub id: i64,
    pub kind: String,
    pub data: String,
}

/// A row whose changes do not match its ids: written by something other than [`group`].
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("change log row {first_id} is not a JSON array of changes")]
    NotJson {
        first_id: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("change log row {first_id}..={last_id} holds {count} changes")]
    WrongCount {
        first_id: i64,
        last_id: i64,
        count: usize,
    },
    #[error("change {id} of the change log has no matching id and type")]
    Malformed { id: i64 },
}

/// The changes of `row` with ids after `after_id`, in id order: a reader that resumes inside a
/// row gets the rest of it. The data is sent as it was written (serde_json writes back the
/// text it parsed from its own output unchanged).
pub fn expand(row: &StoredRow, after_id: i64) -> Result<Vec<LoggedChange>, RowError> {
    let first_id = row.first_id;
    let updates: Vec<Value> = serde_json::from_str(&row.changes)
        .map_err(|source| RowError::NotJson { first_id, source })?;
    let expected = row
        .last_id
        .checked_sub(first_id)
        .and_then(|span| span.checked_add(1))
        .filter(|count| *count > 0);
    if expected != i64::try_from(updates.len()).ok() {
        return Err(RowError::WrongCount {
            first_id,
            last_id: row.last_id,
            count: updates.len(),
        });
    }
    (first_id..=row.last_id)
        .zip(updates)
        .filter(|(id, _)| *id > after_id)
        .map(|(id, update)| {
            let kind = update
                .get("type")
                .and_then(Value::as_str)
                .filter(|_| update.get("id").and_then(Value::as_i64) == Some(id))
                .ok_or(RowError::Malformed { id })?
                .to_owned();
            Ok(LoggedChange {
                id,
                kind,
                data: update.to_string(),
            })
        })
        .collect()
}

/// The update as the stream sends it.
pub fn update(id: i64, change: &Change) -> Value {
    let mut data = match change {
        Change::ReservationCreated(reservation) => {
            json!({ "reservation": reservation_json(reservation) })
        }
        Change::ReservationCancelled {
            reservation,
            member_deleted_at,
        } => json!({
            "reservation": reservation_json(reservation),
            "member_deleted_at": member_deleted_at.map(time::format),
        }),
        Change::MemberLearned {
            member_id,
            version,
            at,
        }
        | Change::MemberDeleted {
            member_id,
            version,
            at,
        } => json!({ "member_id": member_id, "version": version, "at": time::format(*at) }),
    };
    data["id"] = json!(id);
    data["type"] = json!(change.kind());
    data["member_id"] = json!(change.member_id());
    data
}

/// A reservation as the REST API shows it.
fn reservation_json(reservation: &Reservation) -> Value {
    json!({
        "id": reservation.id,
        "member_id": reservation.member_id,
        "resource": reservation.resource,
        "starts_at": time::format(reservation.starts_at),
        "ends_at": time::format(reservation.ends_at),
        "status": reservation.status.as_str(),
        "cancellation_reason": reservation.cancellation_reason.map(|reason| reason.as_str()),
        "created_at": time::format(reservation.created_at),
        "cancelled_at": reservation.cancelled_at.map(time::format),
    })
}

#[cfg(test)]
mod tests;
