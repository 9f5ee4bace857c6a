//! What reservation-service tells Prometheus, all named here: the member-event consumer and
//! the parked events. HTTP requests are counted by `http/metrics.rs`, the process by
//! `recorder.rs`.
//!
//! Names follow Prometheus's conventions: base units (`_seconds`), `_total` for counters, a
//! `reservation_` prefix for what only this service has. Labels are bounded: outcomes, event
//! types of the contract, partitions of the topic, states; never a member or event id.

pub mod recorder;

use std::{sync::Once, time::Duration};

use chrono::{DateTime, Utc};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::PrometheusHandle;

pub use recorder::RecorderError;

use crate::domain::{Applied, Arrival, Outcome};

/// Prefixes of this service's families, for [`render`].
const PREFIXES: &[&str] = &["reservation_"];

pub const EVENTS: &str = "reservation_consumer_events_total";
pub const RESERVATIONS_CANCELLED: &str = "reservation_consumer_reservations_cancelled_total";
pub const LAG: &str = "reservation_consumer_lag_events";
pub const IN_FLIGHT: &str = "reservation_consumer_in_flight_events";
pub const BATCH_SIZE: &str = "reservation_consumer_batch_events";
pub const BATCH_APPLY: &str = "reservation_consumer_batch_apply_seconds";
pub const EVENT_AGE: &str = "reservation_consumer_event_age_seconds";
pub const RETRIES: &str = "reservation_consumer_retries_total";
pub const STATE: &str = "reservation_consumer_state";
pub const PARKED_WAITING: &str = "reservation_parked_waiting_events";

/// Every family this service exports (besides `http_*` and `process_*`).
pub const NAMES: &[&str] = &[
    EVENTS,
    RESERVATIONS_CANCELLED,
    LAG,
    IN_FLIGHT,
    BATCH_SIZE,
    BATCH_APPLY,
    EVENT_AGE,
    RETRIES,
    STATE,
    PARKED_WAITING,
];

/// The consumer's states, each a series of [`STATE`] that is 1 while the consumer is in it.
pub const STATES: [&str; 3] = ["running", "retrying", "stopped"];
/// The event-type label of a message that does not decode to an event.
const UNDECODABLE: &str = "undecodable";
/// The event types of the contract (`MemberEventData::type_name`).
const EVENT_TYPES: [&str; 2] = ["members.member_registered.v1", "members.member_deleted.v1"];
/// What writing an event can come to, the `outcome` label of [`EVENTS`]: applied (it changed
/// the member list), duplicate (at the member version already applied: the same event again),
/// stale (older than that version, or after the member's deletion), parked.
const OUTCOMES: [&str; 4] = ["applied", "duplicate", "stale", "parked"];

static DESCRIBED: Once = Once::new();

/// Installs the process's recorder (or takes the one installed) and describes the metrics.
pub fn install() -> Result<PrometheusHandle, RecorderError> {
    let handle = recorder::install()?;
    DESCRIBED.call_once(describe);
    Ok(handle)
}

/// Records into `handle`, the recorder another service of this process installed.
pub fn share(handle: PrometheusHandle) {
    recorder::share(handle);
    DESCRIBED.call_once(describe);
}

/// This service's series, in the Prometheus text format.
pub fn render(handle: &PrometheusHandle) -> String {
    recorder::render(handle, PREFIXES)
}

