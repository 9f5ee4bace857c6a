//! The key tokens are verified with, from configuration: exactly one of an HS256 secret, a public
//! key PEM (RS256, EdDSA or ES256) or a JWKS file. The algorithm comes from the key, never from
//! the token's header, so a token cannot choose how it is checked.

use std::{collections::HashMap, path::PathBuf};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, JwkSet},
};
use secrecy::{ExposeSecret, SecretString};

/// HS256 needs a key at least as long as its hash (RFC 7518, section 3.2).
pub const MINIMUM_SECRET_BYTES: usize = 32;
/// The issuer `cargo run -p stack` and the tests sign as; set `AUTH_ISSUER` to your issuer's.
pub const DEVELOPMENT_ISSUER: &str = "event-driven-decoupling-dev";
/// Clock skew tolerated on `exp` and `nbf`, at most.
pub const MAXIMUM_LEEWAY_SECONDS: u64 = 300;

#[derive(Clone, Debug, clap::Args)]
pub struct AuthSettings {
    #[command(flatten)]
    pub key: KeySource,

    /// The `iss` every token must carry.
    #[arg(long, env = "AUTH_ISSUER", default_value = DEVELOPMENT_ISSUER)]
    pub auth_issuer: String,

    /// The `aud` every token must include: this service's name unless set.
    #[arg(long, env = "AUTH_AUDIENCE", default_value = env!("CARGO_PKG_NAME"))]
    pub auth_audience: String,

    /// Clock skew tolerated on `exp` and `nbf`, in seconds (at most 300).
    #[arg(long, env = "AUTH_LEEWAY_SECONDS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=MAXIMUM_LEEWAY_SECONDS))]
    pub auth_leeway_seconds: u64,
}

/// At most one; the service refuses to start with none (a service never runs open by
/// accident), while the operator tools that share the settings need none.
#[derive(Clone, Debug, clap::Args)]
#[group(multiple = false)]
pub struct KeySource {
    /// Shared secret for HS256 tokens, at least 32 bytes.
    #[arg(long, env = "AUTH_HS256_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub auth_hs256_secret: Option<SecretString>,

    /// PEM public key of the token issuer: RSA (RS256), Ed25519 (EdDSA) or P-256 (ES256).
    #[arg(long, env = "AUTH_PUBLIC_KEY_FILE")]
    pub auth_public_key_file: Option<PathBuf>,

    /// The token issuer's JWKS document (RSA, Ed25519 or P-256 keys); tokens name theirs by `kid`.
    #[arg(long, env = "AUTH_JWKS_FILE")]
    pub auth_jwks_file: Option<PathBuf>,
}

fn parse_secret(value: &str) -> Result<SecretString, String> {
    if value.len() < MINIMUM_SECRET_BYTES {
        return Err(format!(
            "must be at least {MINIMUM_SECRET_BYTES} bytes (it has {})",
            value.len()
        ));
    }
    Ok(SecretString::from(value.to_owned()))
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no RSA, Ed25519 or P-256 public key in PEM")]
    Pem { path: PathBuf },
    #[error("{path} is not a JWKS document")]
    Jwks {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: key {kid:?} is not a public RSA, Ed25519 or P-256 key with a kid")]
    JwksKey { path: PathBuf, kid: Option<String> },
    #[error("no key source is set: AUTH_HS256_SECRET, AUTH_PUBLIC_KEY_FILE or AUTH_JWKS_FILE")]
    Missing,
}

/// One key and the one algorithm it verifies.
#[derive(Clone)]
pub(super) struct VerifyingKey {
    pub(super) key: DecodingKey,
    pub(super) validation: Validation,
}

/// Verifies bearer tokens: signature with the configured key, `exp`/`nbf` within the leeway,
/// `iss` and `aud` equal to the settings.
#[derive(Clone)]
pub struct Verifier {
    pub(super) single: Option<VerifyingKey>,
    /// JWKS keys by `kid`.
    pub(super) by_kid: HashMap<String, VerifyingKey>,
}

impl Verifier {
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, KeyError> {
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&settings.auth_issuer]);
            validation.set_audience(&[&settings.auth_audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.leeway = settings.auth_leeway_seconds.min(MAXIMUM_LEEWAY_SECONDS);
            validation.validate_nbf = true;
            validation
        };
        let key = &settings.key;
        if let Some(secret) = &key.auth_hs256_secret {
            let key = DecodingKey::from_secret(secret.expose_secret().as_bytes());
            return Ok(Self::single(key, validation(Algorithm::HS256)));
        }
        if let Some(path) = &key.auth_public_key_file {
            let pem = read(path)?;
            let (key, algorithm) =
                public_key_from_pem(&pem).ok_or_else(|| KeyError::Pem { path: path.clone() })?;
            return Ok(Self::single(key, validation(algorithm)));
        }
        if let Some(path) = &key.auth_jwks_file {
            let set: JwkSet =
                serde_json::from_slice(&read(path)?).map_err(|source| KeyError::Jwks {
                    path: path.clone(),
                    source,
                })?;
            let mut by_kid = HashMap::new();
            for jwk in &set.keys {
                let refused = || KeyError::JwksKey {
                    path: path.clone(),
                    kid: jwk.common.key_id.clone(),
                };
                let algorithm = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                    AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    // A shared secret in a key set that is meant to be public is a mistake.
                    _ => return Err(refused()),
                };
                let kid = jwk.common.key_id.clone().ok_or_else(refused)?;
                let key = DecodingKey::from_jwk(jwk).map_err(|_| refused())?;
                by_kid.insert(
                    kid,
                    VerifyingKey {
                        key,
                        validation: validation(algorithm),
                    },
                );
            }
            return Ok(Self {
                single: None,
                by_kid,
            });
        }
        Err(KeyError::Missing)
    }

    fn single(key: DecodingKey, validation: Validation) -> Self {
        Self {
            single: Some(VerifyingKey { key, validation }),
            by_kid: HashMap::new(),
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.clone(),
        source,
    })
}

fn public_key_from_pem(pem: &[u8]) -> Option<(DecodingKey, Algorithm)> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Some((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Some((key, Algorithm::EdDSA));
    }
    DecodingKey::from_ec_pem(pem)
        .ok()
        .map(|key| (key, Algorithm::ES256))
}
