//! Several replicas of each service. These need a database that several processes can share,
//! PostgreSQL: run with `TEST_DATABASE_URL=postgres://…` (CI does, with `--include-ignored`).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use event_schema::{MemberEventData, Topic};
use futures::{StreamExt, stream};
use rdkafka::consumer::{BaseConsumer, Consumer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AnyPool, Row};
use stack::tail::{TailSettings, TailedEvent, follow};
use system_tests::{TestSystem, audit::applied_member_changes, eventually, system::DEADLINE};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CONCURRENT_REQUESTS: usize = 16;

fn require_postgres(system: &TestSystem) {
    assert!(
        system.uses_postgres(),
        "scale-out tests need a shared PostgreSQL: set TEST_DATABASE_URL=postgres://…"
    );
}

async fn count(pool: &AnyPool, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .expect("count query")
        .get::<i64, _>(0)
}

/// Each partition of the system's topic with the offset after its last record.
async fn end_offsets(system: &TestSystem) -> BTreeMap<i32, i64> {
    let client = system.broker.client_config();
    let topic = system.topic.clone();
    // fetch_watermarks blocks the calling thread.
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client.create().expect("consumer");
        (0..Topic::MemberEvents.partitions())
            .map(|partition| {
                let (_, end) = consumer
                    .fetch_watermarks(&topic, partition, Duration::from_secs(10))
                    .expect("watermarks");
                (partition, end)
            })
            .collect()
    })
    .await
    .expect("watermarks task")
}

/// Whether `seen` holds the last record of every partition that has one.
fn read_to_end(seen: &[TailedEvent], end_offsets: &BTreeMap<i32, i64>) -> bool {
    end_offsets.iter().all(|(partition, end)| {
        *end == 0
            || seen
                .iter()
                .any(|event| event.partition == *partition && event.offset + 1 >= *end)
    })
}

