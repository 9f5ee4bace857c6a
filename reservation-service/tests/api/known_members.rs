//! `/known-members/{id}`: this service's own view of a member.

use axum::http::StatusCode;
use reservation_service::domain::MemberStatus;
use uuid::Uuid;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_member_no_event_told_of_is_not_found() {
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .get(&format!("/known-members/{}", Uuid::now_v7()))
        .await
        .problem();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("no event")),
        "{problem}"
    );
}

#[tokio::test]
async fn a_known_member_shows_its_status_and_version() {
    let app = TestApp::spawn().await;
    let member = app.known_member(MemberStatus::Deleted, 2).await;
    let known = app.get(&format!("/known-members/{member}")).await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(known.body["member_id"], member.to_string());
    assert_eq!(known.body["status"], "deleted");
    assert_eq!(known.body["version"], 2);
}
