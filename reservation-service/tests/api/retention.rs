//! Retention: resolved parked events and change-log entries older than the cutoff are pruned in
//! bounded batches; parked events still waiting, and recent rows, stay. The member list, which
//! tells redelivered events, is never pruned.

use chrono::{DateTime, Duration, Utc};
use reservation_service::{
    db::{self, retention::Pruned},
    retention,
};
use sqlx::{AnyPool, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::TestApp;

async fn insert_member(pool: &AnyPool, at: DateTime<Utc>) {
    sqlx::query(
        "INSERT INTO known_members (member_id, status, version, updated_at) \
         VALUES ($1, 'deleted', 2, $2)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(db::time::format(at))
    .execute(pool)
    .await
    .expect("known member");
}

async fn insert_parked(pool: &AnyPool, offset: i64, status: &str, at: DateTime<Utc>) {
    let resolved_at = (status != "parked").then(|| db::time::format(at));
    sqlx::query(
        "INSERT INTO parked_events (id, member_id, event_id, source_topic, source_partition, \
         source_offset, reason, attempts, first_failed_at, parked_at, status, resolved_at) \
         VALUES ($1, $2, NULL, 'member-events', 0, $3, 'test', 1, $4, $4, $5, $6)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(Uuid::now_v7().to_string())
    .bind(offset)
    .bind(db::time::format(at))
    .bind(status)
    .bind(resolved_at)
    .execute(pool)
    .await
    .expect("parked event");
}

/// A row of the change log holding the changes `first_id..=last_id` (their JSON is not read).
async fn insert_change_row(pool: &AnyPool, first_id: i64, last_id: i64, at: DateTime<Utc>) {
    sqlx::query(
        "INSERT INTO change_log (first_id, last_id, member_id, changes, recorded_at) \
         VALUES ($1, $2, $3, '[]', $4)",
    )
    .bind(first_id)
    .bind(last_id)
    .bind(Uuid::now_v7().to_string())
    .bind(db::time::format(at))
    .execute(pool)
    .await
    .expect("change");
}

async fn count(pool: &AnyPool, table: &str) -> i64 {
    sqlx::query(&format!("SELECT COUNT(*) AS total FROM {table}"))
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get("total"))
        .expect("count")
}

#[tokio::test]
async fn records_older_than_the_retention_are_pruned_in_batches_and_no_others() {
    let app = TestApp::spawn().await;
    let pool = &app.state.pool;
    let now = db::time::now();
    let old = now - Duration::days(30);
    insert_member(pool, old).await;
    insert_parked(pool, 1, "replayed", old).await;
    insert_parked(pool, 2, "discarded", old).await;
    insert_parked(pool, 3, "parked", old).await;
    insert_parked(pool, 4, "replayed", now).await;
    for id in 1..=4 {
        insert_change_row(pool, id * 2 - 1, id * 2, old).await;
    }
    insert_change_row(pool, 9, 9, now).await;

    let cutoff = retention::cutoff(now, retention::parse_hours("336").expect("hours"));
    let mut pruned = Vec::new();
    for what in Pruned::ALL {
        let stop = CancellationToken::new();
        pruned.push(
            retention::sweep(pool, what, cutoff, 2, &stop)
                .await
                .expect("sweep"),
        );
    }

    assert_eq!(pruned, vec![2, 4]);
    assert_eq!(
        count(pool, "known_members").await,
        1,
        "a member's version, however old, still tells its redelivered events"
    );
    let left: Vec<(i64, String)> =
        sqlx::query("SELECT source_offset, status FROM parked_events ORDER BY source_offset")
            .fetch_all(pool)
            .await
            .expect("parked events")
            .iter()
            .map(|row| (row.get("source_offset"), row.get("status")))
            .collect();
    assert_eq!(
        left,
        vec![(3, "parked".to_owned()), (4, "replayed".to_owned())],
        "a parked event waiting for the operator stays, however old"
    );
    let rows: Vec<(i64, i64)> =
        sqlx::query("SELECT first_id, last_id FROM change_log ORDER BY first_id")
            .fetch_all(pool)
            .await
            .expect("change log")
            .iter()
            .map(|row| (row.get("first_id"), row.get("last_id")))
            .collect();
    assert_eq!(rows, vec![(9, 9)], "old rows go whole, recent ones stay");
}
