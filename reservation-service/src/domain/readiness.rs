//! When the service is ready: its database and broker answer, and its consumer is making
//! progress. A consumer can fail silently, holding no partitions, or holding them without
//! moving, while every request still succeeds; readiness is where that becomes visible.

use std::time::Duration;

use serde::Serialize;

/// What the health monitor last saw. Durations are how long a bad condition has lasted so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerObservation {
    /// `None` until the first check has completed.
    pub database: Option<Result<(), String>>,
    pub broker: Option<Result<(), String>>,
    /// Retrying an event (or the database) after a failure.
    pub retrying: bool,
    /// The consumer loop has ended (shutdown, or it could not subscribe).
    pub stopped: bool,
    /// How long the consumer has held no partitions while its topic has some.
    pub without_partitions_for: Option<Duration>,
    /// How long the consumer has had lag without applying anything.
    pub stalled_for: Option<Duration>,
}

/// Why the service is not ready; the list is empty when it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum NotReady {
    Starting,
    DatabaseUnavailable,
    BrokerUnavailable,
    ConsumerRetrying,
    ConsumerStopped,
    NoPartitionsAssigned { for_seconds: u64 },
    NoProgressWithLag { for_seconds: u64 },
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Starting => write!(formatter, "first health check not completed yet"),
            Self::DatabaseUnavailable => write!(formatter, "the database does not answer"),
            Self::BrokerUnavailable => write!(formatter, "the broker does not answer"),
            Self::ConsumerRetrying => write!(formatter, "the consumer is retrying a failure"),
            Self::ConsumerStopped => write!(formatter, "the consumer has stopped"),
            Self::NoPartitionsAssigned { for_seconds } => write!(
                formatter,
                "the consumer has held no partitions for {for_seconds} s while its topic has some"
            ),
            Self::NoProgressWithLag { for_seconds } => write!(
                formatter,
                "the consumer has applied nothing for {for_seconds} s while it has lag"
            ),
        }
    }
}

/// The reasons the service is not ready; a stall counts only once it outlasts `grace`, which
/// covers a group rebalance and a broker's session timeout.
pub fn assess(observation: &ConsumerObservation, grace: Duration) -> Vec<NotReady> {
    let mut reasons = Vec::new();
    let (Some(database), Some(broker)) = (&observation.database, &observation.broker) else {
        reasons.push(NotReady::Starting);
        return reasons;
    };
    if database.is_err() {
        reasons.push(NotReady::DatabaseUnavailable);
    }
    if broker.is_err() {
        reasons.push(NotReady::BrokerUnavailable);
    }
    if observation.stopped {
        reasons.push(NotReady::ConsumerStopped);
    } else if observation.retrying {
        reasons.push(NotReady::ConsumerRetrying);
    }
    if let Some(lasted) = observation
        .without_partitions_for
        .filter(|lasted| *lasted >= grace)
    {
        reasons.push(NotReady::NoPartitionsAssigned {
            for_seconds: lasted.as_secs(),
        });
    }
    if let Some(lasted) = observation.stalled_for.filter(|lasted| *lasted >= grace) {
        reasons.push(NotReady::NoProgressWithLag {
            for_seconds: lasted.as_secs(),
        });
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(15);

    fn healthy() -> ConsumerObservation {
        ConsumerObservation {
            database: Some(Ok(())),
            broker: Some(Ok(())),
            ..ConsumerObservation::default()
        }
    }

    #[test]
    fn a_healthy_consumer_is_ready() {
        assert!(assess(&healthy(), GRACE).is_empty());
    }

    #[test]
    fn nothing_is_ready_before_the_first_check() {
        assert_eq!(
            assess(&ConsumerObservation::default(), GRACE),
            [NotReady::Starting]
        );
    }

    #[test]
    fn holding_no_partitions_is_tolerated_during_the_grace_period_only() {
        let mut observation = healthy();
        observation.without_partitions_for = Some(Duration::from_secs(14));
        assert!(assess(&observation, GRACE).is_empty());
        observation.without_partitions_for = Some(Duration::from_secs(16));
        assert_eq!(
            assess(&observation, GRACE),
            [NotReady::NoPartitionsAssigned { for_seconds: 16 }]
        );
    }

    #[test]
    fn lag_without_progress_past_the_grace_period_is_a_stall() {
        let mut observation = healthy();
        observation.stalled_for = Some(GRACE);
        assert_eq!(
            assess(&observation, GRACE),
            [NotReady::NoProgressWithLag { for_seconds: 15 }]
        );
    }

    #[test]
    fn every_failing_dependency_is_named() {
        let observation = ConsumerObservation {
            database: Some(Err("refused".to_owned())),
            broker: Some(Err("timed out".to_owned())),
            retrying: true,
            ..ConsumerObservation::default()
        };
        assert_eq!(
            assess(&observation, GRACE),
            [
                NotReady::DatabaseUnavailable,
                NotReady::BrokerUnavailable,
                NotReady::ConsumerRetrying
            ]
        );
    }

    #[test]
    fn a_stopped_consumer_is_not_also_reported_retrying() {
        let mut observation = healthy();
        observation.stopped = true;
        observation.retrying = true;
        assert_eq!(assess(&observation, GRACE), [NotReady::ConsumerStopped]);
    }
}
