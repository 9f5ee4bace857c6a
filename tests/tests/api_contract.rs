//! What clients of both APIs can rely on: status codes, RFC 9457 problem bodies naming the
//! field, pagination, erasure, and that a refused change publishes nothing.

use reqwest::{StatusCode, header::CONTENT_TYPE};
use serde_json::{Value, json};
use sqlx::Row;
use system_tests::TestSystem;
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
async fn member_registration_rejects_bad_input_with_a_problem_naming_the_field() {
    let system = TestSystem::start().await;
    let cases = [
        (json!({ "name": "  ", "email": "ada@example.com" }), "name"),
        (json!({ "name": "Ada", "email": "not-an-email" }), "email"),
        (json!({ "name": "Ada" }), "body"),
        (json!({ "name": 7, "email": "ada@example.com" }), "body"),
    ];
    for (body, field) in cases {
        let response = system
            .http
            .post(system.member_url("/members"))
            .json(&body)
            .send()
            .await
            .expect("POST");
        let (status, problem) = problem(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let response = system
        .http
        .post(system.member_url("/members"))
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .expect("POST");
    assert_eq!(problem(response).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_registration_publishes_nothing_and_a_duplicate_email_is_a_conflict() {
    let system = TestSystem::start().await;
    let body = json!({ "name": "Ada Lovelace", "email": "Ada@Example.com" });
    let created = system
        .http
        .post(system.member_url("/members"))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(created.status(), StatusCode::CREATED);
    let member: Value = created.json().await.expect("member");
    assert_eq!(member["email"], "ada@example.com");
    assert_eq!(member["name"], "Ada Lovelace");
    assert!(member["created_at"].is_string());

    let outbox_rows = || async {
        sqlx::query("SELECT COUNT(*) AS rows FROM outbox")
            .fetch_one(&system.member.pool)
            .await
            .expect("outbox count")
            .get::<i64, _>("rows")
    };
    assert_eq!(outbox_rows().await, 1);
    let duplicate = json!({ "name": "Someone Else", "email": "ada@example.COM" });
    let response = system
        .http
        .post(system.member_url("/members"))
        .json(&duplicate)
        .send()
        .await
        .expect("POST");
    let (status, problem) = problem(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("already registered"))
    );
    assert_eq!(
        outbox_rows().await,
        1,
        "the rolled-back registration left an event behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn members_are_read_listed_and_erased_on_deletion() {
    let system = TestSystem::start().await;
    let mut registered = Vec::new();
    for _ in 0..5 {
        registered.push(system.register_member().await);
    }
    let one = system
        .http
        .get(system.member_url(&format!("/members/{}", registered[0])))
        .send()
        .await
        .expect("GET");
    assert_eq!(one.status(), StatusCode::OK);

    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor
            .as_ref()
            .map(|cursor| format!("&cursor={cursor}"))
            .unwrap_or_default();
        let page: Value = system
            .http
            .get(system.member_url(&format!("/members?limit=2{query}")))
            .send()
            .await
            .expect("GET /members")
            .json()
            .await
            .expect("page");
        let items = page["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2);
        listed.extend(items.iter().map(|item| {
            item["id"]
                .as_str()
                .expect("id")
                .parse::<Uuid>()
                .expect("uuid")
        }));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        listed, registered,
        "pages list every member once, in registration order"
    );

    assert_eq!(
        system.delete_member(registered[0]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        system.delete_member(registered[0]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        system.delete_member(Uuid::now_v7()).await,
        StatusCode::NOT_FOUND
    );
    let gone = system
        .http
        .get(system.member_url(&format!("/members/{}", registered[0])))
        .send()
        .await
        .expect("GET");
    assert_eq!(problem(gone).await.0, StatusCode::NOT_FOUND);

    let row = sqlx::query("SELECT name, email, status FROM members WHERE id = $1")
        .bind(registered[0].to_string())
        .fetch_one(&system.member.pool)
        .await
        .expect("member row");
    assert_eq!(
        row.get::<Option<String>, _>("name"),
        None,
        "name survived deletion"
    );
    assert_eq!(
        row.get::<Option<String>, _>("email"),
        None,
        "email survived deletion"
    );
    assert_eq!(row.get::<String, _>("status"), "deleted");
    let bad_id = system
        .http
        .get(system.member_url("/members/not-a-uuid"))
        .send()
        .await
        .expect("GET");
    assert_eq!(problem(bad_id).await.0, StatusCode::BAD_REQUEST);
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
    for url in [
        system.member_url("/ready"),
        system.reservation_url("/ready"),
    ] {
        let response = system.http.get(&url).send().await.expect("ready");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let body: Value = response.json().await.expect("readiness");
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
