//! Tokens for tests: every service the harness starts verifies HS256 tokens signed with
//! [`SECRET`], and [`TestSystem::http`](crate::TestSystem) sends a staff token on every request.
//! A test that needs another caller mints one with [`token`] and sends it with
//! [`client_with_token`], or sets the header on one request.

use std::time::Duration;

use member_service::auth::{Scope, TokenRequest, keys::DEVELOPMENT_ISSUER, mint_hs256};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

/// The secret the harness configures both services with (tests only).
pub const SECRET: &str = "system-tests-hs256-secret-not-for-production";

/// How long the harness's tokens are valid: longer than any test.
const LIFETIME: Duration = Duration::from_secs(6 * 60 * 60);

/// The settings that make a service verify the harness's tokens.
pub fn service_settings() -> [(&'static str, String); 2] {
    stack::tokens::service_settings(SECRET)
}

/// A token for `subject` with `scopes`, for both services.
pub fn token(subject: &str, scopes: &[Scope]) -> String {
    mint_hs256(
        SECRET.as_bytes(),
        &TokenRequest {
            issuer: DEVELOPMENT_ISSUER.to_owned(),
            audiences: vec![
                "member-service".to_owned(),
                "reservation-service".to_owned(),
            ],
            subject: subject.to_owned(),
            scopes: scopes.to_vec(),
            lifetime: LIFETIME,
        },
    )
    .expect("a token signs")
}

/// Every scope, acting for anyone.
pub fn staff_token() -> String {
    token("system-tests-staff", &Scope::ALL)
}

/// An HTTP client that sends `token` on every request, and fails a request that hangs.
pub fn client_with_token(token: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(authorization(token))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// `Authorization: Bearer <token>`, for a client's default headers.
pub fn authorization(token: &str) -> HeaderMap {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value");
    value.set_sensitive(true);
    HeaderMap::from_iter([(AUTHORIZATION, value)])
}

/// The harness's usual client: a staff token on every request.
pub fn staff_client() -> reqwest::Client {
    client_with_token(&staff_token())
}
