//! After the broker was away longer than the group's session timeout, propagation resumes within
//! seconds of its return, and readiness answered at once all along. Its own test binary, because
//! against an external Kafka it stops the broker every other test would share.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use system_tests::{TestSystem, eventually, faults, system::DEADLINE};

/// The outage: longer than the consumer's 10 s session timeout, so the group must form again.
const OUTAGE: Duration = Duration::from_secs(15);
/// The README's bound from the broker accepting connections again to the cancellations.
const RESUME_BOUND: Duration = Duration::from_secs(3);
/// A readiness probe with a 1 s timeout must get its answer, whatever the dependencies do.
const READINESS_BOUND: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread")]
async fn propagation_resumes_within_seconds_of_the_broker_returning() {
    let mut system = TestSystem::start().await;
    // Readiness is timed against a process of its own: in this test's process every service
    // shares one runtime with the harness, which is not what a probe meets in production.
    system.stop_reservation_service().await;
    // Kafka keeps the consumer's old membership after the outage until its session times out
    // (10 s), which a new member must wait for; with static membership the consumer comes back
    // as itself at once. That is the configuration the README recommends with Kafka.
    if system.broker.supports_static_membership() {
        system.reservation_config_mut().kafka_group_instance_id =
            Some(format!("replica-{}", uuid::Uuid::now_v7().simple()));
    }
    system
        .start_reservation_process(std::path::Path::new(env!(
            "CARGO_BIN_EXE_reservation-service-process"
        )))
        .await;
    let members = faults::populate(&system, 5, 1).await;

    system.broker.stop().await;
    let outage = Instant::now();
    faults::delete_all(&system, &members).await;
    let mut slowest_readiness = (Duration::ZERO, String::new());
    let mut both_unready = false;
    while outage.elapsed() < OUTAGE {
        let mut statuses = Vec::new();
        for url in [
            system.member_url("/ready"),
            system.reservation_url("/ready"),
        ] {
            let asked = Instant::now();
            let response = system.http.get(&url).send().await.expect("GET /ready");
            if url == system.reservation_url("/ready") && asked.elapsed() > slowest_readiness.0 {
                slowest_readiness = (asked.elapsed(), url.clone());
            }
            statuses.push(response.status());
        }
        both_unready |= statuses
            .iter()
            .all(|status| *status == StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(both_unready, "readiness never reported the broker gone");

    system.broker.restart().await;
    let returned = Instant::now();
    eventually("the outbox to drain after the outage", DEADLINE, || async {
        (system.outbox_backlog().await == 0).then_some(())
    })
    .await;
    let published_in = returned.elapsed();
    eventually("the cancellations after the outage", DEADLINE, || async {
        let audit =
            system_tests::audit::Audit::of(&system.member.pool, &system.reservation_pool()).await;
        (audit.reservations_cancelled == 5).then_some(())
    })
    .await;
    let resumed_in = returned.elapsed();
    let audit = faults::settle(&system, DEADLINE).await;
    println!(
        "broker away {} s: outbox drained {:.2} s and cancellations {:.2} s after it accepted connections again; slowest /ready during the outage {} ms ({}); {audit}",
        OUTAGE.as_secs(),
        published_in.as_secs_f64(),
        resumed_in.as_secs_f64(),
        slowest_readiness.0.as_millis(),
        slowest_readiness.1
    );
    assert!(
        slowest_readiness.0 < READINESS_BOUND,
        "{} took {:?}",
        slowest_readiness.1,
        slowest_readiness.0
    );
    assert!(resumed_in <= RESUME_BOUND, "resumed {resumed_in:?} after");
    assert_eq!(
        (audit.lost, audit.applied_twice, audit.order_violations),
        (0, 0, 0)
    );
    system.stop_reservation_service().await;
}
