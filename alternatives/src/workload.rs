//! What one side's requests cost the other: requests served and the time spent serving them,
//! counted by the handler (in one process, handler time is what can be told apart per service;
//! the process's CPU is shared by both sides, the load generator and, with SQLite, the database).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

#[derive(Debug, Default)]
pub struct Workload {
    requests: AtomicU64,
    busy_micros: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WorkloadSnapshot {
    pub requests: u64,
    pub busy: Duration,
}

impl Workload {
    pub fn record(&self, spent: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(spent.as_micros()).unwrap_or(u64::MAX);
        self.busy_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> WorkloadSnapshot {
        WorkloadSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            busy: Duration::from_micros(self.busy_micros.load(Ordering::Relaxed)),
        }
    }
}

impl WorkloadSnapshot {
    /// What was counted between `earlier` and this snapshot.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            requests: self.requests.saturating_sub(earlier.requests),
            busy: self.busy.saturating_sub(earlier.busy),
        }
    }
}
