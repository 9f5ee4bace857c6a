//! Invariants checked directly in both databases after a fault: nothing lost, nothing applied
//! twice, no member's events applied out of order (read from reservation-service's change log,
//! which records each member change in commit order). One line per run, in a fixed format, so that
//! the failure-injection suite and the chaos run print the same table.

use std::{collections::BTreeMap, fmt, io::Write};

use sqlx::{AnyPool, Row};

/// What both databases say after a scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Members deleted in member-service's database.
    pub deletions: u64,
    /// Reservations reservation-service cancelled because their member was deleted.
    pub reservations_cancelled: u64,
    /// Member changes that never took effect in reservation-service (its member list disagrees
    /// with member-service's database), plus active reservations of deleted members.
    pub lost: u64,
    /// Member changes (member, version) applied more than once.
    pub applied_twice: u64,
    /// Members whose changes were applied in an order their versions contradict, or whose final
    /// version is not the last one applied.
    pub order_violations: u64,
    /// Events reservation-service parked (any status: still parked, replayed or discarded).
    pub parked: u64,
    /// Members whose changes wait behind a parked event for the operator (not lost: replaying
    /// applies them).
    pub waiting_for_operator: u64,
}

impl Audit {
    /// Reads both databases.
    pub async fn of(members: &AnyPool, reservations: &AnyPool) -> Self {
        let member_rows = sqlx::query("SELECT id, status, version FROM members")
            .fetch_all(members)
            .await
            .expect("members");
        let known: BTreeMap<String, (String, i64)> =
            sqlx::query("SELECT member_id, status, version FROM known_members")
                .fetch_all(reservations)
                .await
                .expect("known members")
                .iter()
                .map(|row| {
                    (
                        text(row, "member_id"),
                        (text(row, "status"), integer(row, "version")),
                    )
                })
                .collect();
        let waiting: Vec<String> =
            sqlx::query("SELECT DISTINCT member_id FROM parked_events WHERE status = 'parked'")
                .fetch_all(reservations)
                .await
                .expect("parked members")
                .iter()
                .filter_map(|row| row.try_get::<Option<String>, _>("member_id").ok().flatten())
                .collect();
        let mut audit = Self::default();
        let mut deleted = Vec::new();
        for row in &member_rows {
            let (id, status, version) = (
                text(row, "id"),
                text(row, "status"),
                integer(row, "version"),
            );
            if status == "deleted" {
                audit.deletions += 1;
                deleted.push(id.clone());
            }
            if known.get(&id) != Some(&(status, version)) {
                if waiting.contains(&id) {
                    audit.waiting_for_operator += 1;
                } else {
                    audit.lost += 1;
                }
            }
        }
        let reservation_rows =
            sqlx::query("SELECT member_id, status, cancellation_reason FROM reservations")
                .fetch_all(reservations)
                .await
                .expect("reservations");
        for row in &reservation_rows {
            let reason: Option<String> = row.try_get("cancellation_reason").expect("reason");
            if reason.as_deref() == Some("member_deleted") {
                audit.reservations_cancelled += 1;
            }
            let member_id = text(row, "member_id");
            if text(row, "status") == "active"
                && deleted.contains(&member_id)
                && !waiting.contains(&member_id)
            {
                audit.lost += 1;
            }
        }
        audit.check_application_order(reservations, &known).await;
        audit.parked = u64::try_from(
            sqlx::query("SELECT count(*) AS parked FROM parked_events")
                .fetch_one(reservations)
                .await
                .expect("parked events")
                .try_get::<i64, _>("parked")
                .expect("count"),
        )
        .unwrap_or_default();
        audit
    }

    /// From the member changes applied, in commit order: each (member, version) with an effect
    /// at most once, versions rising in the order they were applied, ending at the member list's
    /// version; and every member the list knows has its changes there (so that an empty read
    /// cannot pass for a clean one).
    async fn check_application_order(
        &mut self,
        reservations: &AnyPool,
        known: &BTreeMap<String, (String, i64)>,
    ) {
        let mut by_member: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for change in applied_member_changes(reservations).await {
            by_member
                .entry(change.member_id)
                .or_default()
                .push(change.version);
        }
        self.order_violations += u64::try_from(
            known
                .keys()
                .filter(|member_id| !by_member.contains_key(*member_id))
                .count(),
        )
        .unwrap_or_default();
        for (member_id, versions) in by_member {
            let mut distinct = versions.clone();
            distinct.sort_unstable();
            distinct.dedup();
            self.applied_twice +=
                u64::try_from(versions.len() - distinct.len()).unwrap_or_default();
            let rising = versions.windows(2).all(|pair| pair[0] < pair[1]);
            let ends_at_known = known.get(&member_id).map(|(_, version)| *version)
                == versions.iter().max().copied();
            if !rising || !ends_at_known {
                self.order_violations += 1;
            }
        }
    }

    /// No loss, no double effect, no order violation.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.applied_twice == 0 && self.order_violations == 0
    }

    /// Prints the scenario's line (and appends it to `$FAILURES_TABLE` when set, so CI can show
    /// the table even where test output is captured).
    pub fn report(&self, scenario: &str, evidence: &str) -> String {
        let line = format!("{scenario:<40} {self} | {evidence}");
        println!("{line}");
        if let Some(path) = std::env::var_os("FAILURES_TABLE")
            && let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        {
            let _ = writeln!(file, "{line}");
        }
        line
    }
}

impl fmt::Display for Audit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "deletions={} reservations_cancelled={} lost={} applied_twice={} order_violations={} parked={}",
            self.deletions,
            self.reservations_cancelled,
            self.lost,
            self.applied_twice,
            self.order_violations,
            self.parked
        )?;
        if self.waiting_for_operator > 0 {
            write!(
                formatter,
                " waiting_for_operator={}",
                self.waiting_for_operator
            )?;
        }
        Ok(())
    }
}

/// A member change reservation-service applied (a registration or deletion learned from its
/// event; stale and duplicate events change nothing and appear nowhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedChange {
    pub member_id: String,
    pub version: i64,
    pub deletion: bool,
}

/// The member changes reservation-service applied, in the order it committed them: its change
/// log's `member_learned` and `member_deleted` entries, in id order (ids are taken in commit
/// order). A change-log row holds one member's changes of one transaction, as a JSON array in id
/// order. The one place that knows how the change log stores them.
pub async fn applied_member_changes(reservations: &AnyPool) -> Vec<AppliedChange> {
    let rows = sqlx::query("SELECT member_id, changes FROM change_log ORDER BY first_id")
        .fetch_all(reservations)
        .await
        .expect("change log");
    let mut applied = Vec::new();
    for row in &rows {
        let changes: Vec<serde_json::Value> =
            serde_json::from_str(&text(row, "changes")).expect("a row's changes are a JSON array");
        for change in changes {
            let kind = change["type"].as_str().expect("a change names its type");
            if kind != "member_learned" && kind != "member_deleted" {
                continue;
            }
            applied.push(AppliedChange {
                member_id: text(row, "member_id"),
                version: change["version"]
                    .as_i64()
                    .expect("a member change has its version"),
                deletion: kind == "member_deleted",
            });
        }
    }
    applied
}

fn text(row: &sqlx::any::AnyRow, column: &str) -> String {
    row.try_get(column).expect("text column")
}

fn integer(row: &sqlx::any::AnyRow, column: &str) -> i64 {
    row.try_get(column).expect("integer column")
}
