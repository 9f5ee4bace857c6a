//! Recovery from `kill -9`, as a user meets it: the whole local stack (broker included) killed
//! during deletions and started again on its data directory, and reservation-service alone
//! killed and restarted against the configured broker and database. Deletions must flow again
//! on their own within the bound the README states, with nothing lost, applied twice or
//! reordered.

use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::AnyPool;
use system_tests::{
    TestSystem,
    audit::Audit,
    auth, eventually, faults,
    process::{ChildProcess, free_address, wait_until_answering},
    system::DEADLINE,
};
use uuid::Uuid;

/// The README's bound: after a restart, deletions are applied again within this time.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);

struct Stack {
    process: ChildProcess,
    member_url: String,
    reservation_url: String,
}

impl Stack {
    async fn start(
        data: &Path,
        [broker, member, reservation]: [SocketAddr; 3],
        http: &reqwest::Client,
        run: &str,
    ) -> Self {
        let arguments = [
            format!("--data-dir={}", data.display()),
            format!("--broker-address={broker}"),
            format!("--member-address={member}"),
            format!("--reservation-address={reservation}"),
        ];
        let mut process = ChildProcess::spawn(
            Path::new(env!("CARGO_BIN_EXE_stack-process")),
            &arguments,
            &data.join(format!("stack-{run}.log")),
        );
        let member_url = format!("http://{member}");
        let reservation_url = format!("http://{reservation}");
        wait_until_answering(http, &format!("{member_url}/health"), &mut process).await;
        wait_until_answering(http, &format!("{reservation_url}/health"), &mut process).await;
        Self {
            process,
            member_url,
            reservation_url,
        }
    }

    async fn register(&self, http: &reqwest::Client) -> Uuid {
        let body: Value = http
            .post(format!("{}/members", self.member_url))
            .json(&json!({ "name": "Ada Lovelace", "email": format!("ada-{}@example.com", Uuid::now_v7().simple()) }))
            .send()
            .await
            .expect("POST /members")
            .json()
            .await
            .expect("member json");
        body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("member id")
    }

    async fn wait_until_known(&self, http: &reqwest::Client, member: Uuid, within: Duration) {
        let url = format!("{}/known-members/{member}", self.reservation_url);
        eventually("the member to be known", within, || async {
            let response = http.get(&url).send().await.ok()?;
            (response.status() == StatusCode::OK).then_some(())
        })
        .await;
    }

