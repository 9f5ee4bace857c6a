//! `/updates`: order, resuming with `Last-Event-ID` after a restart, nothing from rolled-back
//! transactions, the cap on streams, a stalled client's bound, and shutdown.

use std::time::Duration;

use axum::{
    body::{Body, BodyDataStream},
    http::{Method, Request, StatusCode, header},
};
use futures::StreamExt;
use reservation_service::{
    db,
    domain::{CancellationReason, Change},
    http,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use uuid::Uuid;

use crate::{
    helpers::{self, TestApp},
    openapi_checks,
};

const WAIT: Duration = Duration::from_secs(10);

/// One SSE event as the stream sent it.
#[derive(Debug)]
struct Update {
    id: Option<i64>,
    kind: String,
    data: Value,
}

/// Reads events off a response body.
struct Events {
    body: BodyDataStream,
    buffer: String,
}

impl Events {
    /// The next event, comments skipped; `None` when the stream ended.
    async fn next(&mut self) -> Option<Update> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.parse().expect("a numeric id"));
                    } else if let Some(value) = line.strip_prefix("event: ") {
                        kind = value.to_owned();
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data.push_str(value);
                    }
                }
                if kind.is_empty() {
                    continue;
                }
                let data = serde_json::from_str(&data).expect("JSON data");
                return Some(Update { id, kind, data });
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .expect("the stream sends within the deadline")?
                .expect("the body reads");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// The next change (an event with an id), skipping `lag` events.
    async fn next_change(&mut self) -> Update {
        loop {
            let update = self.next().await.expect("the stream goes on");
            if update.id.is_some() {
                return update;
            }
            assert_eq!(update.kind, "lag", "only lag events come without an id");
        }
    }
}

async fn open(app: &TestApp, uri: &str, last_event_id: Option<i64>) -> Events {
    let mut request = Request::builder().uri(uri).header(
        header::AUTHORIZATION,
        helpers::bearer(&helpers::staff_token()),
    );
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = http::router(app.state.clone())
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    Events {
        body: response.into_body().into_data_stream(),
        buffer: String::new(),
    }
}

/// Reserves `resource` 10:00–11:00 on 1 January 2030; the reservation's id.
async fn reserve(app: &TestApp, member_id: Uuid, resource: &str) -> String {
    let (status, body) = app.try_reserve(member_id, resource).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

/// A member deleted as the consumer deletes one: the deletion and its cancellations in one
/// transaction, recorded in the change log.
async fn delete_member(app: &TestApp, member_id: Uuid, deleted_at: &str) {
    let at = db::parse_time(deleted_at).expect("a time");
    let mut transaction = app.state.pool.begin().await.expect("a transaction");
    let cancelled = db::reservations::cancel_all_of_members(
        &mut transaction,
        &[member_id.to_string()],
        CancellationReason::MemberDeleted,
        db::time::now(),
    )
    .await
    .expect("cancelled");
    let mut changes = vec![Change::MemberDeleted {
        member_id,
        version: 2,
        at,
    }];
    changes.extend(
        cancelled
            .into_iter()
            .map(|reservation| Change::ReservationCancelled {
                reservation,
                member_deleted_at: Some(at),
            }),
    );
    db::changes::record(&mut transaction, &changes, db::time::now())
        .await
        .expect("recorded");
    transaction.commit().await.expect("committed");
    app.state.updates.signal.committed();
}

#[tokio::test]
async fn changes_are_streamed_in_commit_order_with_their_ids() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    let mut events = open(&app, "/updates", None).await;
    let first = reserve(&app, member, "room-1").await;
    let second = reserve(&app, member, "room-2").await;
    let cancelled = app.post(&format!("/reservations/{first}/cancel")).await;
    assert_eq!(cancelled.status, StatusCode::OK);
    delete_member(&app, member, "2030-01-01T09:00:00Z").await;

    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(events.next_change().await);
    }
    let ids: Vec<i64> = seen.iter().filter_map(|update| update.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let kinds: Vec<&str> = seen.iter().map(|update| update.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "reservation_created",
            "reservation_created",
            "reservation_cancelled",
            "member_deleted",
            "reservation_cancelled",
        ]
    );
    assert_eq!(seen[0].data["reservation"]["id"], first.as_str());
    assert_eq!(
        seen[2].data["reservation"]["cancellation_reason"],
        "cancelled_by_user"
    );
    assert_eq!(seen[3].data["at"], "2030-01-01T09:00:00.000000Z");
    let cancellation = &seen[4].data;
    assert_eq!(cancellation["reservation"]["id"], second.as_str());
    assert_eq!(
        cancellation["reservation"]["cancellation_reason"],
        "member_deleted"
    );
    assert_eq!(
        cancellation["member_deleted_at"],
        "2030-01-01T09:00:00.000000Z"
    );
    assert_eq!(cancellation["id"], 5);
}

