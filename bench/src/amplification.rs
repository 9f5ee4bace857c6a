//! Write amplification per member deletion: rows inserted, updated and deleted per table and
//! statements executed, between two readings of [`write_counters`](crate::write_counters).

use std::{collections::BTreeMap, fmt::Write as _};

/// Rows written to one table.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RowWrites {
    pub inserted: f64,
    pub updated: f64,
    pub deleted: f64,
}

impl RowWrites {
    pub fn total(&self) -> f64 {
        self.inserted + self.updated + self.deleted
    }

    pub fn minus(self, earlier: Self) -> Self {
        Self {
            inserted: self.inserted - earlier.inserted,
            updated: self.updated - earlier.updated,
            deleted: self.deleted - earlier.deleted,
        }
    }

    pub fn per(self, deletions: f64) -> Self {
        Self {
            inserted: self.inserted / deletions,
            updated: self.updated / deletions,
            deleted: self.deleted / deletions,
        }
    }
}

/// The counters of both databases at one moment.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// ("members" or "reservations", table) → rows written.
    pub tables: BTreeMap<(String, String), RowWrites>,
    /// ("members" or "reservations", statement text) → calls; empty on SQLite.
    pub statements: BTreeMap<(String, String), f64>,
}

/// Per member deletion, over the counted phase.
#[derive(Clone, Debug, Default)]
pub struct Amplification {
    pub deletions: usize,
    pub reservations_per_member: usize,
    pub tables: BTreeMap<(String, String), RowWrites>,
    pub statements: BTreeMap<(String, String), f64>,
    pub statements_counted: bool,
}

impl Amplification {
    pub fn between(
        before: &Counters,
        after: &Counters,
        deletions: usize,
        reservations_per_member: usize,
    ) -> Self {
        let per = deletions.max(1) as f64;
        let tables = after
            .tables
            .iter()
            .map(|(key, writes)| {
                let earlier = before.tables.get(key).copied().unwrap_or_default();
                (key.clone(), writes.minus(earlier).per(per))
            })
            .filter(|(_, writes)| writes.total() > 0.0)
            .collect();
        let statements = after
            .statements
            .iter()
            .map(|(key, calls)| {
                let earlier = before.statements.get(key).copied().unwrap_or_default();
                (key.clone(), (calls - earlier) / per)
            })
            .filter(|(_, calls)| *calls > 0.0)
            .collect();
        Self {
            deletions,
            reservations_per_member,
            tables,
            statements,
            statements_counted: !after.statements.is_empty(),
        }
    }

    pub fn rows_written(&self) -> f64 {
        self.tables.values().map(RowWrites::total).sum()
    }

    pub fn statements_executed(&self, database: &str) -> f64 {
        self.statements
            .iter()
            .filter(|((name, _), _)| name == database)
            .map(|(_, calls)| calls)
            .sum()
    }

    /// The writes a deletion cannot do without: the member, and each of its reservations.
    fn floor(&self, database: &str, table: &str) -> f64 {
        match (database, table) {
            ("members", "members") => 1.0,
            ("reservations", "reservations") => self.reservations_per_member as f64,
            _ => 0.0,
        }
    }

    pub fn floor_total(&self) -> f64 {
        1.0 + self.reservations_per_member as f64
    }

    /// `summary.csv` rows.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut metrics = vec![("rows_written_per_deletion".to_owned(), self.rows_written())];
        if self.statements_counted {
            for database in ["members", "reservations"] {
                metrics.push((
                    format!("{database}_statements_per_deletion"),
                    self.statements_executed(database),
                ));
            }
        }
        for ((database, table), writes) in &self.tables {
            for (operation, value) in [
                ("inserted", writes.inserted),
                ("updated", writes.updated),
                ("deleted", writes.deleted),
            ] {
                metrics.push((
                    format!("{database}_{table}_{operation}_per_deletion"),
                    value,
                ));
            }
        }
        metrics
    }

    pub fn table(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "rows written per deletion ({} deletions counted): {:.2} (floor {:.0}: the member and its reservations)",
            self.deletions,
            self.rows_written(),
            self.floor_total(),
        );
        let _ = writeln!(
            text,
            "  {:<13} {:<22} {:>8} {:>8} {:>8} {:>14}",
            "database", "table", "inserted", "updated", "deleted", "beyond floor"
        );
        for ((database, table), writes) in &self.tables {
            let _ = writeln!(
                text,
                "  {database:<13} {table:<22} {:>8.2} {:>8.2} {:>8.2} {:>14.2}",
                writes.inserted,
                writes.updated,
                writes.deleted,
                writes.total() - self.floor(database, table),
            );
        }
        if !self.statements_counted {
            let _ = writeln!(
                text,
                "statements per deletion: not counted on SQLite (no statistics view)"
            );
            return text;
        }
        for database in ["members", "reservations"] {
            let _ = writeln!(
                text,
                "statements per deletion, {database} database: {:.2}",
                self.statements_executed(database)
            );
            let mut busiest: Vec<_> = self
                .statements
                .iter()
                .filter(|((name, _), _)| name == database)
                .collect();
            busiest.sort_by(|left, right| right.1.total_cmp(left.1));
            for ((_, statement), calls) in busiest.into_iter().take(12) {
                let _ = writeln!(text, "  {calls:>6.2}  {}", one_line(statement, 110));
            }
        }
        text
    }
}

fn one_line(statement: &str, width: usize) -> String {
    let flat = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(width) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
