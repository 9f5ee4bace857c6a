//! Queries on the members table.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::{parse_uuid, time};
use crate::domain::{Member, NewMember};

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error("email is already registered")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A row of the members table, as the `Any` driver reads it.
#[derive(sqlx::FromRow)]
struct MemberRow {
    id: String,
    name: Option<String>,
    email: Option<String>,
    version: i64,
    created_at: String,
}

impl TryFrom<MemberRow> for Member {
    type Error = sqlx::Error;

    fn try_from(row: MemberRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: parse_uuid(&row.id)?,
            // Only deleted members have neither; the queries read active ones.
            name: row.name.unwrap_or_default(),
            email: row.email.unwrap_or_default(),
            version: row.version,
            created_at: time::parse(&row.created_at)?,
        })
    }
}

/// Inserts a member at version 1, registered now.
pub async fn insert(
    connection: &mut AnyConnection,
    new_member: &NewMember,
) -> Result<Member, InsertError> {
    let member = Member {
        id: Uuid::now_v7(),
        name: new_member.name.as_str().to_owned(),
        email: new_member.email.as_str().to_owned(),
        version: 1,
        created_at: time::now(),
    };
    sqlx::query(
        "INSERT INTO members (id, name, email, status, version, created_at) \
         VALUES ($1, $2, $3, 'active', $4, $5)",
    )
    .bind(member.id.to_string())
    .bind(&member.name)
    .bind(&member.email)
    .bind(member.version)
    .bind(time::format(member.created_at))
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
    sqlx::query_as::<_, MemberRow>(
        "SELECT id, name, email, version, created_at FROM members \
         WHERE id = $1 AND status = 'active'",
    )
    .bind(id.to_string())
    .fetch_optional(connection)
    .await?
    .map(Member::try_from)
    .transpose()
}

/// Active members in id order (ids are UUIDv7, so that is registration order), after `after`.
pub async fn list(
    connection: &mut AnyConnection,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Member>, sqlx::Error> {
    let after = after.map(|id| id.to_string()).unwrap_or_default();
    sqlx::query_as::<_, MemberRow>(
        "SELECT id, name, email, version, created_at FROM members \
         WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(connection)
    .await?
    .into_iter()
    .map(Member::try_from)
    .collect()
}

/// Marks the member deleted now, erases its name and email, and returns its new version;
/// `None` when there is no active member with this id.
pub async fn delete(connection: &mut AnyConnection, id: Uuid) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE members SET status = 'deleted', name = NULL, email = NULL, \
         version = version + 1, deleted_at = $2 \
         WHERE id = $1 AND status = 'active' RETURNING version",
    )
    .bind(id.to_string())
    .bind(time::format(time::now()))
    .fetch_optional(connection)
    .await
}