#[tokio::test]
async fn a_client_resumes_with_last_event_id_after_the_service_restarted() {
    let mut app = TestApp::spawn().await;
    let member = app.active_member().await;
    let other = app.active_member().await;
    let mut events = open(&app, "/updates", None).await;
    reserve(&app, member, "room-1").await;
    reserve(&app, other, "room-2").await;
    let last_seen = events.next_change().await.id.expect("an id");
    assert_eq!(last_seen, 1);

    app.restart().await;
    assert!(
        events.next().await.is_none(),
        "the restart ended the stream"
    );
    reserve(&app, member, "room-3").await;

    let mut resumed = open(&app, "/updates", Some(last_seen)).await;
    let missed = [resumed.next_change().await, resumed.next_change().await];
    assert_eq!(missed.map(|update| update.id), [Some(2), Some(3)]);

    let mut filtered = open(&app, &format!("/updates?member_id={member}"), None).await;
    let of_member = [filtered.next_change().await, filtered.next_change().await];
    assert_eq!(of_member.map(|update| update.id), [Some(1), Some(3)]);
}

/// A member's deletion is one row of the log (ids 3 to 5 here): a client that saw only its
/// first change gets the rest of it, with or without the member filter.
#[tokio::test]
async fn a_client_resuming_inside_a_members_deletion_gets_the_rest_of_it() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    reserve(&app, member, "room-1").await;
    reserve(&app, member, "room-2").await;
    delete_member(&app, member, "2030-01-01T09:00:00Z").await;

    let mut resumed = open(&app, "/updates", Some(3)).await;
    let rest = [resumed.next_change().await, resumed.next_change().await];
    assert_eq!(rest.each_ref().map(|update| update.id), [Some(4), Some(5)]);
    assert_eq!(
        rest.each_ref().map(|update| update.kind.as_str()),
        ["reservation_cancelled"; 2]
    );
    assert_eq!(rest[1].data["id"], 5);

    let mut filtered = open(&app, &format!("/updates?member_id={member}"), Some(4)).await;
    assert_eq!(filtered.next_change().await.id, Some(5));
}

/// One transaction's changes of one member are one row, however many: a row longer than a
/// page is sent whole and in order, and what follows it too.
#[tokio::test]
async fn a_row_longer_than_a_page_is_streamed_whole() {
    let app = TestApp::spawn().await;
    let member_id = Uuid::now_v7();
    // Two and a half pages of 100.
    let count = 250;
    let changes: Vec<Change> = (1..=count)
        .map(|version| Change::MemberLearned {
            member_id,
            version,
            at: db::time::now(),
        })
        .collect();
    let mut transaction = app.state.pool.begin().await.expect("a transaction");
    db::changes::record(&mut transaction, &changes, db::time::now())
        .await
        .expect("recorded");
    transaction.commit().await.expect("committed");
    reserve(&app, app.active_member().await, "room-1").await;

    let mut events = open(&app, "/updates", Some(1)).await;
    for id in 2..=count {
        let update = events.next_change().await;
        assert_eq!(update.id, Some(id));
        assert_eq!(update.data["version"], id);
    }
    assert_eq!(events.next_change().await.kind, "reservation_created");
}

#[tokio::test]
async fn nothing_is_sent_for_a_rolled_back_transaction() {
    let app = TestApp::spawn().await;
    let member = app.active_member().await;
    let mut events = open(&app, "/updates", None).await;
    let mut transaction = app.state.pool.begin().await.expect("a transaction");
    let learned = Change::MemberLearned {
        member_id: Uuid::now_v7(),
        version: 1,
        at: db::time::now(),
    };
    db::changes::record(&mut transaction, &[learned], db::time::now())
        .await
        .expect("recorded");
    transaction.rollback().await.expect("rolled back");
    app.state.updates.signal.committed();
    let reservation = reserve(&app, member, "room-1").await;

    let next = events.next_change().await;
    assert_eq!(next.kind, "reservation_created");
    assert_eq!(next.data["reservation"]["id"], reservation.as_str());
    assert_eq!(next.id, Some(1), "the rolled-back change gave its id back");
}

