//! Opening the database: the backend chosen by the URL, the pool (one connection for SQLite),
//! the pragmas, and the migrations of that backend.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, sqlx::Error> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite: or postgres:".into(),
            ))
        }
    }
}

/// Opens the pool and brings the schema up to date, creating a SQLite file that is not there yet.
pub async fn connect(url: &SecretString, max_connections: u32) -> Result<AnyPool, sqlx::Error> {
    open(
        url.expose_secret(),
        max_connections,
        sqlite_url_creating_file,
    )
    .await
}

/// Opens the pool of a database that must exist already: the operator tools', which would
/// otherwise report on an empty database made on the spot.
pub async fn connect_existing(
    url: &SecretString,
    max_connections: u32,
) -> Result<AnyPool, sqlx::Error> {
    let url = url.expose_secret();
    if let Some(path) = sqlite_file(url).filter(|path| !path.exists()) {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        return Err(sqlx::Error::Configuration(
            format!(
                "database file {} does not exist: set DATABASE_URL to the service's database",
                path.display()
            )
            .into(),
        ));
    }
    open(url, max_connections, sqlite_url_not_creating_file).await
}

/// Whether the database answers.
pub async fn ping(pool: &AnyPool) -> Result<(), sqlx::Error> {
    pool.execute("SELECT 1").await.map(|_| ())
}

async fn open(
    url: &str,
    max_connections: u32,
    sqlite_url: fn(&str) -> String,
) -> Result<AnyPool, sqlx::Error> {
    install_default_drivers();
    let backend = Backend::of_url(url)?;
    let pool = match backend {
        // One connection: SQLite has one writer anyway, and a single connection never meets
        // SQLITE_BUSY from two of our own transactions racing.
        Backend::Sqlite => {
            AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        // secure_delete: erased names and emails are overwritten on disk too.
                        connection
                            .execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;",
                            )
                            .await?;
                        Ok(())
                    })
                })
                .connect(&sqlite_url(url))
                .await?
        }
        Backend::Postgres => {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .connect(url)
                .await?
        }
    };
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.run(&pool).await?;
    Ok(pool)
}

fn sqlite_url_creating_file(url: &str) -> String {
    sqlite_url_with_mode(url, "rwc")
}

fn sqlite_url_not_creating_file(url: &str) -> String {
    sqlite_url_with_mode(url, "rw")
}

fn sqlite_url_with_mode(url: &str, mode: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode={mode}")
    } else {
        format!("{url}?mode={mode}")
    }
}

/// The file a SQLite URL names, read as sqlx reads it; `None` for other databases and in-memory
/// ones.
fn sqlite_file(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:" && !url.contains("mode=memory"))
        .then(|| Path::new(path))
}
