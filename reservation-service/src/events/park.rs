//! Parking: an event that cannot be applied (it does not decode, applying it failed too often,
//! or its member has an event parked before it) is set aside so that the others flow on. The
//! rules decide it ([`crate::domain::decide_batch`]), the parked record is written with the
//! batch ([`crate::db::batch`]), and here a copy goes to the dead-letter topic.

use tokio_util::sync::CancellationToken;

use super::{
    ConsumerStats, DeadLetterQueue,
    retry::{backoff, pause},
};
use crate::domain::{Delivery, Failure};

/// Publishes the dead-letter copy of a parked delivery, retrying until acknowledged; `false` when
/// stopped first. The database holds the parked event already: a crash first redelivers the
/// event, which finds it parked and publishes again.
pub async fn publish_copy(
    dead_letters: &DeadLetterQueue,
    stats: &ConsumerStats,
    delivery: &Delivery,
    failure: &Failure,
    shutdown: &CancellationToken,
) -> bool {
    let mut failures = 0u32;
    loop {
        match dead_letters.publish(delivery, failure).await {
            Ok(()) => {
                stats.record_dead_letter();
                tracing::warn!(
                    reason = failure.reason,
                    partition = delivery.partition,
                    offset = delivery.offset,
                    dead_letter_topic = dead_letters.topic(),
                    "member event parked"
                );
                return true;
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, "cannot publish parked member event, retrying");
                if !pause(backoff(failures), shutdown).await {
                    return false;
                }
            }
        }
    }
}
