//! `/members`: what a client can rely on.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;
use uuid::Uuid;

use crate::helpers::TestApp;

#[tokio::test]
async fn member_registration_rejects_bad_input_with_a_problem_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({ "name": "  ", "email": "ada@example.com" }), "name"),
        (json!({ "name": "Ada", "email": "not-an-email" }), "email"),
        (json!({ "name": "Ada" }), "body"),
        (json!({ "name": 7, "email": "ada@example.com" }), "body"),
    ];
    for (body, field) in cases {
        let (status, problem) = app.post_json("/members", &body).await.problem();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let response = app.post_raw("/members", "{not json").await;
    assert_eq!(response.problem().0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_refused_registration_publishes_nothing_and_a_duplicate_email_is_a_conflict() {
    let app = TestApp::spawn().await;
    let body = json!({ "name": "Ada Lovelace", "email": "Ada@Example.com" });
    let created = app.post_json("/members", &body).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let member = created.body;
    assert_eq!(member["email"], "ada@example.com");
    assert_eq!(member["name"], "Ada Lovelace");
    assert!(member["created_at"].is_string());

    let outbox_rows = || async {
        sqlx::query("SELECT COUNT(*) AS rows FROM outbox")
            .fetch_one(app.pool())
            .await
            .expect("outbox count")
            .get::<i64, _>("rows")
    };
    assert_eq!(outbox_rows().await, 1);
    let duplicate = json!({ "name": "Someone Else", "email": "ada@example.COM" });
    let (status, problem) = app.post_json("/members", &duplicate).await.problem();
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

#[tokio::test]
async fn a_registered_member_reads_back_as_it_was_created() {
    let app = TestApp::spawn().await;
    let created = app
        .post_json(
            "/members",
            &json!({ "name": "Ada Lovelace", "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().expect("id");
    let read = app.get(&format!("/members/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, created.body);
}

#[tokio::test]
async fn members_are_read_listed_and_erased_on_deletion() {
    let app = TestApp::spawn().await;
    let mut registered = Vec::new();
    for _ in 0..5 {
        registered.push(app.register_member().await);
    }
    let one = app.get(&format!("/members/{}", registered[0])).await;
    assert_eq!(one.status, StatusCode::OK);

    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor
            .as_ref()
            .map(|cursor| format!("&cursor={cursor}"))
            .unwrap_or_default();
        let page = app.get(&format!("/members?limit=2{query}")).await.body;
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

    let delete = |id: Uuid| {
        let app = &app;
        async move { app.delete(&format!("/members/{id}")).await.status }
    };
    assert_eq!(delete(registered[0]).await, StatusCode::NO_CONTENT);
    assert_eq!(delete(registered[0]).await, StatusCode::NOT_FOUND);
    assert_eq!(delete(Uuid::now_v7()).await, StatusCode::NOT_FOUND);
    let gone = app.get(&format!("/members/{}", registered[0])).await;
    assert_eq!(gone.problem().0, StatusCode::NOT_FOUND);

    let row = sqlx::query("SELECT name, email, status FROM members WHERE id = $1")
        .bind(registered[0].to_string())
        .fetch_one(app.pool())
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
    let bad_id = app.get("/members/not-a-uuid").await;
    assert_eq!(bad_id.problem().0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_page_size_outside_its_bounds_or_a_malformed_cursor_is_a_bad_request() {
    let app = TestApp::spawn().await;
    for query in ["limit=0", "limit=501", "limit=many", "cursor=not-a-uuid"] {
        let (status, problem) = app.get(&format!("/members?{query}")).await.problem();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
    }
    let empty = app.get("/members").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["items"], Value::Array(Vec::new()));
    assert_eq!(empty.body.get("next_cursor"), None);
}

#[tokio::test]
async fn an_unknown_route_is_a_problem_too() {
    let app = TestApp::spawn().await;
    let (status, problem) = app.get("/nowhere").await.problem();
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("/nowhere"))
    );
}

#[tokio::test]
async fn unknown_fields_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let body = serde_json::json!({ "name": "Ada", "email": "ada@example.com", "admin": true });
    let (status, problem) = app.post_json("/members", &body).await.problem();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem["detail"]
            .as_str()
            .expect("a detail")
            .contains("unknown field `admin`"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_conflict_does_not_repeat_the_refused_email() {
    let app = TestApp::spawn().await;
    let body = serde_json::json!({ "name": "Ada", "email": "ada.secret@example.com" });
    assert_eq!(
        app.post_json("/members", &body).await.status,
        StatusCode::CREATED
    );
    let (status, problem) = app.post_json("/members", &body).await.problem();
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(!problem.to_string().contains("ada.secret"), "{problem}");
}

#[tokio::test]
async fn invisible_names_and_bidirectional_overrides_are_refused() {
    let app = TestApp::spawn().await;
    for name in [
        "\u{200b}\u{200b}",
        "Ada\u{202e}",
        "Ada\nLovelace",
        "Ada\u{0}",
    ] {
        let body = serde_json::json!({ "name": name, "email": "ada@example.com" });
        let (status, problem) = app.post_json("/members", &body).await.problem();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert_eq!(problem["errors"][0]["field"], "name");
    }
}

#[tokio::test]
async fn a_method_a_route_does_not_have_is_a_problem_with_allow() {
    let app = TestApp::spawn().await;
    let response = app
        .send(
            axum::http::Request::builder()
                .method(axum::http::Method::PUT)
                .uri("/members")
                .body(axum::body::Body::empty())
                .expect("a request"),
        )
        .await;
    assert!(response.headers.contains_key(axum::http::header::ALLOW));
    let (status, _) = response.problem();
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
