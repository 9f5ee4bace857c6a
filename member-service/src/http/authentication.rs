//! The bearer token on a request, verified into a [`Caller`] before the handler runs; refusals
//! as RFC 9457 problems (401 with `WWW-Authenticate`, 403 naming the missing scope).
//!
//! Both services have this file, kept identical by `tests/tests/plumbing_copies.rs` (see
//! `docs/decisions/0001-shared-plumbing.md`).

use std::sync::Arc;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use utoipa::openapi::{
    Content, OpenApi, Ref, ResponseBuilder,
    security::{Http, HttpAuthScheme, SecurityScheme},
};

use super::{ApiError, problem::Problem};
use crate::auth::{Caller, Refusal, TokenError, Verifier};

impl<State> FromRequestParts<State> for Caller
where
    State: Send + Sync,
    Arc<Verifier>: FromRef<State>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<Verifier>::from_ref(state);
        let token = bearer_token(&parts.headers)?;
        Ok(verifier.verify(token)?)
    }
}

/// The token of an `Authorization: Bearer …` header (RFC 6750, section 2.1).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, TokenError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(TokenError::Missing)?
        .to_str()
        .map_err(|_| TokenError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(token.trim())
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        ApiError::Unauthorized {
            detail: error.to_string(),
            invalid_token: error != TokenError::Missing,
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let scope = match &refusal {
            Refusal::MissingScope(scope) => Some(scope.as_str()),
            Refusal::StaffOnly => Some("staff"),
            Refusal::OtherMember { .. } => None,
        };
        ApiError::Forbidden {
            detail: refusal.to_string(),
            scope,
        }
    }
}

/// The name of the security scheme in the OpenAPI document.
pub const SECURITY_SCHEME: &str = "bearer";

/// Adds the bearer scheme to `document`, and a 401 and a 403 answer to every operation that
/// requires it (the scopes each needs are in its `security`).
pub fn document_security(document: &mut OpenApi) {
    let description = "A JWT from the configured issuer (`cargo run -p stack` prints development \
        ones). Scopes, in the space-separated `scope` claim: `members:read`, `members:write`, \
        `reservations:read`, `reservations:write`, `operator`, and `staff` to act for any member; \
        without `staff`, a token acts only for the member named by its `sub`.";
    let mut scheme = Http::new(HttpAuthScheme::Bearer);
    scheme.bearer_format = Some("JWT".to_owned());
    scheme.description = Some(description.to_owned());
    document
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme(SECURITY_SCHEME, SecurityScheme::Http(scheme));
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if operation.security.is_none() {
                continue;
            }
            let answers = [
                (
                    StatusCode::UNAUTHORIZED,
                    "No bearer token, or one that does not verify (signature, expiry, issuer, \
                     audience); `WWW-Authenticate` says why",
                    TokenError::Expired.to_string(),
                ),
                (
                    StatusCode::FORBIDDEN,
                    "The token lacks the scope this operation needs, or acts for another member",
                    Refusal::MissingScope(crate::auth::Scope::Staff).to_string(),
                ),
            ];
            for (status, description, detail) in answers {
                let content = Content::builder()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .example(Some(Problem::example(status, &detail, &[])))
                    .build();
                let response = ResponseBuilder::new()
                    .description(description)
                    .content("application/problem+json", content)
                    .build();
                operation
                    .responses
                    .responses
                    .insert(status.as_str().to_owned(), response.into());
            }
        }
    }
}
