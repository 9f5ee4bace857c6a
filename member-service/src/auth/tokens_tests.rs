use std::{io::Write, time::Duration};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::json;

use super::*;
use crate::auth::{AuthSettings, KeySource};

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";
/// A key pair made for these tests only.
const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIK7YAHDlr6WJ1qMRs2TzgYqQTVSjlq7gnN/TOmTLUH3F\n-----END PRIVATE KEY-----\n";
const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA7WpoZPH4pmNhS0csFCTHzTD9NJbig/nMsmKgUH2k0+M=\n-----END PUBLIC KEY-----\n";
const ED25519_X: &str = "7WpoZPH4pmNhS0csFCTHzTD9NJbig_nMsmKgUH2k0-M";

fn settings(key: KeySource) -> AuthSettings {
    AuthSettings {
        key,
        auth_issuer: "issuer".to_owned(),
        auth_audience: "this-service".to_owned(),
        auth_leeway_seconds: 5,
    }
}

fn hs256_verifier() -> Verifier {
    Verifier::from_settings(&settings(KeySource {
        auth_hs256_secret: Some(SecretString::from(SECRET)),
        auth_public_key_file: None,
        auth_jwks_file: None,
    }))
    .expect("verifier")
}

fn request(audience: &str) -> TokenRequest {
    TokenRequest {
        issuer: "issuer".to_owned(),
        audiences: vec!["other-service".to_owned(), audience.to_owned()],
        subject: "desk-1".to_owned(),
        scopes: vec![Scope::Staff, Scope::ReservationsRead],
        lifetime: Duration::from_secs(60),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn signed(claims: serde_json::Value, header: &Header, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, &claims, key).expect("token")
}

#[test]
fn a_minted_token_verifies_with_its_subject_and_scopes() {
    let token = mint_hs256(SECRET.as_bytes(), &request("this-service")).expect("token");
    let caller = hs256_verifier().verify(&token).expect("valid");
    assert_eq!(caller.subject, "desk-1");
    assert!(caller.is_staff() && caller.has(Scope::ReservationsRead));
    assert!(!caller.has(Scope::ReservationsWrite));
}

#[test]
fn wrong_audience_issuer_secret_and_expiry_are_refused_each_by_name() {
    let verifier = hs256_verifier();
    let token = mint_hs256(SECRET.as_bytes(), &request("another-service")).expect("token");
    assert_eq!(verifier.verify(&token), Err(TokenError::WrongAudience));
    let mut wrong_issuer = request("this-service");
    wrong_issuer.issuer = "someone-else".to_owned();
    let token = mint_hs256(SECRET.as_bytes(), &wrong_issuer).expect("token");
    assert_eq!(verifier.verify(&token), Err(TokenError::WrongIssuer));
    let token = mint_hs256(
        b"another-secret-of-at-least-32-bytes!",
        &request("this-service"),
    )
    .expect("token");
    assert_eq!(verifier.verify(&token), Err(TokenError::BadSignature));
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let claims = |exp: i64, nbf: i64| json!({ "iss": "issuer", "aud": "this-service", "sub": "s", "exp": exp, "nbf": nbf });
    let expired = signed(claims(now() - 60, now() - 120), &Header::default(), &key);
    assert_eq!(verifier.verify(&expired), Err(TokenError::Expired));
    let within_leeway = signed(claims(now() - 2, now() - 120), &Header::default(), &key);
    assert!(verifier.verify(&within_leeway).is_ok());
    let early = signed(claims(now() + 600, now() + 300), &Header::default(), &key);
    assert_eq!(verifier.verify(&early), Err(TokenError::NotYetValid));
    assert_eq!(verifier.verify("not.a.token"), Err(TokenError::Malformed));
}

#[test]
fn a_token_without_expiry_or_subject_is_refused() {
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let no_expiry = signed(
        json!({ "iss": "issuer", "aud": "this-service", "sub": "s" }),
        &Header::default(),
        &key,
    );
    assert_eq!(
        hs256_verifier().verify(&no_expiry),
        Err(TokenError::Malformed)
    );
    let no_subject = signed(
        json!({ "iss": "issuer", "aud": "this-service", "exp": now() + 60 }),
        &Header::default(),
        &key,
    );
    assert_eq!(
        hs256_verifier().verify(&no_subject),
        Err(TokenError::Malformed)
    );
}

#[test]
fn a_token_cannot_choose_its_algorithm() {
    // Signed with EdDSA, or unsigned: the HS256 verifier refuses both.
    let ed_key = EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).expect("key");
    let claims = json!({ "iss": "issuer", "aud": "this-service", "sub": "s", "exp": now() + 60 });
    let ed_token = signed(claims.clone(), &Header::new(Algorithm::EdDSA), &ed_key);
    assert_eq!(
        hs256_verifier().verify(&ed_token),
        Err(TokenError::BadSignature)
    );
    let unsigned = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        base64_url(&claims.to_string())
    );
    assert!(hs256_verifier().verify(&unsigned).is_err());
}

fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let value = chunk
            .iter()
            .fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte))
            << (8 * (3 - chunk.len()));
        for index in 0..=chunk.len() {
            out.push(ALPHABET[((value >> (18 - 6 * index)) & 63) as usize] as char);
        }
    }
    out
}

fn file_with(content: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("file");
    file.write_all(content.as_bytes()).expect("write");
    file
}

#[test]
fn an_eddsa_public_key_or_a_jwks_file_verifies_the_issuers_tokens() {
    let ed_key = EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).expect("key");
    let claims = json!({ "iss": "issuer", "aud": "this-service", "sub": "s", "exp": now() + 60, "scope": "operator" });
    let pem = file_with(ED25519_PUBLIC);
    let verifier = Verifier::from_settings(&settings(KeySource {
        auth_hs256_secret: None,
        auth_public_key_file: Some(pem.path().to_owned()),
        auth_jwks_file: None,
    }))
    .expect("verifier from PEM");
    let token = signed(claims.clone(), &Header::new(Algorithm::EdDSA), &ed_key);
    assert!(verifier.verify(&token).expect("valid").has(Scope::Operator));
    // An HS256 token "signed" with the public key's bytes is the classic confusion attack.
    let confused = signed(
        claims.clone(),
        &Header::default(),
        &EncodingKey::from_secret(ED25519_PUBLIC.as_bytes()),
    );
    assert_eq!(verifier.verify(&confused), Err(TokenError::BadSignature));

    let jwks = file_with(&json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": ED25519_X, "kid": "key-1", "use": "sig" }] }).to_string());
    let verifier = Verifier::from_settings(&settings(KeySource {
        auth_hs256_secret: None,
        auth_public_key_file: None,
        auth_jwks_file: Some(jwks.path().to_owned()),
    }))
    .expect("verifier from JWKS");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("key-1".to_owned());
    assert!(
        verifier
            .verify(&signed(claims.clone(), &header, &ed_key))
            .is_ok()
    );
    header.kid = Some("key-2".to_owned());
    assert_eq!(
        verifier.verify(&signed(claims, &header, &ed_key)),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn a_key_file_that_holds_no_public_key_is_refused_at_start_up() {
    let not_a_key = file_with("hello");
    let result = Verifier::from_settings(&settings(KeySource {
        auth_hs256_secret: None,
        auth_public_key_file: Some(not_a_key.path().to_owned()),
        auth_jwks_file: None,
    }));
    assert!(matches!(result, Err(crate::auth::KeyError::Pem { .. })));
    let secret_in_jwks =
        file_with(&json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0", "kid": "k" }] }).to_string());
    let result = Verifier::from_settings(&settings(KeySource {
        auth_hs256_secret: None,
        auth_public_key_file: None,
        auth_jwks_file: Some(secret_in_jwks.path().to_owned()),
    }));
    assert!(matches!(result, Err(crate::auth::KeyError::JwksKey { .. })));
}
