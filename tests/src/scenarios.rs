//! The core scenarios, shared by every backend: the default run (SQLite + embedded broker, or
//! whatever `TEST_DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` name) and the Testcontainers suite.

use std::time::Instant;

use event_schema::{MemberEvent, MemberEventData, MemberRegistered};
use reqwest::StatusCode;
use reservation_service::{
    domain::Applied,
    operator::dlq::{self, ReplayOutcome, Selection},
};
use sqlx::Row;
use uuid::Uuid;

use crate::{TestSystem, audit::applied_member_changes, eventually, system::DEADLINE};

pub async fn reservations_are_cancelled_when_member_is_deleted(system: &mut TestSystem) {
    let member = system.register_known_member().await;
    let other_member = system.register_known_member().await;
    let first = system.reserve(member).await;
    let second = system.reserve(member).await;
    let others = system.reserve(other_member).await;

    let deleted_at = Instant::now();
    assert_eq!(system.delete_member(member).await, StatusCode::NO_CONTENT);
    for reservation in [first, second] {
        let cancelled = system.wait_until_cancelled(reservation).await;
        assert_eq!(cancelled["cancellation_reason"], "member_deleted");
        assert!(cancelled["cancelled_at"].is_string());
    }
    eprintln!(
        "deletion to both reservations cancelled (observed over HTTP): {} ms",
        deleted_at.elapsed().as_millis()
    );

    let untouched = system.reservation(others).await;
    assert_eq!(
        untouched["status"], "active",
        "another member's reservation was touched"
    );
    assert_eq!(untouched["cancellation_reason"], serde_json::Value::Null);

    let (status, problem) = system.try_reserve(member, "room-after-deletion").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "member_id");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("deleted"))
    );
}

pub async fn the_same_member_deleted_event_delivered_twice_has_one_effect(system: &mut TestSystem) {
    let member = system.register_known_member().await;
    let reservation = system.reserve(member).await;
    assert_eq!(system.delete_member(member).await, StatusCode::NO_CONTENT);
    let first_effect = system.wait_until_cancelled(reservation).await;
    let before = system.consumer_stats().await;

    // Redeliver the very event the relay published, as a relay crash before stamping would.
    let payload: String = sqlx::query(
        "SELECT payload FROM outbox WHERE member_id = $1 AND event_type = 'members.member_deleted.v1'",
    )
    .bind(member.to_string())
    .fetch_one(&system.member.pool)
    .await
    .expect("the deletion's outbox row")
    .get("payload");
    system
        .publish_raw(&member.to_string(), payload.as_bytes())
        .await;

    let after = eventually("the redelivery to be recognised", DEADLINE, || async {
        let stats = system.consumer_stats().await;
        (stats.duplicates > before.duplicates).then_some(stats)
    })
    .await;
    assert_eq!(after.duplicates, before.duplicates + 1);
    assert_eq!(
        after.applied, before.applied,
        "the redelivery was applied again"
    );
    assert_eq!(after.reservations_cancelled, before.reservations_cancelled);
    assert_eq!(
        system.reservation(reservation).await,
        first_effect,
        "the reservation changed again"
    );

    let applied: Vec<(i64, bool)> = applied_member_changes(&system.reservation_pool())
        .await
        .into_iter()
        .filter(|change| change.member_id == member.to_string())
        .map(|change| (change.version, change.deletion))
        .collect();
    assert_eq!(
        applied,
        [(1, false), (2, true)],
        "one registration and one deletion, each applied once"
    );
}

