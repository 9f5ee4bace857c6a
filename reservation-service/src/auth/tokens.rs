//! Bearer tokens: their claims, verification against the configured key, and minting with an
//! HS256 secret for development and tests (a real deployment's tokens come from its issuer).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use super::{Caller, Scope, Verifier};

/// Why a token was not accepted. The text goes back to the caller: it names what is wrong with
/// the token, never anything about the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the request has no bearer token")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is not meant for this service (audience)")]
    WrongAudience,
    #[error("the token was not issued by the trusted issuer")]
    WrongIssuer,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token names a key this service does not know")]
    UnknownKey,
    #[error("the token is malformed or lacks a claim (exp, iss, aud, sub)")]
    Malformed,
}

/// The claims this service reads; `exp`, `nbf`, `iss` and `aud` are checked by the validation.
#[derive(Deserialize)]
struct VerifiedClaims {
    sub: String,
    #[serde(default)]
    scope: String,
}

impl Verifier {
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let key = match &self.single {
            Some(key) => key,
            None => {
                let header =
                    jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
                let kid = header.kid.ok_or(TokenError::UnknownKey)?;
                self.by_kid.get(&kid).ok_or(TokenError::UnknownKey)?
            }
        };
        let data = jsonwebtoken::decode::<VerifiedClaims>(token, &key.key, &key.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    TokenError::BadSignature
                }
                _ => TokenError::Malformed,
            })?;
        Ok(Caller::new(data.claims.sub, &data.claims.scope))
    }
}

/// What a minted token says.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub issuer: String,
    /// Every service the token is for (`aud`).
    pub audiences: Vec<String>,
    /// A member id for a member's token; any name for staff or a tool.
    pub subject: String,
    pub scopes: Vec<Scope>,
    pub lifetime: Duration,
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a [String],
    iat: u64,
    exp: u64,
    scope: String,
}

/// A signed HS256 token for `request`, valid from now for its lifetime.
pub fn mint_hs256(
    secret: &[u8],
    request: &TokenRequest,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = MintedClaims {
        iss: &request.issuer,
        sub: &request.subject,
        aud: &request.audiences,
        iat: now,
        exp: now.saturating_add(request.lifetime.as_secs()),
        scope: request
            .scopes
            .iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
