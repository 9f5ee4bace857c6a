//! The change log's rows: one per member per transaction, read back change by change from any
//! id (inside a row too), in pages of whole rows; and rows written before migration 0004 read
//! as they did.

use std::path::Path;

use reservation_service::{
    db::{self, Backend, changes::LoggedChange},
    domain::{CancellationReason, Change},
};
use sqlx::{AnyPool, Row, any::AnyPoolOptions, migrate::Migrator};
use tempfile::TempDir;
use uuid::Uuid;

use crate::helpers::{self, TestApp};

fn learned(member_id: Uuid, version: i64) -> Change {
    Change::MemberLearned {
        member_id,
        version,
        at: db::time::now(),
    }
}

/// Records `changes` in one transaction and commits it.
async fn record(app: &TestApp, changes: &[Change]) {
    let mut transaction = app.state.pool.begin().await.expect("a transaction");
    db::changes::record(&mut transaction, changes, db::time::now())
        .await
        .expect("recorded");
    transaction.commit().await.expect("committed");
}

/// Each row's member and id range, in id order.
async fn rows(pool: &AnyPool) -> Vec<(String, i64, i64)> {
    sqlx::query("SELECT member_id, first_id, last_id FROM change_log ORDER BY first_id")
        .fetch_all(pool)
        .await
        .expect("the change log")
        .iter()
        .map(|row| {
            (
                row.get("member_id"),
                row.get("first_id"),
                row.get("last_id"),
            )
        })
        .collect()
}

async fn after(app: &TestApp, id: i64, member_id: Option<Uuid>, limit: usize) -> Vec<i64> {
    let mut connection = app.state.pool.acquire().await.expect("a connection");
    db::changes::after(&mut connection, id, member_id, limit)
        .await
        .expect("the log")
        .iter()
        .map(|change| change.id)
        .collect()
}

#[tokio::test]
async fn a_consumer_transaction_writes_one_row_per_member() {
    let app = TestApp::spawn().await;
    let (first, second) = (app.active_member().await, app.active_member().await);
    for (member_id, resource) in [(first, "room-1"), (first, "room-2"), (second, "room-3")] {
        let (status, body) = app.try_reserve(member_id, resource).await;
        assert!(status.is_success(), "{body}");
    }
    // As the consumer writes two deletions: the deletions, then the cancellations.
    let mut transaction = app.state.pool.begin().await.expect("a transaction");
    let cancelled = db::reservations::cancel_all_of_members(
        &mut transaction,
        &[first.to_string(), second.to_string()],
        CancellationReason::MemberDeleted,
        db::time::now(),
    )
    .await
    .expect("cancelled");
    let at = db::time::now();
    let mut changes = vec![
        Change::MemberDeleted {
            member_id: first,
            version: 2,
            at,
        },
        Change::MemberDeleted {
            member_id: second,
            version: 2,
            at,
        },
    ];
    changes.extend(
        cancelled
            .into_iter()
            .map(|reservation| Change::ReservationCancelled {
                reservation,
                member_deleted_at: Some(at),
            }),
    );
    db::changes::record(&mut transaction, &changes, db::time::now())
        .await
        .expect("recorded");
    transaction.commit().await.expect("committed");

    let (first, second) = (first.to_string(), second.to_string());
    assert_eq!(
        rows(&app.state.pool).await,
        [
            (first.clone(), 1, 1),
            (first.clone(), 2, 2),
            (second.clone(), 3, 3),
            (first, 4, 6),
            (second, 7, 8),
        ],
        "one row per reservation made through the API, one per member deleted"
    );
    let mut connection = app.state.pool.acquire().await.expect("a connection");
    let read = db::changes::after(&mut connection, 0, None, 100)
        .await
        .expect("the log");
    let kinds: Vec<(i64, &str)> = read
        .iter()
        .map(|change| (change.id, change.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, "reservation_created"),
            (2, "reservation_created"),
            (3, "reservation_created"),
            (4, "member_deleted"),
            (5, "reservation_cancelled"),
            (6, "reservation_cancelled"),
            (7, "member_deleted"),
            (8, "reservation_cancelled"),
        ]
    );
}

