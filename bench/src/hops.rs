//! Where a phase's propagation time goes, from the services' own metrics read before and after
//! it: the relay's hop (outbox commit to broker acknowledgement), the consumer's batches (events
//! per batch, time to apply one) and the end-to-end age of a deletion event when applied.

use std::collections::BTreeMap;

use crate::system::BenchSystem;

/// The `_sum` and `_count` of the histograms a breakdown needs, as one service exported them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot(BTreeMap<String, f64>);

/// The histograms read, each `(name, label filter)`: series whose labels contain the filter are
/// added up.
const HISTOGRAMS: [(&str, &str); 4] = [
    (member_service::metrics::OUTBOX_PUBLISH_DELAY, ""),
    (reservation_service::metrics::BATCH_SIZE, ""),
    (reservation_service::metrics::BATCH_APPLY, ""),
    (
        reservation_service::metrics::EVENT_AGE,
        "members.member_deleted.v1",
    ),
];

impl Snapshot {
    /// Reads both services' `/metrics`; a service that does not answer adds nothing (the
    /// breakdown then shows no figure for it rather than a wrong one).
    pub async fn read(system: &BenchSystem) -> Self {
        let mut text = String::new();
        for url in [Some(system.member_url.clone()), system.reservation_url()]
            .into_iter()
            .flatten()
        {
            if let Ok(response) = system.http().get(format!("{url}/metrics")).send().await
                && let Ok(body) = response.text().await
            {
                text.push_str(&body);
                text.push('\n');
            }
        }
        Self::parse(&text)
    }

    /// The sums and counts of [`HISTOGRAMS`] in a Prometheus text exposition.
    pub fn parse(text: &str) -> Self {
        let mut values = BTreeMap::new();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            for (histogram, filter) in HISTOGRAMS {
                for suffix in ["_sum", "_count"] {
                    if name.strip_suffix(suffix) == Some(histogram) && labels.contains(filter) {
                        *values.entry(format!("{histogram}{suffix}")).or_default() += value;
                    }
                }
            }
        }
        Self(values)
    }

    fn mean_between(&self, later: &Self, histogram: &str) -> Option<f64> {
        let delta = |suffix: &str| {
            let key = format!("{histogram}{suffix}");
            Some(later.0.get(&key)? - self.0.get(&key).copied().unwrap_or_default())
        };
        let count = delta("_count")?;
        (count > 0.0).then(|| delta("_sum").unwrap_or_default() / count)
    }

    /// Means over what happened between this snapshot and `later`.
    pub fn breakdown(&self, later: &Self) -> Breakdown {
        let milliseconds = |histogram| self.mean_between(later, histogram).map(|s| s * 1_000.0);
        Breakdown {
            relay_ms: milliseconds(member_service::metrics::OUTBOX_PUBLISH_DELAY),
            batch_events: self.mean_between(later, reservation_service::metrics::BATCH_SIZE),
            batch_apply_ms: milliseconds(reservation_service::metrics::BATCH_APPLY),
            age_when_applied_ms: milliseconds(reservation_service::metrics::EVENT_AGE),
        }
    }
}

/// Mean figures of one phase.
#[derive(Clone, Copy, Debug, Default)]
pub struct Breakdown {
    /// Outbox commit to broker acknowledgement.
    pub relay_ms: Option<f64>,
    pub batch_events: Option<f64>,
    pub batch_apply_ms: Option<f64>,
    /// A deletion event's time to the commit that applied it.
    pub age_when_applied_ms: Option<f64>,
}

impl Breakdown {
    pub fn line(&self) -> String {
        let show = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        format!(
            "relay (commit to broker ack) {} ms; consumer batches of {} events, {} ms to apply; deletion event age when applied {} ms (means, from the services' /metrics)",
            show(self.relay_ms),
            show(self.batch_events),
            show(self.batch_apply_ms),
            show(self.age_when_applied_ms),
        )
    }

    pub fn metrics(&self, prefix: &str) -> Vec<(String, f64)> {
        [
            ("relay_ms", self.relay_ms),
            ("batch_events", self.batch_events),
            ("batch_apply_ms", self.batch_apply_ms),
            ("age_when_applied_ms", self.age_when_applied_ms),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((format!("{prefix}_mean_{name}"), value?)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_come_from_the_difference_of_two_readings() {
        let before = Snapshot::parse(
            "member_outbox_publish_delay_seconds_sum 1.0\n\
             member_outbox_publish_delay_seconds_count 100\n\
             reservation_consumer_event_age_seconds_sum{event_type=\"members.member_deleted.v1\"} 2\n\
             reservation_consumer_event_age_seconds_count{event_type=\"members.member_deleted.v1\"} 10\n",
        );
        let after = Snapshot::parse(
            "# HELP member_outbox_publish_delay_seconds x\n\
             member_outbox_publish_delay_seconds_sum 1.5\n\
             member_outbox_publish_delay_seconds_count 150\n\
             reservation_consumer_event_age_seconds_sum{event_type=\"members.member_registered.v1\"} 99\n\
             reservation_consumer_event_age_seconds_count{event_type=\"members.member_registered.v1\"} 1\n\
             reservation_consumer_event_age_seconds_sum{event_type=\"members.member_deleted.v1\"} 3\n\
             reservation_consumer_event_age_seconds_count{event_type=\"members.member_deleted.v1\"} 30\n",
        );
        let breakdown = before.breakdown(&after);
        assert_eq!(breakdown.relay_ms.map(|ms| ms.round()), Some(10.0));
        assert_eq!(
            breakdown.age_when_applied_ms.map(|ms| ms.round()),
            Some(50.0)
        );
        assert!(breakdown.batch_apply_ms.is_none());
    }
}