    async fn reserve(&self, http: &reqwest::Client, member: Uuid) {
        let response = http
            .post(format!("{}/reservations", self.reservation_url))
            .json(&json!({
                "member_id": member,
                "resource": format!("room-{}", Uuid::now_v7().simple()),
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T11:00:00Z",
            }))
            .send()
            .await
            .expect("POST /reservations");
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    /// 204, or 404 when a DELETE before the kill had committed without its answer arriving.
    async fn delete(&self, http: &reqwest::Client, member: Uuid) {
        let status = http
            .delete(format!("{}/members/{member}", self.member_url))
            .send()
            .await
            .expect("DELETE /members/{id}")
            .status();
        assert!(
            status == StatusCode::NO_CONTENT || status == StatusCode::NOT_FOUND,
            "DELETE answered {status}"
        );
    }

    async fn active_reservations(&self, http: &reqwest::Client, member: Uuid) -> Option<usize> {
        let page: Value = http
            .get(format!(
                "{}/reservations?member_id={member}",
                self.reservation_url
            ))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        Some(
            page["items"]
                .as_array()?
                .iter()
                .filter(|reservation| reservation["status"] == "active")
                .count(),
        )
    }
}

async fn sqlite_pool(path: &Path) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("SQLite file")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_stack_resumes_on_its_own_after_kill_9() {
    let data = tempfile::tempdir().expect("data directory");
    let addresses = [free_address(), free_address(), free_address()];
    // The stack signs with the data directory's secret: the harness's, written before it starts.
    std::fs::write(data.path().join(stack::tokens::SECRET_FILE), auth::SECRET)
        .expect("token secret");
    let http = reqwest::Client::builder()
        .default_headers(auth::authorization(&auth::staff_token()))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let stack = Stack::start(data.path(), addresses, &http, "first").await;

    let mut members = Vec::new();
    for _ in 0..30 {
        let member = stack.register(&http).await;
        stack.wait_until_known(&http, member, DEADLINE).await;
        stack.reserve(&http, member).await;
        members.push(member);
    }
    let (deleted, kept) = members.split_at(25);
    for member in &deleted[..10] {
        stack.delete(&http, *member).await;
    }
    // Deletions go on while the process is killed; some answers never arrive.
    let answered = Arc::new(AtomicUsize::new(0));
    let deleting = {
        let (http, url, answered) = (http.clone(), stack.member_url.clone(), answered.clone());
        let batch = deleted[10..20].to_vec();
        tokio::spawn(async move {
            for member in batch {
                if http
                    .delete(format!("{url}/members/{member}"))
                    .send()
                    .await
                    .is_err()
                {
                    break;
                }
                answered.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    eventually("a few deletions to be answered", DEADLINE, || async {
        (answered.load(Ordering::SeqCst) >= 3).then_some(())
    })
    .await;
    stack.process.kill().await;
    let _ = deleting.await;

    let restarted = Instant::now();
    let stack = Stack::start(data.path(), addresses, &http, "second").await;
    for member in &deleted[10..] {
        stack.delete(&http, *member).await;
    }
    let newcomer = stack.register(&http).await;
    stack
        .wait_until_known(&http, newcomer, RECOVERY_BOUND)
        .await;
    for member in deleted {
        eventually(
            "the deleted member's reservation to be cancelled",
            RECOVERY_BOUND.saturating_sub(restarted.elapsed()),
            || async { (stack.active_reservations(&http, *member).await? == 0).then_some(()) },
        )
        .await;
    }
    let recovered_in = restarted.elapsed();
    for member in kept {
        assert_eq!(stack.active_reservations(&http, *member).await, Some(1));
    }
    eventually("the restarted stack to be ready", DEADLINE, || async {
        let response = http
            .get(format!("{}/ready", stack.reservation_url))
            .send()
            .await
            .ok()?;
        (response.status() == StatusCode::OK).then_some(())
    })
    .await;

    let audit = Audit::of(
        &sqlite_pool(&data.path().join("members.db")).await,
        &sqlite_pool(&data.path().join("reservations.db")).await,
    )
    .await;
    println!(
        "stack killed (kill -9) during deletions, restarted: every deletion applied {:.1} s after the restart; {audit}",
        recovered_in.as_secs_f64()
    );
    assert_eq!(audit.deletions, 25);
    assert_eq!(audit.reservations_cancelled, 25);
    assert_eq!(
        (audit.lost, audit.applied_twice, audit.order_violations),
        (0, 0, 0)
    );
    stack.process.terminate().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reservation_service_resumes_on_its_own_after_kill_9() {
    let mut system = TestSystem::start().await;
    system.stop_reservation_service().await;
    // Static membership: the restarted process takes its old place in the group at once,
    // instead of waiting for the broker to give up on the killed one (the session timeout).
    // Without it (the embedded broker), the group waits for the killed member's session to
    // time out: the shortest Kafka allows by default keeps that wait, and the test, short.
    let static_membership = system.broker.supports_static_membership();
    let config = system.reservation_config_mut();
    if static_membership {
        config.kafka_group_instance_id = Some(format!("replica-{}", Uuid::now_v7().simple()));
    } else {
        config.kafka_session_timeout = std::time::Duration::from_secs(6);
    }
    let program = Path::new(env!("CARGO_BIN_EXE_reservation-service-process"));
    system.start_reservation_process(program).await;

    let members = faults::populate(&system, 20, 2).await;
    faults::delete_all(&system, &members[..5]).await;
    system.kill_reservation_service().await;
    faults::delete_all(&system, &members[5..15]).await;

    let restarted = Instant::now();
    system.start_reservation_process(program).await;
    faults::delete_all(&system, &members[15..]).await;
    let audit = faults::settle(&system, RECOVERY_BOUND).await;
    let recovered_in = restarted.elapsed();
    audit.report(
        "reservation-service process killed",
        &format!(
            "kill -9 of the process; every deletion applied {:.1} s after the restart",
            recovered_in.as_secs_f64()
        ),
    );
    assert!(
        recovered_in <= RECOVERY_BOUND,
        "recovered in {recovered_in:?}"
    );
    assert_eq!(audit.deletions, 20);
    assert_eq!(audit.reservations_cancelled, 40);
    assert_eq!(
        (audit.lost, audit.applied_twice, audit.order_violations),
        (0, 0, 0)
    );
    system.stop_reservation_service().await;
}
