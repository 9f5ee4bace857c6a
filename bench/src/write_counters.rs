//! Write amplification, from the databases' own statistics: rows inserted, updated and deleted
//! per table and statements executed, per member deletion.
//!
//! PostgreSQL: `pg_stat_user_tables` and `pg_stat_statements` of the two databases (the bench's
//! own statements, marked `/* bench */`, left out). Table statistics reach the shared view when
//! a backend flushes them, which an idle backend does only after `PGSTAT_IDLE_INTERVAL`
//! (10 s), so each reading waits that long after the load.
//! SQLite has no such views and the services' connections are in other processes: counting
//! triggers (one counter row per table and operation) are added for the counted phase only,
//! after the timed ones, since they are writes themselves. Statements are not counted there.

use std::time::Duration;

use sqlx::{AnyPool, Connection, PgConnection, Row};

use crate::{
    amplification::{Counters, RowWrites},
    error::BenchError,
    system::BenchSystem,
};

/// An idle PostgreSQL backend flushes its table statistics after 10 s; one second of margin.
const STATISTICS_SETTLE: Duration = Duration::from_secs(11);

/// Reads the counters of both databases; on PostgreSQL after the statistics have settled.
pub async fn read(system: &BenchSystem) -> Result<Counters, BenchError> {
    let mut counters = Counters::default();
    if system.postgres_admin_url.is_some() {
        tokio::time::sleep(STATISTICS_SETTLE).await;
        for (database, url) in [
            ("members", &system.member_database_url),
            ("reservations", &system.reservation_database_url),
        ] {
            read_postgres(database, url, &mut counters).await?;
        }
    } else {
        for (database, pool) in [
            ("members", &system.member_pool),
            ("reservations", &system.reservation_pool),
        ] {
            read_sqlite(database, pool, &mut counters).await?;
        }
    }
    Ok(counters)
}

async fn read_postgres(
    database: &str,
    url: &str,
    counters: &mut Counters,
) -> Result<(), BenchError> {
    let mut connection = PgConnection::connect(url)
        .await
        .map_err(BenchError::database("a statistics connection"))?;
    for row in sqlx::query(
        "/* bench */ SELECT relname::text AS name, n_tup_ins, n_tup_upd, n_tup_del \
         FROM pg_stat_user_tables",
    )
    .fetch_all(&mut connection)
    .await
    .map_err(BenchError::database("pg_stat_user_tables"))?
    {
        let name: String = row.try_get("name").unwrap_or_default();
        let count = |column: &str| row.try_get::<i64, _>(column).unwrap_or_default() as f64;
        counters.tables.insert(
            (database.to_owned(), name),
            RowWrites {
                inserted: count("n_tup_ins"),
                updated: count("n_tup_upd"),
                deleted: count("n_tup_del"),
            },
        );
    }
    // The view lists every database's statements; this one's only, without the bench's own.
    for row in sqlx::query(
        "/* bench */ SELECT query, SUM(calls)::bigint AS calls FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND query NOT LIKE '/* bench */%' GROUP BY query",
    )
    .fetch_all(&mut connection)
    .await
    .map_err(BenchError::database(
        "pg_stat_statements (the server needs shared_preload_libraries = pg_stat_statements)",
    ))? {
        let query: String = row.try_get("query").unwrap_or_default();
        let calls: i64 = row.try_get("calls").unwrap_or_default();
        *counters
            .statements
            .entry((database.to_owned(), statement_shape(&query)))
            .or_default() += calls as f64;
    }
    let _ = connection.close().await;
    Ok(())
}

/// One statement however many rows or values it binds: `IN ($2, $3)` and `IN ($2)`, or
/// `VALUES ($1, $2), ($3, $4)` and `VALUES ($1, $2)`, are the same statement in the counts.
pub fn statement_shape(query: &str) -> String {
    let mut shape = String::with_capacity(query.len());
    let mut characters = query.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '$' && characters.peek().is_some_and(char::is_ascii_digit) {
            while characters.peek().is_some_and(char::is_ascii_digit) {
                characters.next();
            }
            shape.push('?');
        } else {
            shape.push(character);
        }
    }
    shape = shape.split_whitespace().collect::<Vec<_>>().join(" ");
    for (repeated, single) in [("?, ?", "?"), ("(?), (?)", "(?)")] {
        while shape.contains(repeated) {
            shape = shape.replace(repeated, single);
        }
    }
    shape
}

