//! The per-member lock that keeps one member's events in order.
//!
//! PostgreSQL: a transaction-scoped advisory lock per member (`pg_advisory_xact_lock`), which
//! writes no row (a row lock on a `member_streams` row cost an upsert per member and batch, one
//! of the extra row writes of each deletion). SQLite: the `member_streams` upsert, whose real
//! work there is taking the database's write lock before the transaction reads anything, so that
//! another process (an operator's replay) cannot write between this transaction's reads and its
//! writes.
//!
//! Every instance that handles one member's events must lock the same way: replicas of a version
//! that still writes `member_streams` rows on PostgreSQL must be stopped before this one starts.

use sqlx::AnyConnection;

/// Locks `member_id`'s stream until the transaction ends. Everything that applies, parks or
/// replays a member's events takes it first, so those steps never interleave for one member.
pub async fn lock(connection: &mut AnyConnection, member_id: &str) -> Result<(), sqlx::Error> {
    lock_all(connection, &[member_id.to_owned()]).await
}

/// Locks many members' streams in one statement, in a fixed order, so that two transactions
/// locking overlapping sets cannot deadlock.
pub async fn lock_all(
    connection: &mut AnyConnection,
    member_ids: &[String],
) -> Result<(), sqlx::Error> {
    if member_ids.is_empty() {
        return Ok(());
    }
    if connection.backend_name() == "PostgreSQL" {
        lock_all_advisory(connection, member_ids).await
    } else {
        lock_all_rows(connection, member_ids).await
    }
}

async fn lock_all_advisory(
    connection: &mut AnyConnection,
    member_ids: &[String],
) -> Result<(), sqlx::Error> {
    let mut keys: Vec<i64> = member_ids.iter().map(|id| advisory_key(id)).collect();
    // The same order in every transaction: ascending keys. PostgreSQL evaluates a select list
    // left to right, so the locks are taken in this order.
    keys.sort_unstable();
    keys.dedup();
    let locks = (1..=keys.len())
        .map(|position| format!("pg_advisory_xact_lock(${position})"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {locks}");
    let mut query = sqlx::query(&sql);
    for key in keys {
        query = query.bind(key);
    }
    query.execute(connection).await.map(|_| ())
}

async fn lock_all_rows(
    connection: &mut AnyConnection,
    member_ids: &[String],
) -> Result<(), sqlx::Error> {
    let mut sorted = member_ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    // An upsert that always writes: it locks an existing row and creates a missing one.
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

/// The member's advisory lock key: 64-bit FNV-1a of its id, the same in every process and
/// version (unlike Rust's `Hash`). Two members sharing a key only wait for each other.
pub fn advisory_key(member_id: &str) -> i64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = member_id.bytes().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::advisory_key;

    #[test]
    fn the_advisory_key_of_a_member_never_changes() {
        // Published FNV-1a 64 test vectors: replicas must agree on every key.
        assert_eq!(advisory_key(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
        assert_eq!(advisory_key("a"), 0xaf63_dc4c_8601_ec8c_u64 as i64);
        assert_eq!(advisory_key("foobar"), 0x8594_4171_f739_67e8_u64 as i64);
    }
}