#[tokio::test]
async fn a_page_ends_with_a_whole_row_and_a_reader_resumes_inside_one() {
    let app = TestApp::spawn().await;
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    record(
        &app,
        &[learned(first, 1), learned(first, 2), learned(first, 3)],
    )
    .await;
    record(&app, &[learned(second, 1)]).await;
    record(&app, &[learned(first, 4), learned(first, 5)]).await;

    assert_eq!(after(&app, 0, None, 2).await, [1, 2, 3]);
    assert_eq!(after(&app, 3, None, 2).await, [4, 5, 6]);
    assert_eq!(after(&app, 1, None, 1).await, [2, 3]);
    assert_eq!(after(&app, 5, None, 10).await, [6]);
    assert_eq!(after(&app, 6, None, 10).await, Vec::<i64>::new());
    assert_eq!(after(&app, 0, Some(second), 10).await, [4]);
    assert_eq!(after(&app, 2, Some(first), 1).await, [3]);
    assert_eq!(after(&app, 3, Some(first), 10).await, [5, 6]);
}

/// The old log's rows, as 0003's schema held them: id, kind, member, data.
const OLD_ROWS: [(i64, &str, &str); 2] = [
    (
        1,
        "member_learned",
        r#"{"at":"2030-01-01T08:00:00.000000Z","id":1,"member_id":"0190a000-0000-7000-8000-000000000001","type":"member_learned","version":1}"#,
    ),
    (
        2,
        "member_deleted",
        r#"{"at":"2030-01-01T09:00:00.000000Z","id":2,"member_id":"0190a000-0000-7000-8000-000000000001","type":"member_deleted","version":2}"#,
    ),
];
const OLD_MEMBER: &str = "0190a000-0000-7000-8000-000000000001";

/// A database migrated up to 0003 only, holding [`OLD_ROWS`] as the old code wrote them.
async fn database_before_0004(url: &str) -> Result<(), sqlx::Error> {
    sqlx::any::install_default_drivers();
    let (folder, connect_url) = match Backend::of_url(url)? {
        Backend::Sqlite => ("sqlite", format!("{url}?mode=rwc")),
        Backend::Postgres => ("postgres", url.to_owned()),
    };
    let old_migrations = TempDir::new().expect("a folder");
    let all = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    for name in ["0001", "0002", "0003"] {
        let file = std::fs::read_dir(&all)
            .expect("the migrations")
            .filter_map(Result::ok)
            .find(|entry| entry.file_name().to_string_lossy().starts_with(name))
            .expect("the migration");
        std::fs::copy(file.path(), old_migrations.path().join(file.file_name())).expect("copied");
    }
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&connect_url)
        .await?;
    Migrator::new(old_migrations.path())
        .await
        .expect("the old migrations")
        .run(&pool)
        .await
        .expect("migrated to 0003");
    for (id, kind, data) in OLD_ROWS {
        sqlx::query(
            "INSERT INTO change_log (id, kind, member_id, data, recorded_at) \
             VALUES ($1, $2, $3, $4, '2030-01-01T09:00:00.000000Z')",
        )
        .bind(id)
        .bind(kind)
        .bind(OLD_MEMBER)
        .bind(data)
        .execute(&pool)
        .await?;
    }
    sqlx::query("UPDATE change_log_head SET last_id = 2")
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

#[tokio::test]
async fn changes_written_one_per_row_before_migration_0004_read_as_they_did() {
    let directory = TempDir::new().expect("a folder");
    let url = helpers::database_url(&directory).await;
    database_before_0004(&url).await.expect("the old database");

    let app = TestApp::spawn_on(directory, url).await;

    let mut connection = app.state.pool.acquire().await.expect("a connection");
    let member_id = Uuid::parse_str(OLD_MEMBER).expect("a member id");
    let expected: Vec<LoggedChange> = OLD_ROWS
        .iter()
        .map(|(id, kind, data)| LoggedChange {
            id: *id,
            kind: (*kind).to_owned(),
            data: (*data).to_owned(),
        })
        .collect();
    let read = db::changes::after(&mut connection, 0, Some(member_id), 10)
        .await
        .expect("the log");
    assert_eq!(read, expected, "old changes are sent as they were");
    drop(connection);
    record(&app, &[learned(member_id, 3)]).await;
    assert_eq!(after(&app, 1, None, 10).await, [2, 3]);
    assert_eq!(
        rows(&app.state.pool).await,
        [
            (OLD_MEMBER.to_owned(), 1, 1),
            (OLD_MEMBER.to_owned(), 2, 2),
            (OLD_MEMBER.to_owned(), 3, 3),
        ],
        "new ids go on from the old head"
    );
}