async fn read_sqlite(
    database: &str,
    pool: &AnyPool,
    counters: &mut Counters,
) -> Result<(), BenchError> {
    let rows = sqlx::query("SELECT table_name, operation, total FROM bench_row_writes")
        .fetch_all(pool)
        .await
        .map_err(BenchError::database("the counting triggers' totals"))?;
    for row in rows {
        let table: String = row.try_get("table_name").unwrap_or_default();
        let operation: String = row.try_get("operation").unwrap_or_default();
        let total = row.try_get::<i64, _>("total").unwrap_or_default() as f64;
        let writes = counters
            .tables
            .entry((database.to_owned(), table))
            .or_default();
        match operation.as_str() {
            "insert" => writes.inserted = total,
            "update" => writes.updated = total,
            _ => writes.deleted = total,
        }
    }
    Ok(())
}

/// `pg_stat_statements` in each PostgreSQL database (nothing on SQLite), before any load: a
/// server without the library preloaded fails the run at once.
pub async fn prepare(system: &BenchSystem) -> Result<(), BenchError> {
    if system.postgres_admin_url.is_some() {
        for url in [
            &system.member_database_url,
            &system.reservation_database_url,
        ] {
            let mut connection = PgConnection::connect(url)
                .await
                .map_err(BenchError::database("a statistics connection"))?;
            sqlx::query("/* bench */ CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                .execute(&mut connection)
                .await
                .map_err(BenchError::database("CREATE EXTENSION pg_stat_statements"))?;
            sqlx::query("/* bench */ SELECT COUNT(*) FROM pg_stat_statements")
                .execute(&mut connection)
                .await
                .map_err(BenchError::database(
                    "pg_stat_statements (the server needs shared_preload_libraries = pg_stat_statements)",
                ))?;
            let _ = connection.close().await;
        }
    }
    Ok(())
}

/// The counting triggers in each SQLite file: added only for the counted phase, after the timed
/// ones, since each counted row is one more write.
pub async fn prepare_counting_triggers(system: &BenchSystem) -> Result<(), BenchError> {
    for pool in [&system.member_pool, &system.reservation_pool] {
        install_counting_triggers(pool).await?;
    }
    Ok(())
}

async fn install_counting_triggers(pool: &AnyPool) -> Result<(), BenchError> {
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' AND name <> 'bench_row_writes'",
    )
    .fetch_all(pool)
    .await
    .map_err(BenchError::database("the table list"))?
    .iter()
    .filter_map(|row| row.try_get("name").ok())
    .collect();
    let mut statements = vec![
        "CREATE TABLE IF NOT EXISTS bench_row_writes (table_name TEXT NOT NULL, \
         operation TEXT NOT NULL, total INTEGER NOT NULL, PRIMARY KEY (table_name, operation))"
            .to_owned(),
    ];
    for table in &tables {
        for (operation, event) in [
            ("insert", "INSERT"),
            ("update", "UPDATE"),
            ("delete", "DELETE"),
        ] {
            statements.push(format!(
                "INSERT OR IGNORE INTO bench_row_writes VALUES ('{table}', '{operation}', 0)"
            ));
            statements.push(format!(
                "CREATE TRIGGER IF NOT EXISTS bench_count_{operation}_{table} AFTER {event} ON \"{table}\" \
                 BEGIN UPDATE bench_row_writes SET total = total + 1 \
                 WHERE table_name = '{table}' AND operation = '{operation}'; END"
            ));
        }
    }
    for statement in statements {
        sqlx::query(&statement)
            .execute(pool)
            .await
            .map_err(BenchError::database("the counting triggers"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::statement_shape;

    #[test]
    fn statements_that_differ_only_in_how_many_values_they_bind_are_one() {
        assert_eq!(
            statement_shape("UPDATE outbox SET published_at = $1 WHERE sequence IN ($2, $3, $4)"),
            statement_shape("UPDATE outbox SET published_at = $1 WHERE sequence IN ($2)"),
        );
        assert_eq!(
            statement_shape("INSERT INTO t (a) VALUES ($1), ($2), ($3) ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING",
        );
        assert_ne!(
            statement_shape("SELECT a FROM t WHERE a = $1"),
            statement_shape("SELECT a FROM u WHERE a = $1"),
        );
    }
}
