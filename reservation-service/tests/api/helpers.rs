//! The router on a fresh database, driven with `oneshot` (axum's testing pattern). Members are
//! written into the member list directly, as the consumer would after their events.

use std::sync::Arc;

use axum::{
    body::Body,
    http::{
        HeaderMap, HeaderValue, Method, Request, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE},
    },
};
use reservation_service::{
    auth,
    db::{self, changes::ChangeSignal},
    domain::{KnownMember, MemberStatus},
    events::{ConsumerHealth, ConsumerStats},
    http,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use uuid::Uuid;

pub struct TestApp {
    pub state: http::AppState,
    /// The database's URL, to open it again as a restarted service would.
    pub database_url: String,
    _directory: TempDir,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub content_type: Option<String>,
    pub body: Value,
}

impl TestApp {
    /// A router on its own database, with no consumer behind it.
    pub async fn spawn() -> Self {
        Self::spawn_with_max_streams(100).await
    }

    pub async fn spawn_with_max_streams(max_streams: usize) -> Self {
        let directory = TempDir::new().expect("temporary directory");
        let url = database_url(&directory).await;
        Self {
            state: state(&url, max_streams).await,
            database_url: url,
            _directory: directory,
        }
    }

    /// A router on a database made with [`database_url`] in `directory` and already set up by
    /// the test: the service's migrations run on what it holds.
    pub async fn spawn_on(directory: TempDir, database_url: String) -> Self {
        Self {
            state: state(&database_url, 100).await,
            database_url,
            _directory: directory,
        }
    }

    /// The service started again on the same database: nothing kept in memory survives.
    pub async fn restart(&mut self) {
        self.state.updates.shutdown_streams();
        self.state.pool.close().await;
        self.state = state(&self.database_url, 100).await;
    }

    /// Sends `request` with a staff token, unless it carries an `Authorization` header already.
    pub async fn send(&self, mut request: Request<Body>) -> TestResponse {
        if !request.headers().contains_key(AUTHORIZATION) {
            request
                .headers_mut()
                .insert(AUTHORIZATION, bearer(&staff_token()));
        }
        self.send_as_is(request).await
    }

    /// Sends `request` exactly as it is: without a token unless it has one.
    pub async fn send_as_is(&self, request: Request<Body>) -> TestResponse {
        let response = http::router(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router answers every request");
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("response body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        TestResponse {
            status,
            headers,
            content_type,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(request(Method::GET, uri, Body::empty())).await
    }

    /// A POST without a body.
    pub async fn post(&self, uri: &str) -> TestResponse {
        self.send(request(Method::POST, uri, Body::empty())).await
    }

    pub async fn post_json(&self, uri: &str, body: &Value) -> TestResponse {
        let mut request = request(Method::POST, uri, Body::from(body.to_string()));
        request.headers_mut().insert(
            CONTENT_TYPE,
            "application/json".parse().expect("header value"),
        );
        self.send(request).await
    }

    /// A member in the list as the consumer leaves it after the member's events.
    pub async fn known_member(&self, status: MemberStatus, version: i64) -> Uuid {
        let member_id = Uuid::now_v7();
        let mut connection = self.state.pool.acquire().await.expect("connection");
        db::member_list::upsert_all(
            &mut connection,
            &[(member_id.to_string(), KnownMember { status, version })],
            db::time::now(),
        )
        .await
        .expect("member list row");
        member_id
    }

    pub async fn active_member(&self) -> Uuid {
        self.known_member(MemberStatus::Active, 1).await
    }

    /// Reserves 10:00–11:00 on 1 January 2030, as the system tests' `try_reserve` does.
    pub async fn try_reserve(&self, member_id: Uuid, resource: &str) -> (StatusCode, Value) {
        let response = self
            .post_json(
                "/reservations",
                &json!({
                    "member_id": member_id,
                    "resource": resource,
                    "starts_at": "2030-01-01T10:00:00Z",
                    "ends_at": "2030-01-01T11:00:00Z",
                }),
            )
            .await;
        (response.status, response.body)
    }
}

impl TestResponse {
    /// Checks that this is an RFC 9457 problem and returns its status and body.
    pub fn problem(self) -> (StatusCode, Value) {
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/problem+json"),
            "status {}",
            self.status
        );
        assert_eq!(self.body["status"], self.status.as_u16());
        (self.status, self.body)
    }
}

async fn state(url: &str, max_streams: usize) -> http::AppState {
    let pool = db::connect(&SecretString::from(url.to_owned()), 16)
        .await
        .expect("reservation database");
    http::AppState {
        pool,
        consumer: None,
        stats: Arc::new(ConsumerStats::default()),
        health: Arc::new(ConsumerHealth::default()),
        updates: http::UpdateStreams::new(
            ChangeSignal::default(),
            max_streams,
            CancellationToken::new(),
        ),
        verifier: Arc::new(verifier()),
    }
}

/// A SQLite file in `directory`, or a new PostgreSQL database when `TEST_DATABASE_URL` names a
/// server (as for the system tests), so that the same cases run on both backends.
pub async fn database_url(directory: &TempDir) -> String {
    let Ok(server_url) = std::env::var("TEST_DATABASE_URL") else {
        return format!(
            "sqlite://{}",
            directory.path().join("reservations.db").display()
        );
    };
    let name = format!("test_reservations_{}", Uuid::now_v7().simple());
    let mut server = PgConnection::connect(&server_url)
        .await
        .expect("TEST_DATABASE_URL accepts connections");
    server
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create test database");
    let (server_address, _database) = server_url
        .split('?')
        .next()
        .and_then(|address| address.rsplit_once('/'))
        .expect("TEST_DATABASE_URL is postgres://…/database");
    format!("{server_address}/{name}")
}

/// The secret the router's verifier checks tokens with (tests only).
const TEST_SECRET: &str = "router-tests-hs256-secret-not-for-production";
const TEST_ISSUER: &str = "router-tests";

/// What the router verifies tokens with: [`token`]'s, for this service.
pub fn verifier() -> auth::Verifier {
    auth::Verifier::from_settings(&auth::AuthSettings {
        key: auth::KeySource {
            auth_hs256_secret: Some(SecretString::from(TEST_SECRET)),
            auth_public_key_file: None,
            auth_jwks_file: None,
        },
        auth_issuer: TEST_ISSUER.to_owned(),
        auth_audience: env!("CARGO_PKG_NAME").to_owned(),
        auth_leeway_seconds: 0,
    })
    .expect("a verifier")
}

/// A token for `subject` with `scopes` that the router accepts.
pub fn token(subject: &str, scopes: &[auth::Scope]) -> String {
    auth::mint_hs256(
        TEST_SECRET.as_bytes(),
        &auth::TokenRequest {
            issuer: TEST_ISSUER.to_owned(),
            audiences: vec![env!("CARGO_PKG_NAME").to_owned()],
            subject: subject.to_owned(),
            scopes: scopes.to_vec(),
            lifetime: std::time::Duration::from_secs(3600),
        },
    )
    .expect("a token")
}

/// Every scope, acting for anyone.
pub fn staff_token() -> String {
    token("staff", &auth::Scope::ALL)
}

/// A member's own token: every scope but staff and operator.
pub fn member_token(member_id: Uuid) -> String {
    use auth::Scope;
    token(
        &member_id.to_string(),
        &[
            Scope::MembersRead,
            Scope::MembersWrite,
            Scope::ReservationsRead,
            Scope::ReservationsWrite,
        ],
    )
}

/// `Bearer <token>`, for an `Authorization` header.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value")
}

fn request(method: Method, uri: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .expect("valid request")
}