#[tokio::test]
async fn streams_past_the_cap_are_refused_with_a_problem() {
    let app = TestApp::spawn_with_max_streams(1).await;
    let first = open(&app, "/updates", None).await;
    let refused = app.get("/updates").await;
    let document = app.get("/openapi.json").await.body;
    let operation = ("/updates".to_owned(), Method::GET);
    let content_type = refused.content_type.clone();
    openapi_checks::assert_documented(
        &document,
        &operation,
        refused.status,
        content_type.as_deref(),
        &refused.body,
    );
    let (status, body) = refused.problem();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["detail"]
            .as_str()
            .expect("a detail")
            .contains("too many")
    );
    drop(first);
    let _again = open(&app, "/updates", None).await;
}

#[tokio::test]
async fn a_malformed_last_event_id_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let request = Request::builder()
        .uri("/updates")
        .header("last-event-id", "yesterday")
        .body(Body::empty())
        .expect("a request");
    let (status, _) = app.send(request).await.problem();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn streams_end_when_the_service_shuts_down() {
    let app = TestApp::spawn().await;
    let mut events = open(&app, "/updates", None).await;
    assert_eq!(events.next().await.expect("the lag event").kind, "lag");
    app.state.updates.shutdown_streams();
    assert!(events.next().await.is_none());
}

/// A listener whose accepted sockets have small send buffers (they inherit the listener's):
/// otherwise the kernel, growing them, would take in megabytes and hide what the server reads.
fn small_buffered_listener() -> (std::net::SocketAddr, tokio::net::TcpListener) {
    let listening = tokio::net::TcpSocket::new_v4().expect("a socket");
    listening
        .set_send_buffer_size(4096)
        .expect("a small buffer");
    listening
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("a port");
    let listener = listening.listen(16).expect("listening");
    (listener.local_addr().expect("an address"), listener)
}

/// A client with a small receive buffer that opens `/updates`, reads the response's head and
/// then nothing.
async fn stalled_client(address: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a small buffer");
    let mut client = socket.connect(address).await.expect("connected");
    client
        .write_all(
            format!(
                "GET /updates HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\r\n",
                helpers::staff_token()
            )
            .as_bytes(),
        )
        .await
        .expect("request sent");
    let mut head = [0u8; 256];
    let read = client.read(&mut head).await.expect("the response starts");
    assert!(head[..read].starts_with(b"HTTP/1.1 200"));
    client
}

/// `count` changes, recorded and committed in transactions of a thousand.
async fn record_many(app: &TestApp, count: usize) {
    let changes: Vec<Change> = (0..count)
        .map(|_| Change::MemberLearned {
            member_id: Uuid::now_v7(),
            version: 1,
            at: db::time::now(),
        })
        .collect();
    for chunk in changes.chunks(1_000) {
        let mut transaction = app.state.pool.begin().await.expect("a transaction");
        db::changes::record(&mut transaction, chunk, db::time::now())
            .await
            .expect("recorded");
        transaction.commit().await.expect("committed");
        app.state.updates.signal.committed();
    }
}

/// A stream whose client stopped reading cannot be told to end (nothing is written to it), so
/// the service's stop waits for open connections only so long.
#[tokio::test]
async fn a_stalled_client_does_not_hold_up_the_services_stop() {
    let app = TestApp::spawn().await;
    let shutdown = CancellationToken::new();
    let state = http::AppState {
        updates: http::UpdateStreams::new(app.state.updates.signal.clone(), 10, shutdown.clone()),
        ..app.state.clone()
    };
    let (address, listener) = small_buffered_listener();
    let settings = http::ServerSettings {
        header_read_timeout: Duration::from_secs(10),
        drain: Duration::from_millis(500),
    };
    let server = tokio::spawn(http::serve(
        listener,
        http::router(state),
        shutdown.clone(),
        settings,
    ));
    let _client = stalled_client(address).await;
    record_many(&app, 2_000).await;
    shutdown.cancel();
    tokio::time::timeout(WAIT, server)
        .await
        .expect("the server stops despite the stalled client")
        .expect("the server task")
        .expect("served");
}

