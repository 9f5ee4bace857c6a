//! Bearer tokens for the local run: a development HS256 secret kept in the data directory
//! (created on the first start, readable by its owner only, so tokens survive a restart), both
//! services configured with it, and tokens minted with it (`stack token`). A real deployment
//! verifies its issuer's tokens instead (docs/running.md, "Security").

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use member_service::auth::{Scope, TokenRequest, keys::DEVELOPMENT_ISSUER, mint_hs256};
use rand::RngCore;
use uuid::Uuid;

/// The secret's file in the data directory.
pub const SECRET_FILE: &str = "token-secret";
/// How long a printed token stays valid.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// Who a token is for.
#[derive(Clone, Debug)]
pub enum Holder {
    /// Acts for anyone, with every scope: a desk clerk or an operator.
    Staff,
    /// Acts for one member only: its members and reservations scopes.
    Member(Uuid),
    /// Any subject and scopes.
    Custom { subject: String, scopes: Vec<Scope> },
}

impl Holder {
    fn subject_and_scopes(&self) -> (String, Vec<Scope>) {
        match self {
            Holder::Staff => ("staff".to_owned(), Scope::ALL.to_vec()),
            Holder::Member(member_id) => (
                member_id.to_string(),
                vec![
                    Scope::MembersRead,
                    Scope::MembersWrite,
                    Scope::ReservationsRead,
                    Scope::ReservationsWrite,
                ],
            ),
            Holder::Custom { subject, scopes } => (subject.clone(), scopes.clone()),
        }
    }
}

/// The development secret of `data_dir`, created (64 hex digits, mode 0600) if there is none.
pub fn development_secret(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(SECRET_FILE);
    if let Ok(secret) = std::fs::read_to_string(&path) {
        return Ok(secret.trim().to_owned());
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    write_private(&path, &secret)?;
    Ok(secret)
}

fn write_private(path: &PathBuf, secret: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(secret.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A token both services of the local run accept, for `holder`.
pub fn mint(secret: &str, holder: &Holder, lifetime: Duration) -> anyhow::Result<String> {
    let (subject, scopes) = holder.subject_and_scopes();
    let request = TokenRequest {
        issuer: DEVELOPMENT_ISSUER.to_owned(),
        audiences: vec![
            "member-service".to_owned(),
            "reservation-service".to_owned(),
        ],
        subject,
        scopes,
        lifetime,
    };
    mint_hs256(secret.as_bytes(), &request).context("cannot sign the token")
}

/// The settings that make a service of the local run verify tokens minted with `secret`.
pub fn service_settings(secret: &str) -> [(&'static str, String); 2] {
    [
        ("auth-hs256-secret", secret.to_owned()),
        ("auth-issuer", DEVELOPMENT_ISSUER.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_made_once_and_kept_private() {
        let directory = tempfile::tempdir().expect("directory");
        let secret = development_secret(directory.path()).expect("secret");
        assert_eq!(secret.len(), 64);
        assert_eq!(development_secret(directory.path()).expect("again"), secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(directory.path().join(SECRET_FILE))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only");
        }
    }

    #[test]
    fn minted_tokens_are_accepted_by_a_service_configured_by_the_stack() {
        let secret = "0123456789abcdef0123456789abcdef";
        let pairs = service_settings(secret);
        let config = reservation_service::Config::from_pairs(pairs).expect("settings");
        let verifier =
            reservation_service::auth::Verifier::from_settings(&config.auth).expect("verifier");
        let member = Uuid::now_v7();
        let token = mint(secret, &Holder::Member(member), DEFAULT_LIFETIME).expect("token");
        let caller = verifier.verify(&token).expect("accepted");
        assert_eq!(caller.own_member(), Some(member));
        assert!(!caller.is_staff());
        let staff = mint(secret, &Holder::Staff, DEFAULT_LIFETIME).expect("token");
        assert!(verifier.verify(&staff).expect("accepted").is_staff());
    }
}
