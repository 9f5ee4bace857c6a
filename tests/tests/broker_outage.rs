//! The outbox's reason to exist: with the broker down, deletions still succeed, and their events
//! are published, in order, when it returns. Its own test binary, because against an external
//! Kafka it stops the broker every other test would share.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use system_tests::{TestSystem, eventually, system::DEADLINE};

#[tokio::test(flavor = "multi_thread")]
async fn deletions_made_while_the_broker_is_down_are_applied_after_it_restarts() {
    let mut system = TestSystem::start().await;
    let mut members = Vec::new();
    for _ in 0..5 {
        let member = system.register_known_member().await;
        members.push((member, system.reserve(member).await));
    }

    system.broker.stop().await;
    for (member, _) in &members {
        let started = Instant::now();
        assert_eq!(system.delete_member(*member).await, StatusCode::NO_CONTENT);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "DELETE waited for the broker: {:?}",
            started.elapsed()
        );
    }
    // The events wait in the outbox while the broker is away, and readiness says why once its
    // background check has seen the outage and the deletions.
    let readiness: serde_json::Value = eventually(
        "readiness to report the outage and the backlog",
        DEADLINE,
        || async {
            let readiness = system
                .http
                .get(system.member_url("/ready"))
                .send()
                .await
                .expect("GET /ready");
            if readiness.status() != StatusCode::SERVICE_UNAVAILABLE {
                return None;
            }
            let readiness: serde_json::Value = readiness.json().await.expect("readiness json");
            (readiness["broker"] != "ok" && readiness["outbox_backlog"] == 5).then_some(readiness)
        },
    )
    .await;
    assert_eq!(readiness["database"], "ok");
    assert_ne!(readiness["broker"], "ok");
    assert_eq!(readiness["outbox_backlog"], 5);
    assert_eq!(system.outbox_backlog().await, 5);
    for (_, reservation) in &members {
        assert_eq!(system.reservation(*reservation).await["status"], "active");
    }

    system.broker.restart().await;
    for (_, reservation) in &members {
        let cancelled = system.wait_until_cancelled(*reservation).await;
        assert_eq!(cancelled["cancellation_reason"], "member_deleted");
    }
    eventually("the outbox to drain", DEADLINE, || async {
        (system.outbox_backlog().await == 0).then_some(())
    })
    .await;
}
