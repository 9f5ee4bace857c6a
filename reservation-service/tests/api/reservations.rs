//! `/reservations`: what a client can rely on.

use axum::http::StatusCode;
use reservation_service::domain::MemberStatus;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;

#[tokio::test]
async fn reservations_follow_their_rules() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;

    let (status, problem_body) = app.try_reserve(Uuid::now_v7(), "room-1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_body["errors"][0]["field"], "member_id");
    assert!(
        problem_body["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("unknown"))
    );

    let backwards = json!({ "member_id": member, "resource": "room-1",
        "starts_at": "2030-01-01T11:00:00Z", "ends_at": "2030-01-01T10:00:00Z" });
    let (status, problem_body) = app.post_json("/reservations", &backwards).await.problem();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_body["errors"][0]["field"], "ends_at");

    let (status, first) = app.try_reserve(member, "room-1").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["status"], "active");
    assert_eq!(first["cancellation_reason"], Value::Null);
    assert_eq!(first["cancelled_at"], Value::Null);
    let overlapping = json!({ "member_id": member, "resource": "room-1",
        "starts_at": "2030-01-01T10:30:00Z", "ends_at": "2030-01-01T12:00:00Z" });
    let response = app.post_json("/reservations", &overlapping).await;
    assert_eq!(response.problem().0, StatusCode::CONFLICT);
    let adjacent = json!({ "member_id": member, "resource": "room-1",
        "starts_at": "2030-01-01T11:00:00Z", "ends_at": "2030-01-01T12:00:00Z" });
    let response = app.post_json("/reservations", &adjacent).await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "back-to-back reservations do not overlap"
    );

    let id = first["id"].as_str().expect("id");
    let cancel = app.post(&format!("/reservations/{id}/cancel")).await;
    assert_eq!(cancel.status, StatusCode::OK);
    let cancelled = cancel.body;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancellation_reason"], "cancelled_by_user");
    let again = app.post(&format!("/reservations/{id}/cancel")).await;
    assert_eq!(again.problem().0, StatusCode::CONFLICT);
    // The freed slot can be reserved again.
    assert_eq!(
        app.try_reserve(member, "room-1").await.0,
        StatusCode::CREATED
    );

    let listed = app
        .get(&format!(
            "/reservations?member_id={member}&status=cancelled"
        ))
        .await
        .body;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let bad_status = app.get("/reservations?status=maybe").await;
    assert_eq!(bad_status.problem().0, StatusCode::BAD_REQUEST);
    let missing = app.get(&format!("/reservations/{}", Uuid::now_v7())).await;
    assert_eq!(missing.problem().0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_deleted_member_cannot_reserve() {
    let app = TestApp::spawn().await;
    let member = app.known_member(MemberStatus::Deleted, 2).await;
    let response = app
        .post_json(
            "/reservations",
            &json!({ "member_id": member, "resource": "room-1",
                "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z" }),
        )
        .await;
    let (status, problem) = response.problem();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "member_id");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("deleted")),
        "{problem}"
    );
}

#[tokio::test]
async fn a_malformed_request_is_a_problem_naming_what_is_wrong() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    let (status, problem) = app
        .post_json(
            "/reservations",
            &json!({ "member_id": member, "resource": "room-1", "starts_at": "2030-01-01T10:00:00Z" }),
        )
        .await
        .problem();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "body");
    let (status, _) = app.get("/reservations/not-a-uuid").await.problem();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn concurrent_requests_for_one_slot_reserve_it_once() {
    let app = TestApp::spawn().await;
    // Different members, so that only the resource lock stands between the requests.
    let mut members = Vec::new();
    for _ in 0..12 {
        members.push(app.active_member().await);
    }
    let resource = format!("contested-{}", Uuid::now_v7().simple());
    let attempts = members
        .iter()
        .map(|member| app.try_reserve(*member, &resource));
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

#[tokio::test]
async fn reservations_are_listed_a_page_at_a_time_in_creation_order() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    let mut made = Vec::new();
    for room in 0..5 {
        let (status, body) = app.try_reserve(member, &format!("room-{room}")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        made.push(body["id"].as_str().expect("id").to_owned());
    }
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor
            .as_ref()
            .map(|cursor| format!("&cursor={cursor}"))
            .unwrap_or_default();
        let page = app
            .get(&format!("/reservations?member_id={member}&limit=2{query}"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2);
        listed.extend(
            items
                .iter()
                .map(|item| item["id"].as_str().expect("id").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed, made, "pages list every reservation once, in order");
    for query in ["limit=0", "limit=501", "cursor=not-a-uuid"] {
        let (status, problem) = app.get(&format!("/reservations?{query}")).await.problem();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
    }
}

/// Before the range was checked, such a row was accepted and every later read of it, and every
/// page holding it, answered 500.
#[tokio::test]
async fn a_time_past_year_9999_is_refused() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    let body = serde_json::json!({
        "member_id": member, "resource": "room-1",
        "starts_at": "2030-01-01T10:00:00Z", "ends_at": "+10000-01-01T00:00:00Z",
    });
    let (status, problem) = app.post_json("/reservations", &body).await.problem();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "ends_at");
}

#[tokio::test]
async fn resources_with_control_characters_or_unknown_fields_are_refused() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    for resource in ["room\u{0}x", "\u{202e}", "\u{200b}\u{200b}"] {
        let (status, body) = app.try_reserve(member, resource).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{resource:?}: {body}"
        );
        assert_eq!(body["errors"][0]["field"], "resource");
    }
    let body = serde_json::json!({
        "member_id": member, "resource": "room-1", "status": "cancelled",
        "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z",
    });
    let (status, problem) = app.post_json("/reservations", &body).await.problem();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem["detail"]
            .as_str()
            .expect("a detail")
            .contains("unknown field `status`")
    );
}
