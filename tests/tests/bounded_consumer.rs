//! The consumer's bounds (issue 12): a parked event too large for the dead-letter topic is sent
//! with its digest instead of its body; a consumer that cannot go on without skipping an event
//! stops for good, and its process exits with an error status, for an orchestrator to restart it.

use std::{path::Path, time::Duration};

use sqlx::Executor;
use system_tests::{TestSystem, dead_letters, faults};
use uuid::Uuid;

/// Makes the reservation database refuse every parked record (a trigger): an event can then be
/// neither applied nor set aside.
async fn refuse_parking(system: &TestSystem) {
    let pool = system.reservation_pool_while_stopped().await;
    if system.uses_postgres() {
        pool.execute(
            "CREATE OR REPLACE FUNCTION refuse_parking() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure: parking refused'; END; $$ LANGUAGE plpgsql",
        )
        .await
        .expect("trigger function");
        pool.execute(
            "CREATE TRIGGER refuse_parking BEFORE INSERT ON parked_events FOR EACH ROW \
             EXECUTE FUNCTION refuse_parking()",
        )
        .await
        .expect("trigger");
    } else {
        pool.execute(
            "CREATE TRIGGER refuse_parking BEFORE INSERT ON parked_events \
             BEGIN SELECT RAISE(ABORT, 'injected failure: parking refused'); END",
        )
        .await
        .expect("trigger");
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_process_exits_with_an_error_when_the_consumer_cannot_park_an_event() {
    let mut system = TestSystem::start().await;
    system.stop_reservation_service().await;
    refuse_parking(&system).await;
    let program = Path::new(env!("CARGO_BIN_EXE_reservation-service-process"));
    system.start_reservation_process(program).await;

    faults::inject_poison(&system, Uuid::now_v7()).await;

    let (status, log) = system
        .reservation_process_exit(Duration::from_secs(60))
        .await;
    assert!(!status.success(), "exited with {status}; log:\n{log}");
    assert!(
        log.contains("member-event consumer stopped for good")
            && log.contains("injected failure: parking refused"),
        "log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parked_event_too_large_for_the_dead_letter_topic_is_sent_with_its_digest() {
    let mut system = TestSystem::start().await;
    system.stop_reservation_service().await;
    system
        .reservation_config_mut()
        .dead_letter_max_message_bytes = 1024;
    system.start_reservation_service().await;

    // No member event, and four times what a dead-letter copy may be.
    let member = Uuid::now_v7();
    let poison = vec![b'x'; 4096];
    system.publish_raw(&member.to_string(), &poison).await;

    let copy = dead_letters::read_one(&system).await;
    assert!(copy.payload.is_empty(), "{} bytes sent", copy.payload.len());
    assert_eq!(copy.key, Some(member.to_string()));
    assert_eq!(copy.header("dlq.payload.bytes").as_deref(), Some("4096"));
    // SHA-256 of 4096 times "x" (`head -c 4096 /dev/zero | tr '\\0' x | sha256sum`).
    assert_eq!(
        copy.header("dlq.payload.sha256").as_deref(),
        Some("a2e659dacb4691e887ac0139f8893d04764ee197d70fb73d3190d56113d18e3e")
    );
    assert!(copy.header("dlq.payload.omitted").is_some());
    assert!(
        copy.header("dlq.reason")
            .is_some_and(|reason| reason.contains("not a member event"))
    );
    // The parked record keeps the bytes, for a replay.
    let mut connection = system
        .reservation_pool()
        .acquire()
        .await
        .expect("connection");
    let parked = reservation_service::db::parked_events::list(&mut connection, None, 10)
        .await
        .expect("parked events");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].payload.as_deref(), Some(poison.as_slice()));
}
