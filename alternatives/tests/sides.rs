//! The two alternatives' services on SQLite files: the direct call's failure behaviour, the
//! "deleted since" pages, and the poller catching up.

use std::{sync::Arc, time::Duration};

use alternatives::{
    db,
    member_side::{self, DeletionMode, MemberSideState, ReservationClient},
    reservation_side::{Mode, ReservationSide},
    seed,
};
use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::AnyPool;
use tempfile::TempDir;
use tower::ServiceExt;
use uuid::Uuid;

struct Databases {
    _directory: TempDir,
    members: AnyPool,
    reservations: AnyPool,
}

async fn databases() -> Databases {
    let directory = TempDir::new().expect("temporary directory");
    let url = |name: &str| {
        SecretString::from(format!(
            "sqlite://{}",
            directory.path().join(name).display()
        ))
    };
    let members = member_service::db::connect(&url("members.db"), 1)
        .await
        .expect("member database");
    let reservations = reservation_service::db::connect(&url("reservations.db"), 1)
        .await
        .expect("reservation database");
    db::prepare_member_database(&members).await.expect("index");
    Databases {
        _directory: directory,
        members,
        reservations,
    }
}

fn member_router(databases: &Databases, deletion: DeletionMode) -> axum::Router {
    member_side::router(MemberSideState {
        pool: databases.members.clone(),
        deletion,
        injected_delay_ms: Arc::default(),
        polls: Arc::default(),
    })
}

async fn send(
    router: &axum::Router,
    method: &str,
    uri: &str,
) -> (StatusCode, Value, Option<String>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        retry_after,
    )
}

async fn active_reservations(pool: &AnyPool, member_id: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM reservations WHERE member_id = $1 AND status = 'active'",
    )
    .bind(member_id.to_string())
    .fetch_one(pool)
    .await
    .expect("count")
}

async fn is_active_member(pool: &AnyPool, member_id: Uuid) -> bool {
    let mut connection = pool.acquire().await.expect("connection");
    member_service::db::members::find(&mut connection, member_id)
        .await
        .expect("find")
        .is_some()
}

#[tokio::test]
async fn a_direct_deletion_is_refused_and_deletes_nothing_when_reservation_service_is_down() {
    let databases = databases().await;
    let members = seed::populate(&databases.members, &databases.reservations, 1, 2)
        .await
        .expect("set-up");
    // Nothing listens on port 9 (discard) here: the connection is refused.
    let client = ReservationClient::new("http://127.0.0.1:9".to_owned(), Duration::from_secs(1))
        .expect("client");
    let router = member_router(&databases, DeletionMode::CallReservationSide(client));
    let (status, body, retry_after) =
        send(&router, "DELETE", &format!("/members/{}", members[0])).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], 503);
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(is_active_member(&databases.members, members[0]).await);
    assert_eq!(
        active_reservations(&databases.reservations, members[0]).await,
        2
    );
}

#[tokio::test]
async fn a_direct_deletion_cancels_the_reservations_before_it_answers() {
    let databases = databases().await;
    let members = seed::populate(&databases.members, &databases.reservations, 2, 2)
        .await
        .expect("set-up");
    let mut reservation_side =
        ReservationSide::start(databases.reservations.clone(), Mode::AnswerCalls)
            .await
            .expect("reservation side");
    let client = ReservationClient::new(reservation_side.base_url(), Duration::from_secs(2))
        .expect("client");
    let router = member_router(&databases, DeletionMode::CallReservationSide(client));
    let (status, _, _) = send(&router, "DELETE", &format!("/members/{}", members[0])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!is_active_member(&databases.members, members[0]).await);
    assert_eq!(
        active_reservations(&databases.reservations, members[0]).await,
        0
    );
    assert_eq!(
        active_reservations(&databases.reservations, members[1]).await,
        2
    );
    let (status, _, _) = send(&router, "DELETE", &format!("/members/{}", members[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(reservation_side.calls.snapshot().requests, 1);
    reservation_side.stop().await;
}

#[tokio::test]
async fn deleted_members_are_served_a_page_at_a_time_after_the_cursor() {
    let databases = databases().await;
    let members = seed::populate(&databases.members, &databases.reservations, 4, 0)
        .await
        .expect("set-up");
    let router = member_router(&databases, DeletionMode::Local);
    for member_id in &members[..3] {
        let (status, _, _) = send(&router, "DELETE", &format!("/members/{member_id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, first, _) = send(&router, "GET", "/deleted-members?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a full page has a next cursor");
    let (_, second, _) = send(
        &router,
        "GET",
        &format!("/deleted-members?limit=2&cursor={cursor}"),
    )
    .await;
    let ids: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|page| page["items"].as_array().into_iter().flatten())
        .filter_map(|item| item["member_id"].as_str())
        .collect();
    let expected: Vec<String> = members[..3].iter().map(Uuid::to_string).collect();
    assert_eq!(ids, expected);
    assert!(second["next_cursor"].is_null());
    let (status, body, _) = send(&router, "GET", "/deleted-members?cursor=yesterday").await;
    assert_eq!(
        (status, body["status"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(400))
    );
}

#[tokio::test]
async fn the_poller_cancels_the_reservations_of_deleted_members_and_keeps_its_cursor() {
    let databases = databases().await;
    let members = seed::populate(&databases.members, &databases.reservations, 3, 2)
        .await
        .expect("set-up");
    let router = member_router(&databases, DeletionMode::Local);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let member_url = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let deletions = member_router(&databases, DeletionMode::Local);
    for member_id in &members[..2] {
        let (status, _, _) = send(&deletions, "DELETE", &format!("/members/{member_id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let mode = Mode::Poll {
        member_url,
        interval: Duration::from_millis(50),
        look_back: Duration::from_secs(2),
    };
    let mut poller = ReservationSide::start(databases.reservations.clone(), mode)
        .await
        .expect("reservation side");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while active_reservations(&databases.reservations, members[1]).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poller never cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    poller.stop().await;
    server.abort();
    assert_eq!(
        active_reservations(&databases.reservations, members[0]).await,
        0
    );
    assert_eq!(
        active_reservations(&databases.reservations, members[2]).await,
        2
    );
    let mut connection = databases.reservations.acquire().await.expect("connection");
    let cursor = db::load_cursor(&mut connection).await.expect("cursor");
    // The furthest deletion read: the later of the two.
    assert_eq!(cursor.map(|cursor| cursor.member_id), Some(members[1]));
}