/// A client that reads nothing while 10,000 changes are written: its stream reads the change
/// log only as fast as the connection takes what it sent, so the server reads about one page
/// beyond what the sockets and hyper's write queue hold; once the client reads, every change
/// arrives, in order.
#[tokio::test]
async fn a_stalled_client_does_not_make_the_server_read_ahead() {
    const CHANGES: usize = 10_000;
    let app = TestApp::spawn().await;
    let router = http::router(app.state.clone());
    let (address, listener) = small_buffered_listener();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut client = stalled_client(address).await;

    record_many(&app, CHANGES).await;
    // Deliberately a fixed pause: what is measured is that nothing more happens while the
    // client reads nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let read_ahead = app.state.updates.changes_read();
    println!("changes read while the client read nothing: {read_ahead} of {CHANGES}");
    assert!(
        read_ahead <= 1_000,
        "the stream read {read_ahead} of {CHANGES} changes for a client that read none"
    );

    let mut received = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while received.len() < CHANGES {
        let read = tokio::time::timeout_at(deadline, client.read(&mut buffer))
            .await
            .expect("everything arrives within a minute")
            .expect("the stream reads");
        assert!(read > 0, "the stream ended early");
        text.push_str(&String::from_utf8_lossy(&buffer[..read]));
        while let Some(start) = text.find("\nid: ") {
            let rest = &text[start + 5..];
            let Some(end) = rest.find('\n') else { break };
            received.push(rest[..end].parse::<i64>().expect("an id"));
            text = rest[end..].to_owned();
        }
    }
    let expected: Vec<i64> = (1..=10_000).collect();
    assert_eq!(received, expected);
}

#[tokio::test]
async fn the_live_page_is_served_from_the_binary_and_reads_the_stream() {
    let app = TestApp::spawn().await;
    let request = Request::builder()
        .uri("/")
        .body(Body::empty())
        .expect("a request");
    let response = http::router(app.state.clone())
        .oneshot(request)
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    let page = String::from_utf8_lossy(&body);
    for part in [
        "new EventSource(\"/updates?access_token=\"",
        "href=\"/docs\"",
        "member_deleted_at",
    ] {
        assert!(page.contains(part), "the page has {part}");
    }
    for reference in ["src=\"http", "href=\"http", "//cdn", "unpkg"] {
        assert!(!page.contains(reference), "the page loads {reference}…");
    }
}

/// Ids are taken under one lock held to the commit, so a change that took a lower id can never
/// commit after a higher one: a second writer waits for the first, and a reader that has passed
/// an id has seen every id below it. (A sequence would let the second commit id 2 while id 1 is
/// still open, and a reader resuming after 2 would never see 1.)
#[tokio::test]
async fn a_writer_takes_its_ids_only_after_the_writer_before_it_committed() {
    let app = TestApp::spawn().await;
    let learned = || Change::MemberLearned {
        member_id: Uuid::now_v7(),
        version: 1,
        at: db::time::now(),
    };
    let mut first = app.state.pool.begin().await.expect("a transaction");
    db::changes::record(&mut first, &[learned()], db::time::now())
        .await
        .expect("recorded");

    let pool = app.state.pool.clone();
    let second_change = learned();
    let second = tokio::spawn(async move {
        let mut second = pool.begin().await.expect("a transaction");
        db::changes::record(&mut second, &[second_change], db::time::now())
            .await
            .expect("recorded");
        second.commit().await.expect("committed");
    });
    // Deliberately a fixed pause: what is shown is that the second writer does not get past
    // the first while the first is open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second writer waits for the first"
    );
    first.commit().await.expect("committed");
    tokio::time::timeout(WAIT, second)
        .await
        .expect("the second writer goes on once the first committed")
        .expect("the second writer succeeded");

    let mut connection = app.state.pool.acquire().await.expect("a connection");
    let ids: Vec<i64> = db::changes::after(&mut connection, 0, None, 10)
        .await
        .expect("the log")
        .iter()
        .map(|change| change.id)
        .collect();
    assert_eq!(ids, [1, 2]);
}
