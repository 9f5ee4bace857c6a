//! The load: members deleted over HTTP, either as fast as `concurrency` clients can, or at a
//! target rate (open loop: a request leaves on schedule whether or not earlier ones returned,
//! so a slow server shows as latency, not as a lower offered rate).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use reqwest::StatusCode;
use tokio::task::JoinSet;
use uuid::Uuid;

/// One DELETE as the client saw it.
#[derive(Clone, Debug)]
pub struct Deletion {
    pub member_id: Uuid,
    pub latency: Duration,
    /// 204, or the status (0: no answer) of a failed request.
    pub status: u16,
}

impl Deletion {
    pub fn succeeded(&self) -> bool {
        self.status == StatusCode::NO_CONTENT.as_u16()
    }
}

/// What a load phase did.
#[derive(Clone, Debug)]
pub struct LoadOutcome {
    pub started_at: DateTime<Utc>,
    pub elapsed: Duration,
    pub deletions: Vec<Deletion>,
}

impl LoadOutcome {
    pub fn succeeded(&self) -> impl Iterator<Item = &Deletion> {
        self.deletions
            .iter()
            .filter(|deletion| deletion.succeeded())
    }

    pub fn failures(&self) -> usize {
        self.deletions.len() - self.succeeded().count()
    }
}

/// Deletes every member, `concurrency` requests at a time.
pub async fn delete_as_fast_as_possible(
    http: &reqwest::Client,
    member_url: &str,
    members: Vec<Uuid>,
    concurrency: usize,
) -> LoadOutcome {
    let started_at = Utc::now();
    let started = Instant::now();
    let deletions = stream::iter(members)
        .map(|member_id| delete(http.clone(), member_url.to_owned(), member_id))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    LoadOutcome {
        started_at,
        elapsed: started.elapsed(),
        deletions,
    }
}

/// Deletes members at `rate` per second until `duration` has passed or the members run out.
pub async fn delete_at_rate(
    http: &reqwest::Client,
    member_url: &str,
    members: Vec<Uuid>,
    rate: f64,
    duration: Duration,
) -> LoadOutcome {
    let started_at = Utc::now();
    let started = tokio::time::Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut requests = JoinSet::new();
    for (index, member_id) in members.into_iter().enumerate() {
        let due = started + interval.saturating_mul(index as u32);
        if due.duration_since(started) >= duration {
            break;
        }
        tokio::time::sleep_until(due).await;
        requests.spawn(delete(http.clone(), member_url.to_owned(), member_id));
    }
    let sent_for = started.elapsed();
    let deletions = requests.join_all().await;
    LoadOutcome {
        started_at,
        elapsed: sent_for,
        deletions,
    }
}

async fn delete(http: reqwest::Client, member_url: String, member_id: Uuid) -> Deletion {
    let started = Instant::now();
    let status = http
        .delete(format!("{member_url}/members/{member_id}"))
        .send()
        .await
        .map_or(0, |response| response.status().as_u16());
    Deletion {
        member_id,
        latency: started.elapsed(),
        status,
    }
}

/// How many members a paced phase needs: one per scheduled request, plus a margin.
pub fn members_for(rate: f64, duration: Duration) -> usize {
    (rate * duration.as_secs_f64()).ceil() as usize + 1
}