async fn assigned_partitions(http: &reqwest::Client, base_url: &str) -> Vec<i64> {
    let view: Value = http
        .get(format!("{base_url}/consumer"))
        .send()
        .await
        .expect("GET /consumer")
        .json()
        .await
        .expect("json");
    view["assigned_partitions"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Deletes every member, `CONCURRENT_REQUESTS` at a time; each must answer 204.
async fn delete_all(system: &TestSystem, members: &[Uuid]) {
    let statuses: Vec<StatusCode> = stream::iter(members.iter().copied())
        .map(|member| system.delete_member(member))
        .buffer_unordered(CONCURRENT_REQUESTS)
        .collect()
        .await;
    assert!(
        statuses
            .iter()
            .all(|status| *status == StatusCode::NO_CONTENT),
        "{statuses:?}"
    );
}

fn start_tail(system: &TestSystem, shutdown: CancellationToken) -> Arc<Mutex<Vec<TailedEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let settings = TailSettings {
        bootstrap_servers: system.broker.bootstrap_servers(),
        security: system.broker.access().harness,
        topic: system.topic.clone(),
        group: format!("events-tail-{}", Uuid::now_v7().simple()),
        fetch_wait_max_ms: system.broker.fetch_wait_max_ms(),
    };
    let sink = seen.clone();
    tokio::spawn(async move {
        follow(&settings, shutdown, |event| {
            sink.lock().expect("tail sink").push(event)
        })
        .await
        .expect("tail follows");
    });
    seen
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=postgres://… cargo test -p system-tests --test scale_out -- --include-ignored"]
async fn two_reservation_replicas_split_the_partitions_and_apply_each_deletion_once() {
    let system = TestSystem::start().await;
    require_postgres(&system);
    let replica = system.start_reservation_replica().await;
    let tail_shutdown = CancellationToken::new();
    let tailed = start_tail(&system, tail_shutdown.clone());

    let members: Vec<Uuid> = stream::iter(0..500)
        .map(|_| system.register_member())
        .buffer_unordered(CONCURRENT_REQUESTS)
        .collect()
        .await;
    let pool = system.reservation_pool();
    eventually(
        "both replicas to learn of 500 members",
        DEADLINE,
        || async {
            (count(
                &pool,
                "SELECT COUNT(*) FROM known_members WHERE status = 'active'",
            )
            .await
                == 500)
                .then_some(())
        },
    )
    .await;
    let _: Vec<Uuid> = stream::iter(members.iter().copied())
        .map(|member| system.reserve(member))
        .buffer_unordered(CONCURRENT_REQUESTS)
        .collect()
        .await;

    eprintln!("registered 500 members with a reservation each");
    let (first, second) = eventually("the group to split the partitions", DEADLINE, || async {
        let first = assigned_partitions(&system.http, &system.reservation_url("")).await;
        let second = assigned_partitions(&system.http, &replica.base_url).await;
        (!first.is_empty() && !second.is_empty() && first.len() + second.len() == 3)
            .then_some((first, second))
    })
    .await;
    assert!(
        first.iter().all(|partition| !second.contains(partition)),
        "{first:?} and {second:?} overlap"
    );

    eprintln!("partitions split");
    let (before_kill, after_kill) = members.split_at(250);
    delete_all(&system, before_kill).await;
    eventually(
        "the first 250 deletions to be applied",
        DEADLINE,
        || async {
            (count(
                &pool,
                "SELECT COUNT(*) FROM reservations WHERE status = 'cancelled'",
            )
            .await
                == 250)
                .then_some(())
        },
    )
    .await;
    let replica_url = replica.base_url.clone();
    let replica_stats: Value = system
        .http
        .get(format!("{replica_url}/consumer"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert!(
        replica_stats["applied"].as_u64().unwrap_or_default() > 0,
        "the replica applied nothing: {replica_stats}"
    );

    eprintln!("250 deletions applied; killing the replica");
    replica.kill().await;
    delete_all(&system, after_kill).await;
    eventually("every reservation to be cancelled", DEADLINE, || async {
        (count(&pool, "SELECT COUNT(*) FROM reservations WHERE status = 'cancelled' AND cancellation_reason = 'member_deleted'").await == 500).then_some(())
    })
    .await;
    // Deletions after the kill hash to every partition, so all 500 being cancelled means the
    // survivor took over the killed replica's partitions.
    let deletions = applied_member_changes(&pool)
        .await
        .into_iter()
        .filter(|change| change.deletion)
        .count();
    assert_eq!(deletions, 500, "every deletion applied exactly once");

    let tail_deletions = eventually(
        "the tail group to receive all 500 deletions",
        DEADLINE,
        || async {
            let seen = tailed.lock().expect("tail").clone();
            let deletions: BTreeSet<Uuid> = seen
                .iter()
                .filter_map(|tailed| tailed.event.as_ref().ok())
                .filter(|event| matches!(event.payload, MemberEventData::Deleted(_)))
                .map(|event| event.member_id())
                .collect();
            (deletions.len() == 500).then_some(deletions)
        },
    )
    .await;
    assert_eq!(tail_deletions, members.iter().copied().collect());
    tail_shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=postgres://… cargo test -p system-tests --test scale_out -- --include-ignored"]
async fn two_member_relays_on_one_database_publish_every_event_once_in_member_order() {
    let system = TestSystem::start().await;
    require_postgres(&system);
    let replica = system.start_member_replica().await;
    let tail_shutdown = CancellationToken::new();
    let tailed = start_tail(&system, tail_shutdown.clone());
    let bases = [system.member_url(""), replica.base_url.clone()];

    // Writes land on both replicas; only the leader's relay may publish.
    let members: Vec<Uuid> = stream::iter(0..100)
        .map(|index| {
            let base = bases[index % 2].clone();
            let http = system.http.clone();
            async move {
                let response = http
                    .post(format!("{base}/members"))
                    .json(&json!({ "name": "Replica Test", "email": format!("replica-{}@example.com", Uuid::now_v7().simple()) }))
                    .send()
                    .await
                    .expect("POST /members");
                assert_eq!(response.status(), StatusCode::CREATED);
                let body: Value = response.json().await.expect("json");
                body["id"].as_str().and_then(|id| id.parse::<Uuid>().ok()).expect("id")
            }
        })
        .buffer_unordered(CONCURRENT_REQUESTS)
        .collect()
        .await;
    let deletions: Vec<StatusCode> = stream::iter(members.iter().enumerate())
        .map(|(index, member)| {
            let base = bases[(index + 1) % 2].clone();
            let http = system.http.clone();
            async move {
                http.delete(format!("{base}/members/{member}"))
                    .send()
                    .await
                    .expect("DELETE")
                    .status()
            }
        })
        .buffer_unordered(CONCURRENT_REQUESTS)
        .collect()
        .await;
    assert!(
        deletions
            .iter()
            .all(|status| *status == StatusCode::NO_CONTENT)
    );

    eventually("the outbox to drain", DEADLINE, || async {
        (system.outbox_backlog().await == 0).then_some(())
    })
    .await;
    let mut roles = Vec::new();
    for base in &bases {
        let readiness: Value = system
            .http
            .get(format!("{base}/ready"))
            .send()
            .await
            .expect("GET /ready")
            .json()
            .await
            .expect("readiness json");
        roles.push(
            readiness["outbox_relay"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    roles.sort();
    assert_eq!(roles, ["leader", "standby"], "exactly one relay leads");
    eventually("the tail to receive 200 events", DEADLINE, || async {
        (tailed.lock().expect("tail").len() >= 200).then_some(())
    })
    .await;
    // Anything published twice was acknowledged before its row was stamped, so with the outbox
    // drained it is in the log: count once the tail has read to the end of every partition.
    let end_offsets = end_offsets(&system).await;
    eventually("the tail to read every partition", DEADLINE, || async {
        read_to_end(&tailed.lock().expect("tail"), &end_offsets).then_some(())
    })
    .await;
    tail_shutdown.cancel();
    let seen = tailed.lock().expect("tail").clone();
    let mut publications: BTreeMap<Uuid, usize> = BTreeMap::new();
    let mut per_member: BTreeMap<Uuid, Vec<(i32, i64, u64)>> = BTreeMap::new();
    for tailed in &seen {
        let event = tailed
            .event
            .as_ref()
            .expect("every published event decodes");
        *publications.entry(event.id).or_default() += 1;
        per_member.entry(event.member_id()).or_default().push((
            tailed.partition,
            tailed.offset,
            event.payload.member_version(),
        ));
    }
    assert_eq!(publications.len(), 200, "every event published");
    let duplicated: Vec<_> = publications
        .iter()
        .filter(|(_, times)| **times > 1)
        .collect();
    assert!(
        duplicated.is_empty(),
        "published more than once: {duplicated:?}"
    );
    for (member, mut events) in per_member {
        events.sort();
        let partitions: BTreeSet<i32> = events.iter().map(|(partition, ..)| *partition).collect();
        assert_eq!(
            partitions.len(),
            1,
            "member {member} spread over partitions"
        );
        let versions: Vec<u64> = events.iter().map(|(.., version)| *version).collect();
        assert_eq!(versions, [1, 2], "member {member} events out of order");
    }
    replica.stop().await;
}
