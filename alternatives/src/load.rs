//! The deletion load, the same for all three ways: open loop at a fixed rate (a request leaves
//! on schedule whether or not earlier ones returned, so a slow side shows as latency, not as a
//! lower offered rate), each request stamped with when it left.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use uuid::Uuid;

/// One DELETE as the client saw it.
#[derive(Clone, Debug)]
pub struct Deletion {
    pub member_id: Uuid,
    pub sent_at: DateTime<Utc>,
    pub latency: Duration,
    /// The answer's status; 0 when there was none (connection failed, client timeout).
    pub status: u16,
}

impl Deletion {
    pub fn succeeded(&self) -> bool {
        self.status == 204
    }

    pub fn latency_ms(&self) -> f64 {
        self.latency.as_secs_f64() * 1_000.0
    }
}

/// Deletes every member of `members` at `rate` per second.
pub async fn delete_at_rate(
    http: reqwest::Client,
    member_url: String,
    members: Vec<Uuid>,
    rate: f64,
) -> Vec<Deletion> {
    let started = tokio::time::Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut requests = JoinSet::new();
    for (index, member_id) in members.into_iter().enumerate() {
        let due = started + interval.saturating_mul(u32::try_from(index).unwrap_or(u32::MAX));
        tokio::time::sleep_until(due).await;
        requests.spawn(delete(
            http.clone(),
            format!("{member_url}/members/{member_id}"),
            member_id,
        ));
    }
    let mut deletions = requests.join_all().await;
    deletions.sort_by_key(|deletion| deletion.sent_at);
    deletions
}

async fn delete(http: reqwest::Client, url: String, member_id: Uuid) -> Deletion {
    let sent_at = Utc::now();
    let started = Instant::now();
    let status = http
        .delete(url)
        .send()
        .await
        .map_or(0, |response| response.status().as_u16());
    Deletion {
        member_id,
        sent_at,
        latency: started.elapsed(),
        status,
    }
}