fn describe() {
    describe_counter!(
        EVENTS,
        Unit::Count,
        "Member events the consumer wrote, by outcome (applied, duplicate, stale, parked) and event type"
    );
    describe_counter!(
        RESERVATIONS_CANCELLED,
        Unit::Count,
        "Reservations cancelled because their member was deleted"
    );
    describe_gauge!(
        LAG,
        Unit::Count,
        "Events in a partition not yet applied by this replica (0 for a partition it does not hold)"
    );
    describe_gauge!(
        IN_FLIGHT,
        Unit::Count,
        "Events taken from the broker and being applied now"
    );
    describe_histogram!(
        BATCH_SIZE,
        Unit::Count,
        "Events applied together in one transaction"
    );
    describe_histogram!(
        BATCH_APPLY,
        Unit::Seconds,
        "From taking a batch to its commit, retries included"
    );
    describe_histogram!(
        EVENT_AGE,
        Unit::Seconds,
        "End to end: from the event's time (its change, in member-service) to the commit that applied it here"
    );
    describe_counter!(
        RETRIES,
        Unit::Count,
        "Attempts at writing member events that failed and were retried"
    );
    describe_gauge!(
        STATE,
        "1 for the consumer's current state (running, retrying, stopped), 0 for the others"
    );
    describe_gauge!(
        PARKED_WAITING,
        Unit::Count,
        "Parked events waiting for an operator to replay or discard them"
    );
    // Every series from the start, at zero (a histogram by registering it): a rate needs the zero before the first event, and
    // an alert on an absent series never fires. Lag series come with the partitions held.
    counter!(RETRIES).absolute(0);
    counter!(RESERVATIONS_CANCELLED).absolute(0);
    for outcome in OUTCOMES {
        for event_type in EVENT_TYPES.into_iter().chain([UNDECODABLE]) {
            counter!(EVENTS, "outcome" => outcome, "event_type" => event_type).absolute(0);
        }
    }
    for event_type in EVENT_TYPES {
        let _registered = histogram!(EVENT_AGE, "event_type" => event_type);
    }
    let _registered = histogram!(BATCH_SIZE);
    let _registered = histogram!(BATCH_APPLY);
    gauge!(IN_FLIGHT).set(0.0);
    gauge!(PARKED_WAITING).set(0.0);
    for state in STATES {
        gauge!(STATE, "state" => state).set(0.0);
    }
}

/// A batch of `events` was taken from the broker.
pub fn batch_taken(events: usize) {
    gauge!(IN_FLIGHT).set(events as f64);
    histogram!(BATCH_SIZE).record(events as f64);
}

/// The batch's transaction committed at `committed_at`, `elapsed` after it was taken.
pub fn batch_written(
    batch: &[Arrival],
    outcomes: &[Outcome],
    elapsed: Duration,
    committed_at: DateTime<Utc>,
) {
    gauge!(IN_FLIGHT).set(0.0);
    histogram!(BATCH_APPLY).record(elapsed.as_secs_f64());
    for (arrival, outcome) in batch.iter().zip(outcomes) {
        let event = arrival.event.as_ref().ok();
        let event_type = event.map_or(UNDECODABLE, |event| event.payload.type_name());
        let outcome_label = match outcome {
            Outcome::Applied(Applied::Duplicate) => "duplicate",
            Outcome::Applied(Applied::Stale) => "stale",
            Outcome::Applied(Applied::Activated | Applied::Deleted { .. }) => "applied",
            Outcome::Parked(_) => "parked",
        };
        counter!(EVENTS, "outcome" => outcome_label, "event_type" => event_type).increment(1);
        if let Outcome::Applied(Applied::Deleted {
            reservations_cancelled,
        }) = outcome
        {
            counter!(RESERVATIONS_CANCELLED).increment(*reservations_cancelled);
        }
        if let (Some(event), "applied") = (event, outcome_label) {
            let age = (committed_at - event.time)
                .to_std()
                .unwrap_or(Duration::ZERO);
            histogram!(EVENT_AGE, "event_type" => event_type).record(age.as_secs_f64());
        }
    }
}

pub fn retried() {
    counter!(RETRIES).increment(1);
}

/// What the background check found, once a second: the lag of each partition this replica
/// holds (and 0 for those it held before and no longer does: their new holder reports them),
/// the consumer's state, and the parked events waiting. Counting those in the database once a
/// second rather than at scrape time keeps a scrape free of database round trips.
pub fn consumer_observed(
    lags: &[(i32, i64)],
    released: &[i32],
    state: &str,
    parked_waiting: Option<i64>,
) {
    for (partition, lag) in lags {
        gauge!(LAG, "partition" => partition.to_string()).set(*lag as f64);
    }
    for partition in released {
        gauge!(LAG, "partition" => partition.to_string()).set(0.0);
    }
    for each in STATES {
        gauge!(STATE, "state" => each).set(if each == state { 1.0 } else { 0.0 });
    }
    if let Some(waiting) = parked_waiting {
        gauge!(PARKED_WAITING).set(waiting as f64);
    }
}

#[cfg(test)]
mod tests {
    use event_schema::{MemberDeleted, MemberEventData, MemberRegistered};
    use uuid::Uuid;

    use super::*;

    #[test]
    fn the_event_types_are_the_contracts() {
        let (member_id, member_version) = (Uuid::nil(), 1);
        let types = [
            MemberEventData::Registered(MemberRegistered {
                member_id,
                member_version,
            }),
            MemberEventData::Deleted(MemberDeleted {
                member_id,
                member_version,
            }),
        ]
        .map(|data| data.type_name());
        assert_eq!(types, EVENT_TYPES);
    }
}
