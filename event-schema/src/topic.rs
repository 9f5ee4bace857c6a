//! Names of topics and consumer groups. Deployments may override them (tests use unique names),
//! but every default comes from here.

/// A Kafka topic of this system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// Every member change, keyed by member id so that one member's events stay in order.
    MemberEvents,
    /// Member events a consumer could not process, parked with the reason in headers.
    MemberEventsDeadLetter,
}

impl Topic {
    pub const fn name(self) -> &'static str {
        match self {
            Self::MemberEvents => "member-events",
            Self::MemberEventsDeadLetter => "member-events.dead-letter",
        }
    }

    /// Partitions to create the topic with. Per-member order needs only the key; partitions are
    /// the unit of consumer parallelism.
    pub const fn partitions(self) -> i32 {
        match self {
            Self::MemberEvents => 3,
            Self::MemberEventsDeadLetter => 1,
        }
    }
}

/// A Kafka consumer group of this system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerGroup {
    /// reservation-service's member-event consumer: replicas share the partitions.
    ReservationService,
    /// `stack events tail`: a second group, so it sees every event too (fan-out).
    EventsTail,
}

impl ConsumerGroup {
    pub const fn name(self) -> &'static str {
        match self {
            Self::ReservationService => "reservation-service",
            Self::EventsTail => "events-tail",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_distinct() {
        assert_ne!(
            Topic::MemberEvents.name(),
            Topic::MemberEventsDeadLetter.name()
        );
    }
}
