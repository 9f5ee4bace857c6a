use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::domain::{CancellationReason, ReservationStatus};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, hour, 0, 0)
        .single()
        .expect("a valid time")
}

fn reservation(member_id: Uuid, resource: &str) -> Reservation {
    Reservation {
        id: Uuid::now_v7(),
        member_id,
        resource: resource.to_owned(),
        starts_at: at(10),
        ends_at: at(11),
        status: ReservationStatus::Active,
        cancellation_reason: None,
        created_at: at(8),
        cancelled_at: None,
    }
}

fn deleted(member_id: Uuid) -> Change {
    Change::MemberDeleted {
        member_id,
        version: 2,
        at: at(9),
    }
}

fn cancelled(member_id: Uuid, resource: &str) -> Change {
    let mut reservation = reservation(member_id, resource);
    reservation.status = ReservationStatus::Cancelled;
    reservation.cancellation_reason = Some(CancellationReason::MemberDeleted);
    reservation.cancelled_at = Some(at(9));
    Change::ReservationCancelled {
        reservation,
        member_deleted_at: Some(at(9)),
    }
}

/// What the log wrote for each change before rows held several: the stream's data.
fn sent(id: i64, change: &Change) -> LoggedChange {
    LoggedChange {
        id,
        kind: change.kind().to_owned(),
        data: update(id, change).to_string(),
    }
}

fn stored(row: &NewRow) -> StoredRow {
    StoredRow {
        first_id: row.first_id,
        last_id: row.last_id,
        changes: row.changes.clone(),
    }
}

fn ids(changes: &[LoggedChange]) -> Vec<i64> {
    changes.iter().map(|change| change.id).collect()
}

#[test]
fn a_members_deletion_and_its_cancellations_are_one_row() {
    let member_id = Uuid::now_v7();
    let changes = [
        deleted(member_id),
        cancelled(member_id, "room-1"),
        cancelled(member_id, "room-2"),
    ];

    let rows = group(&changes, 7);

    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].first_id, rows[0].last_id), (7, 9));
    assert_eq!(rows[0].member_id, member_id);
    let expected: Vec<Value> = (7..)
        .zip(&changes)
        .map(|(id, change)| update(id, change))
        .collect();
    assert_eq!(rows[0].changes, Value::Array(expected).to_string());
}

#[test]
fn changes_of_several_members_are_a_row_each_in_order_of_first_appearance() {
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    // As a consumer batch lists them: the deletions, then the cancellations.
    let changes = [
        deleted(first),
        deleted(second),
        cancelled(first, "room-1"),
        cancelled(second, "room-2"),
        cancelled(first, "room-3"),
    ];

    let rows = group(&changes, 1);

    let ranges: Vec<(Uuid, i64, i64)> = rows
        .iter()
        .map(|row| (row.member_id, row.first_id, row.last_id))
        .collect();
    assert_eq!(ranges, [(first, 1, 3), (second, 4, 5)]);
    let read: Vec<LoggedChange> = rows
        .iter()
        .flat_map(|row| expand(&stored(row), 0).expect("a well-formed row"))
        .collect();
    let expected = [
        sent(1, &changes[0]),
        sent(2, &changes[2]),
        sent(3, &changes[4]),
        sent(4, &changes[1]),
        sent(5, &changes[3]),
    ];
    assert_eq!(read, expected, "each member's changes keep their order");
}

#[test]
fn a_single_change_is_a_row_of_one_id() {
    let change = Change::ReservationCreated(reservation(Uuid::now_v7(), "room-1"));

    let rows = group(std::slice::from_ref(&change), 42);

    assert_eq!((rows[0].first_id, rows[0].last_id), (42, 42));
    assert_eq!(
        expand(&stored(&rows[0]), 41).expect("a well-formed row"),
        [sent(42, &change)]
    );
}

#[test]
fn no_changes_are_no_rows() {
    assert_eq!(group(&[], 1), []);
}

#[test]
fn every_kind_of_change_reads_back_exactly_as_the_stream_sent_it_before() {
    let member_id = Uuid::now_v7();
    let changes = [
        Change::MemberLearned {
            member_id,
            version: 1,
            at: at(7),
        },
        Change::ReservationCreated(reservation(member_id, "room-1")),
        Change::ReservationCancelled {
            reservation: reservation(member_id, "room-1"),
            member_deleted_at: None,
        },
        deleted(member_id),
        cancelled(member_id, "room-2"),
    ];

    let rows = group(&changes, 1);

    let read = expand(&stored(&rows[0]), 0).expect("a well-formed row");
    let expected: Vec<LoggedChange> = (1..)
        .zip(&changes)
        .map(|(id, change)| sent(id, change))
        .collect();
    assert_eq!(read, expected);
}

#[test]
fn a_reader_resuming_inside_a_row_gets_only_the_rest_of_it() {
    let member_id = Uuid::now_v7();
    let changes = [
        deleted(member_id),
        cancelled(member_id, "room-1"),
        cancelled(member_id, "room-2"),
    ];
    let row = stored(&group(&changes, 10)[0]);

    assert_eq!(ids(&expand(&row, 9).expect("a row")), [10, 11, 12]);
    assert_eq!(ids(&expand(&row, 10).expect("a row")), [11, 12]);
    assert_eq!(ids(&expand(&row, 11).expect("a row")), [12]);
    assert_eq!(ids(&expand(&row, 12).expect("a row")), Vec::<i64>::new());
    assert_eq!(expand(&row, 11).expect("a row"), [sent(12, &changes[2])]);
}

#[test]
fn a_row_migrated_from_one_change_per_row_reads_as_that_change() {
    let change = deleted(Uuid::now_v7());
    // As migration 0004 turns a row of the old log into a row of one change.
    let old_data = update(5, &change).to_string();
    let row = StoredRow {
        first_id: 5,
        last_id: 5,
        changes: format!("[{old_data}]"),
    };

    assert_eq!(expand(&row, 4).expect("a row"), [sent(5, &change)]);
}

#[test]
fn a_row_whose_changes_do_not_match_its_ids_is_refused() {
    let change = deleted(Uuid::now_v7());
    let one = format!("[{}]", update(3, &change));
    let row = |first_id, last_id, changes: &str| StoredRow {
        first_id,
        last_id,
        changes: changes.to_owned(),
    };

    assert!(matches!(
        expand(&row(3, 4, &one), 0),
        Err(RowError::WrongCount { count: 1, .. })
    ));
    assert!(matches!(
        expand(&row(4, 4, &one), 0),
        Err(RowError::Malformed { id: 4 })
    ));
    assert!(matches!(
        expand(&row(3, 3, "not json"), 0),
        Err(RowError::NotJson { first_id: 3, .. })
    ));
    assert!(matches!(
        expand(&row(3, 3, "[{\"id\":3}]"), 0),
        Err(RowError::Malformed { id: 3 })
    ));
    assert!(matches!(
        expand(&row(4, 3, "[]"), 0),
        Err(RowError::WrongCount { .. })
    ));
}
