use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ValidationError;

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
        let resource = resource.trim();
        if resource.is_empty() {
            errors.push(ValidationError::new("resource", "must not be empty"));
        } else if resource.chars().count() > Self::MAX_RESOURCE_CHARACTERS {
            errors.push(ValidationError::new(
                "resource",
                format!(
                    "must be at most {} characters",
                    Self::MAX_RESOURCE_CHARACTERS
                ),
            ));
        }
        if ends_at <= starts_at {
            errors.push(ValidationError::new("ends_at", "must be after starts_at"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            member_id,
            resource: resource.to_owned(),
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
