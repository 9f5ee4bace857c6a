//! Counters of what the consumer did, for `/consumer` and for tests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

use super::Applied;

#[derive(Debug, Default)]
pub struct ConsumerStats {
    applied: AtomicU64,
    duplicates: AtomicU64,
    stale: AtomicU64,
    dead_lettered: AtomicU64,
    reservations_cancelled: AtomicU64,
    retries: AtomicU64,
    failing: AtomicBool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    pub applied: u64,
    pub duplicates: u64,
    pub stale: u64,
    pub dead_lettered: u64,
    pub reservations_cancelled: u64,
    pub retries: u64,
    /// The last attempt to apply an event failed and is being retried.
    pub failing: bool,
}

impl ConsumerStats {
    pub fn record(&self, applied: Applied) {
        self.failing.store(false, Ordering::Relaxed);
        let counter = match applied {
            Applied::Duplicate => &self.duplicates,
            Applied::Stale => &self.stale,
            Applied::Activated => &self.applied,
            Applied::Deleted {
                reservations_cancelled,
            } => {
                self.reservations_cancelled
                    .fetch_add(reservations_cancelled, Ordering::Relaxed);
                &self.applied
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_dead_letter(&self) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_retry(&self) {
        self.failing.store(true, Ordering::Relaxed);
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            applied: self.applied.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            reservations_cancelled: self.reservations_cancelled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            failing: self.failing.load(Ordering::Relaxed),
        }
    }
}
