//! The end-to-end scenarios against PostgreSQL and Apache Kafka in containers (Testcontainers).
//! Needs a Docker engine:
//!
//! ```sh
//! cargo test -p system-tests --features testcontainers --test containers
//! ```
//!
//! Without one it fails with a single line saying so: a suite that did not run is not a pass.

use std::process::Command;

use system_tests::{
    TestSystem,
    backends::{TestBroker, TestDatabases},
    scenarios,
};
use testcontainers_modules::{
    kafka::apache::{KAFKA_PORT, Kafka},
    postgres::Postgres,
    testcontainers::runners::AsyncRunner,
};

fn docker_engine_available() -> bool {
    Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|output| output.status.success())
}

#[tokio::test(flavor = "multi_thread")]
async fn core_scenarios_pass_against_postgresql_and_kafka_containers() {
    assert!(
        docker_engine_available(),
        "no Docker engine: the Testcontainers suite did NOT run (and is not counted as passed)"
    );
    let postgres = Postgres::default()
        .start()
        .await
        .expect("PostgreSQL container starts");
    let kafka = Kafka::default()
        .start()
        .await
        .expect("Kafka container starts");
    let database_url = format!(
        "postgres://postgres:postgres@127.0.0.1:{}/postgres",
        postgres
            .get_host_port_ipv4(5432)
            .await
            .expect("PostgreSQL port")
    );
    let bootstrap_servers = format!(
        "127.0.0.1:{}",
        kafka
            .get_host_port_ipv4(KAFKA_PORT)
            .await
            .expect("Kafka port")
    );
    let system = || async {
        TestSystem::start_with(
            TestBroker::external(bootstrap_servers.clone()),
            TestDatabases::Postgres {
                admin_url: database_url.parse().expect("database URL"),
            },
        )
        .await
    };
    scenarios::reservations_are_cancelled_when_member_is_deleted(&mut system().await).await;
    scenarios::the_same_member_deleted_event_delivered_twice_has_one_effect(&mut system().await)
        .await;
    scenarios::a_consumer_restarted_mid_stream_resumes_from_its_committed_offset(
        &mut system().await,
    )
    .await;
    scenarios::undecodable_events_are_parked_in_the_dead_letter_topic_and_the_consumer_moves_on(
        &mut system().await,
    )
    .await;
}
