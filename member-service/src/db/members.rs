//! Queries on the members table.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row, any::AnyRow};
use uuid::Uuid;

use super::{format_time, parse_time, parse_uuid};
use crate::domain::{Member, NewMember};

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error("email is already registered")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Inserts a member at version 1.
pub async fn insert(
    connection: &mut AnyConnection,
    new_member: &NewMember,
    created_at: DateTime<Utc>,
) -> Result<Member, InsertError> {
    let member = Member {
        id: Uuid::now_v7(),
        name: new_member.name.as_str().to_owned(),
        email: new_member.email.as_str().to_owned(),
        version: 1,
        created_at,
    };
    sqlx::query(
        "INSERT INTO members (id, name, email, status, version, created_at) \
         VALUES ($1, $2, $3, 'active', $4, $5)",
    )
    .bind(member.id.to_string())
    .bind(&member.name)
    .bind(&member.email)
    .bind(member.version)
    .bind(format_time(member.created_at))
    .execute(connection)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
            InsertError::EmailTaken
        }
        _ => InsertError::Database(error),
    })?;
    Ok(member)
}

/// The active member with this id, if any.
pub async fn find(connection: &mut AnyConnection, id: Uuid) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query(
        "SELECT id, name, email, version, created_at FROM members \
         WHERE id = $1 AND status = 'active'",
    )
    .bind(id.to_string())
    .fetch_optional(connection)
    .await?
    .map(|row| member_from_row(&row))
    .transpose()
}

/// Active members in id order (ids are UUIDv7, so that is registration order), after `after`.
pub async fn list(
    connection: &mut AnyConnection,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Member>, sqlx::Error> {
    let after = after.map(|id| id.to_string()).unwrap_or_default();
    sqlx::query(
        "SELECT id, name, email, version, created_at FROM members \
         WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(connection)
    .await?
    .iter()
    .map(member_from_row)
    .collect()
}

/// Marks the member deleted, erases its name and email, and returns its new version;
/// `None` when there is no active member with this id.
pub async fn delete(
    connection: &mut AnyConnection,
    id: Uuid,
    deleted_at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE members SET status = 'deleted', name = NULL, email = NULL, \
         version = version + 1, deleted_at = $2 \
         WHERE id = $1 AND status = 'active' RETURNING version",
    )
    .bind(id.to_string())
    .bind(format_time(deleted_at))
    .fetch_optional(connection)
    .await?;
    row.map(|row| row.try_get::<i64, _>("version")).transpose()
}

fn member_from_row(row: &AnyRow) -> Result<Member, sqlx::Error> {
    Ok(Member {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        name: row
            .try_get::<Option<String>, _>("name")?
            .unwrap_or_default(),
        email: row
            .try_get::<Option<String>, _>("email")?
            .unwrap_or_default(),
        version: row.try_get("version")?,
        created_at: parse_time(&row.try_get::<String, _>("created_at")?)?,
    })
}
