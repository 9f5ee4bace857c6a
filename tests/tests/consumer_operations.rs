//! Operating the consumer: rewinding its group to rebuild lost state, and backpressure (bounded
//! work in flight, lag per partition on `/consumer`).

use std::time::Duration;

use reservation_service::operator::rewind::{self, RewindError, RewindTarget};
use sqlx::Executor;
use system_tests::{TestSystem, eventually, faults, system::DEADLINE};

#[tokio::test(flavor = "multi_thread")]
async fn rewinding_the_group_rebuilds_the_member_list_after_restoring_an_old_backup() {
    let mut system = TestSystem::start().await;
    let members = faults::populate(&system, 10, 0).await;
    system.stop_reservation_service().await;

    // An old backup, from before these members existed.
    let pool = system.reservation_pool_while_stopped().await;
    pool.execute("DELETE FROM known_members")
        .await
        .expect("forget members");
    pool.close().await;

    let rewound = rewind_to_start(&mut system).await.expect("rewind");
    assert_eq!(rewound.len(), 3, "{rewound:?}");
    assert!(rewound.iter().all(|partition| partition.offset == 0));

    system.start_reservation_service().await;
    for member in &members {
        system.wait_until_known(*member).await;
    }
    let stats = system.consumer_stats().await;
    assert_eq!(stats.applied, 10, "re-applied from the start: {stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rewinding_a_running_group_is_refused() {
    let mut system = TestSystem::start().await;
    if !system.broker.describes_groups() {
        // Said, not hidden: CI runs this file against Apache Kafka too.
        eprintln!(
            "not checked on the embedded broker: it cannot describe consumer groups, so the tool \
             can only warn there"
        );
        return;
    }
    system.register_known_member().await;
    let refused = rewind_to_start(&mut system).await;
    assert!(
        matches!(refused, Err(RewindError::GroupActive { members: 1, .. })),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_consumer_applies_at_most_its_bound_at_once_and_shows_its_lag() {
    let mut system = TestSystem::start().await;
    system.stop_reservation_service().await;
    system.reservation_config_mut().consumer_max_in_flight = 4;
    system.start_reservation_service().await;
    // Assigned before the burst, so lag is measured against this consumer's partitions.
    eventually("partitions to be assigned", DEADLINE, || async {
        let view = system.consumer_view().await;
        (view["assigned_partitions"].as_array().map_or(0, Vec::len) == 3).then_some(())
    })
    .await;

    // Events pile up while the consumer cannot write: lag is visible, per partition.
    let outage = faults::ReservationDatabaseOutage::begin(&system).await;
    let members = async {
        let members = futures::future::join_all((0..40).map(|_| system.register_member())).await;
        let lagging = eventually("lag to show on /consumer", DEADLINE, || async {
            let view = system.consumer_view().await;
            (view["total_lag"].as_i64() > Some(0)).then_some(view)
        })
        .await;
        (members, lagging)
    };
    let ((members, lagging), ()) = tokio::join!(members, outage.end_after(Duration::from_secs(6)));
    let partitions = lagging["lag"].as_array().expect("lag per partition");
    assert_eq!(partitions.len(), 3, "{lagging}");
    assert!(lagging["in_flight"].as_u64() <= Some(4), "{lagging}");

    for member in &members {
        system.wait_until_known(*member).await;
    }
    let drained = eventually("lag to drain", DEADLINE, || async {
        let view = system.consumer_view().await;
        (view["total_lag"].as_i64() == Some(0)).then_some(view)
    })
    .await;
    // 40 events, at most 4 per transaction.
    assert!(drained["batches"].as_u64() >= Some(10), "{drained}");
    assert_eq!(drained["applied"], 40, "{drained}");
}

/// `reservation-service rewind --to-offset 0` for the system's group and topic.
async fn rewind_to_start(
    system: &mut TestSystem,
) -> Result<Vec<rewind::RewoundPartition>, RewindError> {
    let config = system.reservation_config_mut().clone();
    let bootstrap_servers = system.broker.bootstrap_servers();
    tokio::task::spawn_blocking(move || {
        rewind::rewind(
            &bootstrap_servers,
            &config.kafka_security,
            &config.consumer_group,
            &config.member_events_topic,
            RewindTarget::Offset(0),
        )
    })
    .await
    .expect("rewind task")
}
