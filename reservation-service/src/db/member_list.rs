//! Queries on the local member list.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::time;
use crate::domain::{KnownMember, MemberStatus};

/// A row of the member list, as the `Any` driver reads it.
#[derive(sqlx::FromRow)]
struct KnownMemberRow {
    member_id: String,
    status: String,
    version: i64,
}

impl TryFrom<KnownMemberRow> for KnownMember {
    type Error = sqlx::Error;

    fn try_from(row: KnownMemberRow) -> Result<Self, Self::Error> {
        Ok(Self {
            status: MemberStatus::parse(&row.status).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown member status {:?}", row.status).into())
            })?,
            version: row.version,
        })
    }
}

pub async fn find(
    connection: &mut AnyConnection,
    member_id: Uuid,
) -> Result<Option<KnownMember>, sqlx::Error> {
    sqlx::query_as::<_, KnownMemberRow>(
        "SELECT member_id, status, version FROM known_members WHERE member_id = $1",
    )
    .bind(member_id.to_string())
    .fetch_optional(connection)
    .await?
    .map(KnownMember::try_from)
    .transpose()
}

/// Locks an active member's row until the transaction ends and says whether it was active.
///
/// A reservation is made under this lock, and a deletion takes it before cancelling, so a
/// reservation can never slip in beside a deletion that is being applied.
pub async fn lock_if_active(
    connection: &mut AnyConnection,
    member_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE known_members SET status = status WHERE member_id = $1 AND status = 'active'",
    )
    .bind(member_id.to_string())
    .execute(connection)
    .await
    .map(|result| result.rows_affected() == 1)
}

/// The known members among `member_ids`, by id.
pub async fn find_all(
    connection: &mut AnyConnection,
    member_ids: &[String],
) -> Result<std::collections::HashMap<String, KnownMember>, sqlx::Error> {
    if member_ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT member_id, status, version FROM known_members WHERE member_id IN ({})",
        super::placeholders::list(1, super::placeholders::padded_count(member_ids.len()))
    );
    let mut query = sqlx::query_as::<_, KnownMemberRow>(&sql);
    for member_id in super::placeholders::padded(member_ids) {
        query = query.bind(member_id.as_str());
    }
    query
        .fetch_all(connection)
        .await?
        .into_iter()
        .map(|row| Ok((row.member_id.clone(), KnownMember::try_from(row)?)))
        .collect()
}

/// Writes members' new state in one statement; one row per member.
pub async fn upsert_all(
    connection: &mut AnyConnection,
    members: &[(String, KnownMember)],
    updated_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if members.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO known_members (member_id, status, version, updated_at) VALUES {} \
         ON CONFLICT (member_id) DO UPDATE SET status = excluded.status, version = excluded.version, \
         updated_at = excluded.updated_at",
        super::placeholders::rows(members.len(), 4)
    );
    let updated_at = time::format(updated_at);
    let mut query = sqlx::query(&sql);
    for (member_id, known) in members {
        query = query
            .bind(member_id.as_str())
            .bind(known.status.as_str())
            .bind(known.version)
            .bind(updated_at.clone());
    }
    query.execute(connection).await.map(|_| ())
}
