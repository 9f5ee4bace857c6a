//! The figures of a phase, from what the client saw (send time, latency, status) and when the
//! reservation database cancelled each member's reservations. One clock: the services run in
//! this process and stamp their rows with it.

use std::{collections::HashMap, time::Duration};

use bench::statistics::LatencySummary;
use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use uuid::Uuid;

use crate::{db, load::Deletion};

/// A load phase: its DELETEs and how long their cancellations took.
#[derive(Clone, Debug, Default)]
pub struct PhaseFigures {
    pub deletions: usize,
    pub failures: usize,
    pub delete_latency: Option<LatencySummary>,
    /// From the DELETE leaving the client to the commit that cancelled the member's reservations.
    pub time_to_cancel: Option<LatencySummary>,
}

/// The deletions sent while the reservation side was down, and the recovery after it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutageFigures {
    pub deletions: usize,
    pub failures: usize,
    pub delete_latency: Option<LatencySummary>,
    /// Answered 204, yet their reservations were never cancelled.
    pub lost: usize,
    /// Refused, yet their reservations were cancelled (the member lives on without them).
    pub cancelled_though_refused: usize,
    /// From the restart to the last cancellation of a deletion accepted before it; zero when
    /// none was waiting.
    pub time_to_consistency: Option<Duration>,
}

pub fn phase_figures(
    deletions: &[Deletion],
    cancelled: &HashMap<Uuid, DateTime<Utc>>,
) -> PhaseFigures {
    let succeeded: Vec<&Deletion> = deletions
        .iter()
        .filter(|deletion| deletion.succeeded())
        .collect();
    let latencies: Vec<f64> = succeeded
        .iter()
        .map(|deletion| deletion.latency_ms())
        .collect();
    let to_cancel: Vec<f64> = succeeded
        .iter()
        .filter_map(|deletion| time_to_cancel_ms(deletion, cancelled))
        .collect();
    PhaseFigures {
        deletions: deletions.len(),
        failures: deletions.len() - succeeded.len(),
        delete_latency: LatencySummary::of(&latencies),
        time_to_cancel: LatencySummary::of(&to_cancel),
    }
}

pub fn time_to_cancel_ms(
    deletion: &Deletion,
    cancelled: &HashMap<Uuid, DateTime<Utc>>,
) -> Option<f64> {
    let at = cancelled.get(&deletion.member_id)?;
    Some((*at - deletion.sent_at).num_microseconds()? as f64 / 1_000.0)
}

/// Figures of the deletions sent in `[stopped_at, restarted_at)`, and of the recovery.
pub fn outage_figures(
    deletions: &[Deletion],
    cancelled: &HashMap<Uuid, DateTime<Utc>>,
    stopped_at: DateTime<Utc>,
    restarted_at: DateTime<Utc>,
) -> OutageFigures {
    let during: Vec<&Deletion> = deletions
        .iter()
        .filter(|deletion| deletion.sent_at >= stopped_at && deletion.sent_at < restarted_at)
        .collect();
    let latencies: Vec<f64> = during
        .iter()
        .map(|deletion| deletion.latency_ms())
        .collect();
    let lost = deletions
        .iter()
        .filter(|deletion| deletion.succeeded() && !cancelled.contains_key(&deletion.member_id))
        .count();
    let cancelled_though_refused = deletions
        .iter()
        .filter(|deletion| !deletion.succeeded() && cancelled.contains_key(&deletion.member_id))
        .count();
    let waiting_at_restart: Vec<DateTime<Utc>> = deletions
        .iter()
        .filter(|deletion| deletion.succeeded() && deletion.sent_at < restarted_at)
        .filter_map(|deletion| cancelled.get(&deletion.member_id).copied())
        .filter(|at| *at > restarted_at)
        .collect();
    let time_to_consistency = (lost == 0).then(|| {
        waiting_at_restart
            .into_iter()
            .max()
            .and_then(|last| (last - restarted_at).to_std().ok())
            .unwrap_or_default()
    });
    OutageFigures {
        deletions: during.len(),
        failures: during
            .iter()
            .filter(|deletion| !deletion.succeeded())
            .count(),
        delete_latency: LatencySummary::of(&latencies),
        lost,
        cancelled_though_refused,
        time_to_consistency,
    }
}

