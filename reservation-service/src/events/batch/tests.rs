//! A batch larger than a statement can bind: one transaction would be refused, for ever; the
//! writer slices it. SQLite, whose limit (32766) is the lower of the two backends'.

use event_schema::{MemberEvent, MemberEventData, MemberRegistered};
use secrecy::SecretString;
use uuid::Uuid;

use super::*;
use crate::domain::{Applied, Delivery, MAX_EVENTS_PER_TRANSACTION};

fn registrations(count: usize) -> Vec<Arrival> {
    (0..count)
        .map(|offset| {
            let member_id = Uuid::now_v7();
            let event = MemberEvent::new(
                "/member-service",
                MemberEventData::Registered(MemberRegistered {
                    member_id,
                    member_version: 1,
                }),
            );
            Arrival::new(Delivery {
                topic: "member-events".to_owned(),
                partition: 0,
                offset: i64::try_from(offset).unwrap_or(i64::MAX),
                key: Some(member_id.to_string().into_bytes()),
                payload: Some(event.to_json().into_bytes()),
            })
        })
        .collect()
}

async fn database(directory: &tempfile::TempDir) -> AnyPool {
    let url = format!(
        "sqlite://{}",
        directory.path().join("reservations.db").display()
    );
    db::connect(&SecretString::from(url), 1)
        .await
        .expect("database")
}

#[tokio::test]
async fn a_full_transaction_fits_and_one_past_the_limit_is_refused_as_permanent() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let pool = database(&directory).await;
    let signal = ChangeSignal::default();
    let full = registrations(MAX_EVENTS_PER_TRANSACTION);
    let outcomes = attempt(&pool, &full, None, &signal)
        .await
        .expect("a full transaction is written");
    assert_eq!(outcomes.len(), MAX_EVENTS_PER_TRANSACTION);
    // One event more: the widest statement (the member list's) binds more than the limit.
    let over = registrations(MAX_EVENTS_PER_TRANSACTION + 1);
    assert!(matches!(
        attempt(&pool, &over, None, &signal).await,
        Err(AttemptError::Permanent(_))
    ));
}

#[tokio::test]
async fn a_batch_over_the_parameter_limit_is_written_in_slices() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let pool = database(&directory).await;
    let stats = ConsumerStats::default();
    let size = MAX_EVENTS_PER_TRANSACTION + 800;
    let batch = registrations(size);
    let outcomes = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        write(
            &pool,
            &batch,
            3,
            &stats,
            &ChangeSignal::default(),
            &CancellationToken::new(),
        ),
    )
    .await
    .expect("written in time")
    .expect("written");
    assert_eq!(outcomes.len(), size);
    assert!(
        outcomes
            .iter()
            .all(|outcome| *outcome == Outcome::Applied(Applied::Activated))
    );
    assert_eq!(stats.snapshot().retries, 0);
    let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM known_members")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(i64::try_from(size).expect("fits"), known);
}
