//! What clients of the APIs can rely on where one service depends on the other: reservations of
//! members that reservation-service learnt of through events, and both services ready against a
//! real broker. Member-service's own API is tested through its router
//! (`member-service/tests/api`).

use reqwest::{StatusCode, header::CONTENT_TYPE};
use serde_json::{Value, json};
use system_tests::{TestSystem, eventually, system::DEADLINE};
use uuid::Uuid;

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response.headers().get(CONTENT_TYPE).cloned();
    assert_eq!(
        content_type.as_ref().and_then(|value| value.to_str().ok()),
        Some("application/problem+json"),
        "status {status}"
    );
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], status.as_u16());
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn reservations_follow_their_rules() {
    let system = TestSystem::start().await;
    let member = system.register_known_member().await;

    let (status, problem_body) = system.try_reserve(Uuid::now_v7(), "room-1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_body["errors"][0]["field"], "member_id");
    assert!(
        problem_body["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("unknown"))
    );

    let backwards = json!({ "member_id": member, "resource": "room-1",
        "starts_at": "2030-01-01T11:00:00Z", "ends_at": "2030-01-01T10:00:00Z" });
    let response = system
        .http
        .post(system.reservation_url("/reservations"))
        .json(&backwards)
        .send()
        .await
        .expect("POST");
    let (status, problem_body) = problem(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_body["errors"][0]["field"], "ends_at");

    let (status, first) = system.try_reserve(member, "room-1").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["status"], "active");
    assert_eq!(first["cancellation_reason"], Value::Null);
    assert_eq!(first["cancelled_at"], Value::Null);
    let overlapping = json!({ "member_id": member, "resource": "room-1",
        "starts_at": "2030-01-01T10:30:00Z", "ends_at": "2030-01-01T12:00:00Z" });
    let response = system
        .http
        .post(system.reservation_url("/reservations"))
        .json(&overlapping)
        .send()
        .await
        .expect("POST");
    assert_eq!(problem(response).await.0, StatusCode::CONFLICT);
    let adjacent = json!({ "member_id": member, "resource": "room-1",
        "starts_at": "2030-01-01T11:00:00Z", "ends_at": "2030-01-01T12:00:00Z" });
    let response = system
        .http
        .post(system.reservation_url("/reservations"))
        .json(&adjacent)
        .send()
        .await
        .expect("POST");
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "back-to-back reservations do not overlap"
    );

    let id = first["id"].as_str().expect("id");
    let cancel = system
        .http
        .post(system.reservation_url(&format!("/reservations/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), StatusCode::OK);
    let cancelled: Value = cancel.json().await.expect("reservation");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancellation_reason"], "cancelled_by_user");
    let again = system
        .http
        .post(system.reservation_url(&format!("/reservations/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(problem(again).await.0, StatusCode::CONFLICT);
    // The freed slot can be reserved again.
    assert_eq!(
        system.try_reserve(member, "room-1").await.0,
        StatusCode::CREATED
    );

    let listed: Value = system
        .http
        .get(system.reservation_url(&format!(
            "/reservations?member_id={member}&status=cancelled"
        )))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("page");
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let bad_status = system
        .http
        .get(system.reservation_url("/reservations?status=maybe"))
        .send()
        .await
        .expect("list");
    assert_eq!(problem(bad_status).await.0, StatusCode::BAD_REQUEST);
    let missing = system
        .http
        .get(system.reservation_url(&format!("/reservations/{}", Uuid::now_v7())))
        .send()
        .await
        .expect("GET");
    assert_eq!(problem(missing).await.0, StatusCode::NOT_FOUND);
}

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

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_for_one_slot_reserve_it_once() {
    let system = TestSystem::start().await;
    // Different members, so that only the resource lock stands between the requests.
    let members = futures::future::join_all((0..12).map(|_| system.register_known_member())).await;
    let resource = format!("contested-{}", Uuid::now_v7().simple());
    let attempts = members
        .iter()
        .map(|member| system.try_reserve(*member, &resource));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    let created = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|status| **status == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 11), "{statuses:?}");
}
