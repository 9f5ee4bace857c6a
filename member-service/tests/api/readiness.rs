//! `/health` and `/ready`: readiness answers from the background check's last report, at once.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use event_schema::Topic;
use member_service::events::{
    BrokerProbe, HealthMonitor, HealthReport, ProducerSettings, create_producer,
};
use tokio_util::sync::CancellationToken;

use crate::helpers::TestApp;

fn report(broker: Result<(), String>, checked_at: Instant) -> HealthReport {
    HealthReport {
        database: Ok(()),
        broker,
        outbox_backlog: Some(3),
        checked_at,
    }
}

#[tokio::test]
async fn the_process_is_healthy_while_not_ready_until_the_first_check() {
    let app = TestApp::spawn().await;
    let health = app.get("/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");

    let ready = app.get("/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["status"], "starting");
    assert_eq!(ready.body["database"], "unknown");
    assert_eq!(ready.body["broker"], "unknown");
}

#[tokio::test]
async fn readiness_reports_the_last_check() {
    let app = TestApp::spawn().await;
    app.state.health.publish(report(Ok(()), Instant::now()));
    let ready = app.get("/ready").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["database"], "ok");
    assert_eq!(ready.body["broker"], "ok");
    assert_eq!(ready.body["outbox_backlog"], 3);
    assert_eq!(ready.body["outbox_relay"], "standby");

    app.state.health.publish(report(
        Err("Local: Broker transport failure".to_owned()),
        Instant::now(),
    ));
    let degraded = app.get("/ready").await;
    assert_eq!(degraded.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(degraded.body["status"], "degraded");
    assert_eq!(degraded.body["database"], "ok");
    assert_eq!(
        degraded.body["broker"], "unavailable",
        "the driver's text stays in the log"
    );
    assert_eq!(degraded.body["outbox_backlog"], 3);
}

#[tokio::test]
async fn a_report_the_check_has_not_renewed_is_not_believed() {
    let app = TestApp::spawn().await;
    let long_ago = Instant::now()
        .checked_sub(HealthReport::STALE_AFTER + Duration::from_secs(1))
        .expect("the clock is past the stale window");
    app.state.health.publish(report(Ok(()), long_ago));
    let ready = app.get("/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["status"], "stale");
}

/// The monitor against a broker address nobody listens on: each of its checks waits for the
/// broker's 2 s metadata timeout, and `/ready` still answers at once, before and after.
#[tokio::test]
async fn readiness_answers_at_once_while_the_broker_is_down() {
    let app = TestApp::spawn().await;
    let unreachable = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let producer = create_producer(&ProducerSettings {
        bootstrap_servers: unreachable.to_string(),
        security: Default::default(),
        idempotence: true,
        linger: Duration::from_millis(1),
        message_timeout: Duration::from_secs(10),
    })
    .expect("producer");
    let monitor = HealthMonitor::new(
        app.pool().clone(),
        BrokerProbe::new(producer, Topic::MemberEvents.name().to_owned()),
        app.state.health.clone(),
    );
    let shutdown = CancellationToken::new();
    let monitoring = tokio::spawn(monitor.run(shutdown.clone()));

    let timed_ready = || async {
        let started = Instant::now();
        let ready = app.get("/ready").await;
        let took = started.elapsed();
        assert!(took < Duration::from_millis(100), "/ready took {took:?}");
        ready
    };
    assert_eq!(timed_ready().await.body["status"], "starting");
    let give_up = Instant::now() + Duration::from_secs(30);
    let degraded = loop {
        let ready = timed_ready().await;
        if ready.body["status"] != "starting" {
            break ready;
        }
        assert!(Instant::now() < give_up, "no health check completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(degraded.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(degraded.body["status"], "degraded");
    assert_eq!(degraded.body["database"], "ok");
    assert_eq!(degraded.body["broker"], "unavailable");
    assert_eq!(degraded.body["outbox_backlog"], 0);

    shutdown.cancel();
    monitoring.await.expect("the monitor stops when told");
}
