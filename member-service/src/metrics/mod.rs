//! What member-service tells Prometheus, all named here: the outbox and its relay. HTTP
//! requests are counted by `http/metrics.rs`, the process by `recorder.rs`.
//!
//! Names follow Prometheus's conventions: base units (`_seconds`), `_total` for counters, a
//! `member_` prefix for what only this service has. No label carries a member or event id.

pub mod recorder;

use std::{sync::Once, time::Duration};

use chrono::{DateTime, Utc};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::PrometheusHandle;

pub use recorder::RecorderError;

/// Prefixes of this service's families, for [`render`].
const PREFIXES: &[&str] = &["member_"];

pub const OUTBOX_WAITING: &str = "member_outbox_waiting_events";
pub const OUTBOX_OLDEST_WAITING_AGE: &str = "member_outbox_oldest_waiting_age_seconds";
pub const OUTBOX_PUBLISHED: &str = "member_outbox_published_events_total";
pub const OUTBOX_PUBLISH_FAILURES: &str = "member_outbox_publish_failures_total";
pub const OUTBOX_PUBLISH_DELAY: &str = "member_outbox_publish_delay_seconds";
pub const RELAY_LEADER: &str = "member_outbox_relay_leader";

/// Every family this service exports (besides `http_*` and `process_*`).
pub const NAMES: &[&str] = &[
    OUTBOX_WAITING,
    OUTBOX_OLDEST_WAITING_AGE,
    OUTBOX_PUBLISHED,
    OUTBOX_PUBLISH_FAILURES,
    OUTBOX_PUBLISH_DELAY,
    RELAY_LEADER,
];

/// The event types of the contract (`MemberEventData::type_name`), for the series that exist
/// from the start.
const EVENT_TYPES: [&str; 2] = ["members.member_registered.v1", "members.member_deleted.v1"];

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
    describe_gauge!(
        OUTBOX_WAITING,
        Unit::Count,
        "Events committed to the outbox and not yet acknowledged by the broker"
    );
    describe_gauge!(
        OUTBOX_OLDEST_WAITING_AGE,
        Unit::Seconds,
        "Age of the oldest event waiting in the outbox; 0 when none waits"
    );
    describe_counter!(
        OUTBOX_PUBLISHED,
        Unit::Count,
        "Outbox events the broker acknowledged, by event type"
    );
    describe_counter!(
        OUTBOX_PUBLISH_FAILURES,
        Unit::Count,
        "Relay rounds that stopped at an event the broker did not acknowledge"
    );
    describe_histogram!(
        OUTBOX_PUBLISH_DELAY,
        Unit::Seconds,
        "From the event's creation in the committing transaction to the broker's acknowledgement"
    );
    describe_gauge!(
        RELAY_LEADER,
        "1 when this replica's relay publishes the outbox, 0 while it stands by"
    );
    // Every series from the start, at zero (a histogram by registering it): a rate needs the zero before the first event, and
    // an alert on an absent series never fires.
    counter!(OUTBOX_PUBLISH_FAILURES).absolute(0);
    for event_type in EVENT_TYPES {
        counter!(OUTBOX_PUBLISHED, "event_type" => event_type).absolute(0);
    }
    let _registered = histogram!(OUTBOX_PUBLISH_DELAY);
    gauge!(OUTBOX_WAITING).set(0.0);
    gauge!(OUTBOX_OLDEST_WAITING_AGE).set(0.0);
    gauge!(RELAY_LEADER).set(0.0);
}

/// What the background check counted: the backlog and its oldest event, read with one bounded
/// query each, once a second, instead of at scrape time: scrapes then cost no database round
/// trip, and the figures are at most a second old.
pub fn outbox_observed(waiting: i64, oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) {
    gauge!(OUTBOX_WAITING).set(waiting as f64);
    let age = oldest.map_or(0.0, |oldest| seconds_between(oldest, now));
    gauge!(OUTBOX_OLDEST_WAITING_AGE).set(age);
}

/// The broker acknowledged an event created at `created_at`. Its type comes from the closed
/// set the contract defines (`MemberEvent::type_name`), so the label stays bounded.
/// An unreadable creation time (never written by this service) counts, without a delay.
pub fn event_published(event_type: &str, created_at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
    counter!(OUTBOX_PUBLISHED, "event_type" => event_type.to_owned()).increment(1);
    if let Some(created_at) = created_at {
        histogram!(OUTBOX_PUBLISH_DELAY).record(seconds_between(created_at, now));
    }
}

pub fn publish_failed() {
    counter!(OUTBOX_PUBLISH_FAILURES).increment(1);
}

pub fn relay_leads(leads: bool) {
    gauge!(RELAY_LEADER).set(if leads { 1.0 } else { 0.0 });
}

/// Never negative: clocks of different hosts may disagree by a little.
fn seconds_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> f64 {
    (later - earlier)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
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

    #[test]
    fn an_age_is_never_negative() {
        let now = Utc::now();
        assert_eq!(
            seconds_between(now + chrono::Duration::seconds(1), now),
            0.0
        );
        assert_eq!(
            seconds_between(now - chrono::Duration::milliseconds(1500), now),
            1.5
        );
    }
}
