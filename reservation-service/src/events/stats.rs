//! Counters of what the consumer did, for `/consumer` and for tests.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use serde::Serialize;

use crate::domain::Applied;

#[derive(Debug, Default)]
pub struct ConsumerStats {
    applied: AtomicU64,
    duplicates: AtomicU64,
    stale: AtomicU64,
    dead_lettered: AtomicU64,
    reservations_cancelled: AtomicU64,
    retries: AtomicU64,
    batches: AtomicU64,
    in_flight: AtomicU64,
    failing: AtomicBool,
    stopped: AtomicBool,
    /// The last receive error logged, and when: the same error is logged once per minute.
    last_receive_error: Mutex<Option<(String, std::time::Instant)>>,
    /// Per partition, the offset of the next event to apply: where lag is measured from.
    next_offsets: Mutex<BTreeMap<i32, i64>>,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct StatsSnapshot {
    /// Events that changed the member list (a member registered or deleted).
    pub applied: u64,
    /// Events at the member version already applied: the same event again (redelivered, or
    /// published twice), no effect.
    pub duplicates: u64,
    /// Events older than the member version already applied, or later than the member's
    /// deletion (out of order, or a redelivery of an event since overtaken): no effect.
    pub stale: u64,
    pub dead_lettered: u64,
    pub reservations_cancelled: u64,
    pub retries: u64,
    /// Transactions that applied a batch of events.
    pub batches: u64,
    /// Events fetched and being applied now (at most the configured maximum).
    pub in_flight: u64,
    /// The last attempt to apply an event failed and is being retried.
    pub failing: bool,
    /// The consumer loop has ended.
    pub stopped: bool,
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

    /// A batch of `events` was fetched and is being applied.
    pub fn begin_batch(&self, events: usize) {
        self.in_flight
            .store(u64::try_from(events).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The batch is done; `next_offsets` are where each of its partitions continues.
    pub fn end_batch(&self, next_offsets: impl IntoIterator<Item = (i32, i64)>) {
        self.in_flight.store(0, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut positions) = self.next_offsets.lock() {
            positions.extend(next_offsets);
        }
    }

    /// The offset of the next event to apply in `partition`, when this instance applied any.
    pub fn next_offset(&self, partition: i32) -> Option<i64> {
        self.next_offsets
            .lock()
            .ok()
            .and_then(|positions| positions.get(&partition).copied())
    }

    pub fn record_retry(&self) {
        crate::metrics::retried();
        self.failing.store(true, Ordering::Relaxed);
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a receive error is worth logging: a new one, or the same one a minute later.
    pub fn record_receive_error(&self, message: &str) -> bool {
        let Ok(mut last) = self.last_receive_error.lock() else {
            return true;
        };
        let now = std::time::Instant::now();
        let repeated = last.as_ref().is_some_and(|(previous, logged_at)| {
            previous == message && now.duration_since(*logged_at).as_secs() < 60
        });
        if !repeated {
            *last = Some((message.to_owned(), now));
        }
        !repeated
    }

    /// The consumer loop has ended, for good: readiness reports it.
    pub fn record_stopped(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            applied: self.applied.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            reservations_cancelled: self.reservations_cancelled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            failing: self.failing.load(Ordering::Relaxed),
            stopped: self.stopped.load(Ordering::Relaxed),
        }
    }
}