/// Waits until every accepted deletion of `deletions` has its reservations cancelled, or the
/// deadline passes (what is missing then is lost), and returns the cancellation times.
pub async fn wait_for_cancellations(
    pool: &AnyPool,
    deletions: &[Deletion],
    deadline: Duration,
) -> Result<HashMap<Uuid, DateTime<Utc>>, sqlx::Error> {
    let since = deletions
        .iter()
        .map(|deletion| deletion.sent_at)
        .min()
        .unwrap_or_else(Utc::now);
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        let cancelled = db::cancellation_times(pool, since).await?;
        let all_there = deletions
            .iter()
            .filter(|deletion| deletion.succeeded())
            .all(|deletion| cancelled.contains_key(&deletion.member_id));
        if all_there || tokio::time::Instant::now() >= give_up {
            return Ok(cancelled);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// CPU time of this whole process so far (user + system), from `/proc/self/stat`, in clock
/// ticks of 1/100 s (Linux's USER_HZ). `None` where there is no such file.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it are space-separated.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millisecond: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + millisecond).expect("time")
    }

    fn deletion(id: u128, sent: i64, status: u16) -> Deletion {
        Deletion {
            member_id: Uuid::from_u128(id),
            sent_at: at(sent),
            latency: Duration::from_millis(5),
            status,
        }
    }

    #[test]
    fn the_outage_counts_what_was_sent_while_down_and_what_was_never_applied() {
        let deletions = [
            deletion(1, 0, 204),     // before the stop, applied at once
            deletion(2, 1_000, 204), // while down, applied after the restart
            deletion(3, 1_500, 503), // while down, refused
            deletion(4, 1_800, 204), // while down, never applied
            deletion(5, 3_000, 204), // after the restart
        ];
        let cancelled = HashMap::from([
            (Uuid::from_u128(1), at(10)),
            (Uuid::from_u128(2), at(2_400)),
            (Uuid::from_u128(3), at(2_100)),
            (Uuid::from_u128(5), at(3_010)),
        ]);
        let figures = outage_figures(&deletions, &cancelled, at(500), at(2_000));
        assert_eq!(figures.deletions, 3);
        assert_eq!(figures.failures, 1);
        assert_eq!(figures.lost, 1);
        assert_eq!(figures.cancelled_though_refused, 1);
        // Consistency cannot be reached while a cancellation is lost.
        assert_eq!(figures.time_to_consistency, None);
    }

    #[test]
    fn consistency_comes_with_the_last_cancellation_owed_at_the_restart() {
        let deletions = [deletion(1, 1_000, 204), deletion(2, 1_200, 204)];
        let cancelled = HashMap::from([
            (Uuid::from_u128(1), at(2_300)),
            (Uuid::from_u128(2), at(2_700)),
        ]);
        let figures = outage_figures(&deletions, &cancelled, at(500), at(2_000));
        assert_eq!(
            figures.time_to_consistency,
            Some(Duration::from_millis(700))
        );
        let refused = [deletion(1, 1_000, 503)];
        let figures = outage_figures(&refused, &HashMap::new(), at(500), at(2_000));
        assert_eq!(figures.time_to_consistency, Some(Duration::ZERO));
        assert_eq!(figures.failures, 1);
    }

    #[test]
    fn a_phase_measures_accepted_deletions_from_their_send_time() {
        let deletions = [deletion(1, 0, 204), deletion(2, 100, 0)];
        let cancelled = HashMap::from([(Uuid::from_u128(1), at(40))]);
        let figures = phase_figures(&deletions, &cancelled);
        assert_eq!((figures.deletions, figures.failures), (2, 1));
        assert_eq!(
            figures.time_to_cancel.map(|summary| summary.p50),
            Some(40.0)
        );
        assert_eq!(figures.delete_latency.map(|summary| summary.count), Some(1));
    }

    #[test]
    fn the_process_cpu_time_is_read_from_proc() {
        let seconds = process_cpu_seconds().expect("/proc/self/stat on Linux");
        assert!(seconds >= 0.0);
    }
}