pub async fn a_consumer_restarted_mid_stream_resumes_from_its_committed_offset(
    system: &mut TestSystem,
) {
    let mut reservations = Vec::new();
    let mut members = Vec::new();
    for _ in 0..20 {
        let member = system.register_member().await;
        members.push(member);
    }
    for member in &members {
        system.wait_until_known(*member).await;
        reservations.push(system.reserve(*member).await);
    }

    let (deleted_while_running, deleted_while_stopped) = members.split_at(10);
    for member in &deleted_while_running[..5] {
        assert_eq!(system.delete_member(*member).await, StatusCode::NO_CONTENT);
    }
    for reservation in &reservations[..5] {
        system.wait_until_cancelled(*reservation).await;
    }
    system.stop_reservation_service().await;
    for member in deleted_while_running[5..]
        .iter()
        .chain(deleted_while_stopped)
    {
        assert_eq!(system.delete_member(*member).await, StatusCode::NO_CONTENT);
    }
    system.start_reservation_service().await;

    for reservation in &reservations {
        let cancelled = system.wait_until_cancelled(*reservation).await;
        assert_eq!(cancelled["cancellation_reason"], "member_deleted");
    }
    let stats = system.consumer_stats().await;
    // The new instance started at the committed offset: the 20 registrations and 5 deletions
    // applied by the first instance are not seen again; it applies exactly the other 15.
    assert_eq!(
        (stats.duplicates, stats.stale),
        (0, 0),
        "the restarted consumer re-read committed events: {stats:?}"
    );
    assert_eq!(stats.applied, 15, "{stats:?}");
    let deletions = applied_member_changes(&system.reservation_pool())
        .await
        .into_iter()
        .filter(|change| change.deletion)
        .count();
    assert_eq!(deletions, 20, "every deletion applied exactly once");
}

pub async fn undecodable_events_are_parked_in_the_dead_letter_topic_and_the_consumer_moves_on(
    system: &mut TestSystem,
) {
    // Poison and a good event under one member's key (one partition: the good one comes after
    // it), and a good event of another member.
    let member = Uuid::now_v7();
    let other = Uuid::now_v7();
    let poison_key = member.to_string();
    let poison = b"{\"specversion\":\"1.0\",\"type\":\"truncated";
    system.publish_raw(&poison_key, poison).await;
    for member_id in [member, other] {
        let registered = MemberEvent::new(
            "/system-tests",
            MemberEventData::Registered(MemberRegistered {
                member_id,
                member_version: 1,
            }),
        );
        system
            .publish_raw(&member_id.to_string(), registered.to_json().as_bytes())
            .await;
    }

    // The other member flows; this member's event waits behind its poison, keeping its order.
    system.wait_until_known(other).await;
    let stats = eventually(
        "both events of the member to be parked",
        DEADLINE,
        || async {
            let stats = system.consumer_stats().await;
            (stats.dead_lettered == 2).then_some(stats)
        },
    )
    .await;
    assert_eq!(stats.applied, 1, "{stats:?}");

    let parked = crate::dead_letters::read_one(system).await;
    assert_eq!(parked.key.as_deref(), Some(poison_key.as_str()));
    assert_eq!(parked.payload, poison);
    assert!(
        parked
            .header("dlq.reason")
            .is_some_and(|reason| reason.contains("not a member event"))
    );
    assert_eq!(
        parked.header("dlq.original.topic").as_deref(),
        Some(system.topic.as_str())
    );
    assert!(parked.header("dlq.original.offset").is_some());
    assert_eq!(parked.header("dlq.attempts").as_deref(), Some("1"));
    assert!(parked.header("dlq.first.failed.at").is_some());

    // The operator discards the garbage and replays the member: its registration applies.
    let pool = system.reservation_pool();
    let poison_id = {
        let mut connection = pool.acquire().await.expect("connection");
        reservation_service::db::parked_events::list(&mut connection, None, 10)
            .await
            .expect("parked events")
            .into_iter()
            .find(|event| event.payload.as_deref() == Some(poison.as_slice()))
            .expect("the poison is parked")
            .id
    };
    dlq::discard(&pool, poison_id, "truncated by a broken producer")
        .await
        .expect("discard");
    let replayed = dlq::replay(&pool, Selection::Member(member))
        .await
        .expect("replay");
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert_eq!(
        replayed[0].outcome,
        ReplayOutcome::Applied(Applied::Activated)
    );
    system.wait_until_known(member).await;
}
