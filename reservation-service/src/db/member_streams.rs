//! The per-member lock that keeps one member's events in order.

use sqlx::AnyConnection;

/// Locks `member_id`'s stream until the transaction ends. Everything that applies, parks or
/// replays a member's events takes it first, so those steps never interleave for one member.
pub async fn lock(connection: &mut AnyConnection, member_id: &str) -> Result<(), sqlx::Error> {
    // An upsert that always writes: it locks an existing row and creates a missing one, in one
    // statement on both backends (SQLite takes the database write lock here).
    sqlx::query(
        "INSERT INTO member_streams (member_id) VALUES ($1) \
         ON CONFLICT (member_id) DO UPDATE SET member_id = excluded.member_id",
    )
    .bind(member_id)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Locks many members' streams in one statement, in a fixed order (sorted ids), so that two
/// transactions locking overlapping sets cannot deadlock.
pub async fn lock_all(
    connection: &mut AnyConnection,
    member_ids: &[String],
) -> Result<(), sqlx::Error> {
    let mut sorted = member_ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO member_streams (member_id) VALUES {} \
         ON CONFLICT (member_id) DO UPDATE SET member_id = excluded.member_id",
        super::placeholders::rows(sorted.len(), 1)
    );
    let mut query = sqlx::query(&sql);
    for member_id in sorted {
        query = query.bind(member_id);
    }
    query.execute(connection).await.map(|_| ())
}
