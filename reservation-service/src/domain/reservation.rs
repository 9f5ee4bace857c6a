use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ValidationError, validation::parse_text};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationStatus {
    Active,
    Cancelled,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancellationReason {
    MemberDeleted,
    CancelledByUser,
}

impl CancellationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemberDeleted => "member_deleted",
            Self::CancelledByUser => "cancelled_by_user",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "member_deleted" => Some(Self::MemberDeleted),
            "cancelled_by_user" => Some(Self::CancelledByUser),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub id: Uuid,
    pub member_id: Uuid,
    pub resource: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: ReservationStatus,
    pub cancellation_reason: Option<CancellationReason>,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// The earliest time a reservation may start or end.
pub fn earliest() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest: a year of four digits, the form times are stored and ordered in.
pub fn latest() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|day| day.and_hms_opt(23, 59, 59))
        .map_or(DateTime::UNIX_EPOCH, |time| time.and_utc())
}

/// A reservation request that passed every rule that needs no database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReservation {
    pub member_id: Uuid,
    pub resource: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl NewReservation {
    pub const MAX_RESOURCE_CHARACTERS: usize = 200;

    pub fn parse(
        member_id: Uuid,
        resource: &str,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<Self, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let resource = parse_text("resource", resource, Self::MAX_RESOURCE_CHARACTERS)
            .map_err(|error| errors.push(error))
            .unwrap_or_default();
        for (field, time) in [("starts_at", starts_at), ("ends_at", ends_at)] {
            if !(earliest()..=latest()).contains(&time) {
                errors.push(ValidationError::new(
                    field,
                    "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
                ));
            }
        }
        if ends_at <= starts_at {
            errors.push(ValidationError::new("ends_at", "must be after starts_at"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            member_id,
            resource,
            starts_at,
            ends_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn a_reservation_must_end_after_it_starts() {
        let start = Utc::now();
        for end in [start, start - TimeDelta::minutes(1)] {
            let errors =
                NewReservation::parse(Uuid::now_v7(), "room", start, end).expect_err("invalid");
            assert_eq!(errors[0].field, "ends_at");
        }
        assert!(
            NewReservation::parse(Uuid::now_v7(), "room", start, start + TimeDelta::minutes(1))
                .is_ok()
        );
    }

    #[test]
    fn times_outside_the_stored_range_are_refused() {
        let far = latest() + TimeDelta::days(1);
        let errors = NewReservation::parse(Uuid::now_v7(), "room", latest(), far)
            .expect_err("past year 9999");
        assert_eq!(errors[0].field, "ends_at");
        let before = earliest() - TimeDelta::hours(1);
        let errors = NewReservation::parse(Uuid::now_v7(), "room", before, earliest())
            .expect_err("before 1970");
        assert_eq!(errors[0].field, "starts_at");
        assert!(NewReservation::parse(Uuid::now_v7(), "room", earliest(), latest()).is_ok());
    }

    #[test]
    fn resources_refuse_control_characters_and_bidirectional_controls() {
        let start = Utc::now();
        for resource in ["room\u{0}x", "\u{202e}", "a\nb", "\u{200b}\u{200b}"] {
            let errors =
                NewReservation::parse(Uuid::now_v7(), resource, start, start + TimeDelta::hours(1))
                    .expect_err("refused");
            assert_eq!(errors[0].field, "resource", "{resource:?}");
        }
    }

    #[test]
    fn a_resource_is_named() {
        let start = Utc::now();
        let errors =
            NewReservation::parse(Uuid::now_v7(), "  ", start, start + TimeDelta::hours(1))
                .expect_err("invalid");
        assert_eq!(errors[0].field, "resource");
    }

    #[test]
    fn statuses_and_reasons_round_trip_through_text() {
        for status in [ReservationStatus::Active, ReservationStatus::Cancelled] {
            assert_eq!(ReservationStatus::parse(status.as_str()), Some(status));
        }
        for reason in [
            CancellationReason::MemberDeleted,
            CancellationReason::CancelledByUser,
        ] {
            assert_eq!(CancellationReason::parse(reason.as_str()), Some(reason));
        }
    }
}
