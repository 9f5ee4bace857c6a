//! The failure-injection suite: each scenario injects one of the failures the design exists for,
//! into real services, a real broker and real databases, then checks the invariants directly in
//! both databases and prints one line: deletions, reservations cancelled, lost, applied twice,
//! order violations, parked. Expected everywhere: lost 0, applied twice 0, order violations 0.
//!
//! Embedded broker + SQLite by default; PostgreSQL and Apache Kafka when the environment names
//! them (see the crate documentation). Against a shared Kafka, the scenario that stops the broker
//! runs alone: the others hold a shared lock it takes exclusively.

use std::time::{Duration, Instant};

use event_schema::MemberEvent;
use reqwest::StatusCode;
use reservation_service::{
    domain::Applied,
    operator::dlq::{self, ReplayOutcome, Selection, ToolError},
};
use sqlx::Row;
use system_tests::{
    TestSystem,
    audit::Audit,
    eventually,
    faults::{self, percentile_ms},
    system::DEADLINE,
};
use tokio::sync::RwLock;

/// Held shared by every scenario, exclusively by the one that stops the broker.
static BROKER: RwLock<()> = RwLock::const_new(());

const MEMBERS: usize = 20;
const RESERVATIONS_EACH: usize = 2;

#[tokio::test(flavor = "multi_thread")]
async fn broker_stopped_during_a_burst_of_deletions() {
    let _exclusive = BROKER.write().await;
    let mut system = TestSystem::start().await;
    let members = faults::populate(&system, MEMBERS, RESERVATIONS_EACH).await;

    system.broker.stop().await;
    let latencies = faults::delete_all(&system, &members).await;
    let held = system.outbox_backlog().await;
    system.broker.restart().await;

    let audit = faults::settle(&system, DEADLINE).await;
    audit.report(
        "1 broker stopped during deletions",
        &format!(
            "held in the outbox while down: {held}; DELETE p99 while down {:.0} ms",
            percentile_ms(&latencies, 99.0)
        ),
    );
    assert_eq!(held, MEMBERS as i64, "every deletion waited in the outbox");
    assert_clean(&audit, MEMBERS, RESERVATIONS_EACH, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn relay_killed_after_producing_and_before_marking_its_rows() {
    let _shared = BROKER.read().await;
    let mut system = TestSystem::start().await;
    let members = faults::populate(&system, MEMBERS, RESERVATIONS_EACH).await;
    faults::delete_all(&system, &members).await;
    assert!(faults::settle(&system, DEADLINE).await.is_clean());
    let before = system.consumer_stats().await;

    faults::crash_relay_after_produce(&mut system, &members).await;
    // Registration and deletion of every member, published a second time. The deletion is at the
    // member version applied (a duplicate); the registration is older (stale).
    let republished = 2 * MEMBERS as u64;
    let after = eventually("the republished events to arrive", DEADLINE, || async {
        let stats = system.consumer_stats().await;
        (stats.duplicates >= before.duplicates + MEMBERS as u64
            && stats.stale >= before.stale + MEMBERS as u64)
            .then_some(stats)
    })
    .await;

    let audit = faults::settle(&system, DEADLINE).await;
    audit.report(
        "2 relay killed before marking rows",
        &format!(
            "published twice: {republished}; recognised as duplicates: {}, as stale: {}",
            after.duplicates - before.duplicates,
            after.stale - before.stale
        ),
    );
    assert_clean(&audit, MEMBERS, RESERVATIONS_EACH, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn consumer_killed_between_its_database_commit_and_its_offset_commit() {
    let _shared = BROKER.read().await;
    let mut system = TestSystem::start().await;
    // Offsets are committed only at shutdown: everything applied is uncommitted when killed.
    system.stop_reservation_service().await;
    system.reservation_config_mut().kafka_commit_interval = Duration::from_secs(3_600);
    system.start_reservation_service().await;
    let members = faults::populate(&system, MEMBERS, RESERVATIONS_EACH).await;
    faults::delete_all(&system, &members).await;
    assert!(faults::settle(&system, DEADLINE).await.is_clean());

    system
        .reservation
        .take()
        .expect("reservation-service is running")
        .kill()
        .await;
    system.reservation_config_mut().kafka_commit_interval = Duration::from_millis(200);
    system.start_reservation_service().await;
    // Every member's deletion comes again at the version applied (a duplicate), its
    // registration older than that (stale).
    let redelivered = eventually(
        "the uncommitted events to be redelivered",
        DEADLINE,
        || async {
            let stats = system.consumer_stats().await;
            (stats.duplicates >= MEMBERS as u64 && stats.stale >= MEMBERS as u64).then_some(stats)
        },
    )
    .await;

    let audit = faults::settle(&system, DEADLINE).await;
    audit.report(
        "3 consumer killed before offset commit",
        &format!(
            "redelivered after restart and recognised: {} duplicates, {} stale",
            redelivered.duplicates, redelivered.stale
        ),
    );
    assert_eq!(
        redelivered.applied, 0,
        "a redelivered event applied again: {redelivered:?}"
    );
    assert_clean(&audit, MEMBERS, RESERVATIONS_EACH, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_events_injected_twice_and_out_of_order() {
    let _shared = BROKER.read().await;
    let system = TestSystem::start().await;
    let members = faults::populate(&system, MEMBERS, RESERVATIONS_EACH).await;
    faults::delete_all(&system, &members).await;
    assert!(faults::settle(&system, DEADLINE).await.is_clean());
    let before = system.consumer_stats().await;

    // Every event again, newest first, twice; then each registration re-issued under a new id
    // after the deletion: an old version arriving late. Each deletion copy is at the member
    // version applied (a duplicate); each registration, copied or re-issued, is older (stale).
    let copies = faults::inject_history_reversed_twice(&system, &members).await as u64;
    assert_eq!(
        copies,
        4 * MEMBERS as u64,
        "a registration and a deletion, twice"
    );
    let deletion_copies = 2 * MEMBERS as u64;
    let older_versions = 2 * MEMBERS as u64 + MEMBERS as u64;
    for member in &members {
        let registration = sqlx::query(
            "SELECT payload FROM outbox WHERE member_id = $1 ORDER BY sequence LIMIT 1",
        )
        .bind(member.to_string())
        .fetch_one(&system.member.pool)
        .await
        .expect("registration")
        .try_get::<String, _>("payload")
        .expect("payload");
        let mut reissued = MemberEvent::decode(registration.as_bytes()).expect("valid event");
        reissued.id = uuid::Uuid::now_v7();
        system
            .publish_raw(&member.to_string(), reissued.to_json().as_bytes())
            .await;
    }
    let after = eventually("the injected events to be handled", DEADLINE, || async {
        let stats = system.consumer_stats().await;
        (stats.duplicates >= before.duplicates + deletion_copies
            && stats.stale >= before.stale + older_versions)
            .then_some(stats)
    })
    .await;

    let audit = faults::settle(&system, DEADLINE).await;
    audit.report(
        "4 duplicates and old versions injected",
        &format!(
            "duplicates ignored: {}; stale versions ignored: {}",
            after.duplicates - before.duplicates,
            after.stale - before.stale
        ),
    );
    assert_clean(&audit, MEMBERS, RESERVATIONS_EACH, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_events_are_parked_per_member_and_replayed_in_order() {
    let _shared = BROKER.read().await;
    let mut system = TestSystem::start().await;
    system.stop_reservation_service().await;
    system.reservation_config_mut().consumer_max_attempts = 3;
    system.start_reservation_service().await;
    let members = faults::populate(&system, MEMBERS, RESERVATIONS_EACH).await;
    let (poisoned, rest) = members.split_at(3);
    let (refused, healthy) = rest.split_at(1);
    for member in poisoned {
        faults::inject_poison(&system, *member).await;
    }
    faults::refuse_cancellations_of(&system, refused[0]).await;
    faults::delete_all(&system, &members).await;

    // Others keep flowing; each poisoned member's deletion waits behind its poison; the refused
    // deletion is parked after its attempts.
    let parked_now = 2 * poisoned.len() as u64 + 1;
    eventually(
        "healthy members to be applied and the rest parked",
        DEADLINE,
        || async {
            let stats = system.consumer_stats().await;
            for member in healthy {
                if known_status(&system, *member).await.as_deref() != Some("deleted") {
                    return None;
                }
            }
            (stats.dead_lettered >= parked_now).then_some(())
        },
    )
    .await;
    for member in poisoned.iter().chain(refused) {
        let known = known_status(&system, *member).await;
        assert_eq!(
            known.as_deref(),
            Some("active"),
            "{member} must wait behind its parked event"
        );
    }

    // The operator: discard the garbage, fix the handler, replay everything in order.
    let pool = system.reservation_pool();
    let mut connection = pool.acquire().await.expect("connection");
    let parked = reservation_service::db::parked_events::list(
        &mut connection,
        Some(reservation_service::domain::ParkedStatus::Parked),
        100,
    )
    .await
    .expect("parked events");
    drop(connection);
    assert_eq!(parked.len() as u64, parked_now);
    for event in parked
        .iter()
        .filter(|event| event.reason.contains("not a member event"))
    {
        dlq::discard(&pool, event.id, "truncated bytes from a broken producer")
            .await
            .expect("discard");
    }
    faults::allow_cancellations(&system).await;
    let refused_event = parked
        .iter()
        .find(|event| event.member_id.as_deref() == Some(refused[0].to_string().as_str()))
        .expect("the refused deletion is parked");
    assert_eq!(refused_event.attempts, 3, "{}", refused_event.reason);
    let replayed = dlq::replay(&pool, Selection::All).await.expect("replay");
    assert_eq!(replayed.len(), poisoned.len() + 1, "{replayed:?}");
    assert!(
        replayed.iter().all(|report| matches!(
            report.outcome,
            ReplayOutcome::Applied(Applied::Deleted { .. })
        )),
        "{replayed:?}"
    );
    // Replaying again has no effect.
    assert!(matches!(
        dlq::replay(&pool, Selection::One(refused_event.id)).await,
        Err(ToolError::NotParked { .. })
    ));
    assert!(
        dlq::replay(&pool, Selection::All)
            .await
            .expect("replay")
            .is_empty()
    );

    let audit = faults::settle(&system, DEADLINE).await;
    audit.report(
        "5 poison events among good ones",
        &format!(
            "poison {}, parked behind it {}, handler failures parked {}; replayed {}",
            poisoned.len(),
            poisoned.len(),
            refused.len(),
            replayed.len()
        ),
    );
    assert_clean(&audit, MEMBERS, RESERVATIONS_EACH, parked_now);
}

#[tokio::test(flavor = "multi_thread")]
async fn reservation_database_unavailable_for_a_while() {
    let _shared = BROKER.read().await;
    let system = TestSystem::start().await;
    let members = faults::populate(&system, MEMBERS, RESERVATIONS_EACH).await;

    let outage = faults::ReservationDatabaseOutage::begin(&system).await;
    let deletions = async {
        faults::delete_all(&system, &members).await;
        eventually(
            "readiness to report the consumer failing",
            DEADLINE,
            || async {
                let readiness = system
                    .http
                    .get(system.reservation_url("/ready"))
                    .send()
                    .await
                    .ok()?;
                (readiness.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(())
            },
        )
        .await;
    };
    tokio::join!(outage.end_after(Duration::from_secs(8)), deletions);

    let audit = faults::settle(&system, DEADLINE).await;
    let stats = system.consumer_stats().await;
    audit.report(
        "6 reservation database unavailable 8 s",
        &format!("retries: {}; /ready reported degraded", stats.retries),
    );
    assert!(stats.retries > 0, "the outage was not noticed: {stats:?}");
    assert_clean(&audit, MEMBERS, RESERVATIONS_EACH, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn reservation_service_down_while_members_keep_being_deleted() {
    let _shared = BROKER.read().await;
    let outage = Duration::from_secs(
        std::env::var("FAILURES_OUTAGE_SECONDS")
            .ok()
            .and_then(|seconds| seconds.parse().ok())
            .unwrap_or(60),
    );
    let mut system = TestSystem::start().await;
    let members = faults::populate(&system, 40, 1).await;
    let (before, during) = members.split_at(10);
    let latencies_before = faults::delete_all(&system, before).await;

    system.stop_reservation_service().await;
    let started = Instant::now();
    let pace = outage / u32::try_from(during.len()).unwrap_or(1);
    let mut latencies_during = Vec::new();
    let mut errors = 0;
    for member in during {
        let request = Instant::now();
        if system.delete_member(*member).await != StatusCode::NO_CONTENT {
            errors += 1;
        }
        latencies_during.push(request.elapsed());
        // Deliberate gaps: the deletions are spread over the outage, which lasts its full length.
        tokio::time::sleep(pace.saturating_sub(request.elapsed())).await;
    }
    tokio::time::sleep(outage.saturating_sub(started.elapsed())).await;
    let down_for = started.elapsed();

    system.start_reservation_service().await;
    let restarted = Instant::now();
    let audit = faults::settle(&system, DEADLINE).await;
    let drained_in = restarted.elapsed();
    let (p99_before, p99_during) = (
        percentile_ms(&latencies_before, 99.0),
        percentile_ms(&latencies_during, 99.0),
    );
    audit.report(
        "7 reservation-service down",
        &format!(
            "down {:.0} s; DELETE p50/p99 before {:.1}/{p99_before:.1} ms, during {:.1}/{p99_during:.1} ms, errors {errors}; backlog of {} drained in {:.2} s",
            down_for.as_secs_f64(),
            percentile_ms(&latencies_before, 50.0),
            percentile_ms(&latencies_during, 50.0),
            during.len(),
            drained_in.as_secs_f64()
        ),
    );
    assert_eq!(errors, 0);
    // Unaffected: the member API never waits on reservation-service. The median is compared
    // (a single slow request on a busy 2-core CI says nothing); the tail is only bounded.
    let (p50_before, p50_during) = (
        percentile_ms(&latencies_before, 50.0),
        percentile_ms(&latencies_during, 50.0),
    );
    assert!(
        p50_during <= p50_before * 3.0 + 5.0,
        "DELETE slowed down during the outage: median {p50_before:.1} ms before, {p50_during:.1} ms during"
    );
    assert!(
        p99_during < 1_000.0,
        "a DELETE took {p99_during:.0} ms during the outage"
    );
    assert_clean(&audit, 40, 1, 0);
}

async fn known_status(system: &TestSystem, member: uuid::Uuid) -> Option<String> {
    sqlx::query("SELECT status FROM known_members WHERE member_id = $1")
        .bind(member.to_string())
        .fetch_optional(&system.reservation_pool())
        .await
        .expect("known member")
        .map(|row| row.try_get("status").expect("status"))
}

/// Nothing lost, applied twice or out of order; every deletion cancelled every reservation.
fn assert_clean(audit: &Audit, deletions: usize, reservations_each: usize, parked: u64) {
    assert!(audit.is_clean(), "{audit}");
    assert_eq!(audit.deletions, deletions as u64, "{audit}");
    assert_eq!(
        audit.reservations_cancelled,
        (deletions * reservations_each) as u64,
        "{audit}"
    );
    assert_eq!(audit.parked, parked, "{audit}");
    assert_eq!(audit.waiting_for_operator, 0, "{audit}");
}
