//! Health and readiness with the whole system running: both services ready against a real
//! broker and database. Each service's own API (validation, 404/409/422, pagination, the
//! contested slot) is tested through its router: `member-service/tests/api` and
//! `reservation-service/tests/api`.

use reqwest::StatusCode;
use serde_json::Value;
use system_tests::{TestSystem, eventually, system::DEADLINE};

#[tokio::test(flavor = "multi_thread")]
async fn both_services_report_health_and_readiness() {
    let system = TestSystem::start().await;
    for url in [
        system.member_url("/health"),
        system.reservation_url("/health"),
    ] {
        assert_eq!(
            system.http.get(&url).send().await.expect("health").status(),
            StatusCode::OK
        );
    }
    // Readiness comes from a background check, which has to run once first.
    for url in [
        system.member_url("/ready"),
        system.reservation_url("/ready"),
    ] {
        let body: Value = eventually(&format!("{url} to answer 200"), DEADLINE, || async {
            let response = system.http.get(&url).send().await.ok()?;
            if response.status() != StatusCode::OK {
                return None;
            }
            let body: Value = response.json().await.ok()?;
            (body["database"] != "unknown").then_some(body)
        })
        .await;
        assert_eq!(body["database"], "ok");
        assert_eq!(body["broker"], "ok");
    }
}
