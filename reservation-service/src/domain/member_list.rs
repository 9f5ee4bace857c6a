//! The local member list and the rule for applying member events to it.

use event_schema::MemberEventData;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    Active,
    Deleted,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// What this service knows of a member: its status and the last version applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownMember {
    pub status: MemberStatus,
    pub version: i64,
}

/// What an event does to the member list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// Record the member as active at this version.
    Activate { version: i64 },
    /// Record the member as deleted at this version and cancel its active reservations.
    Delete { version: i64 },
    /// Older than the version applied, or later than the member's deletion: overtaken, no
    /// effect.
    Stale,
    /// Exactly the version applied: this very event, delivered again, no effect.
    Duplicate,
}

/// The member version is the per-member idempotency key: member-service gives each change of a
/// member the next version, so one version is one event, and the member list's version is the
/// last one applied. An event at that version was applied before (a redelivery, or a retried
/// publish); one below it was overtaken (out of order, or a redelivery of an earlier event).
/// A deleted member stays deleted whatever comes later. No record of event ids is needed.
pub fn decide(known: Option<KnownMember>, event: &MemberEventData) -> MemberChange {
    let version = i64::try_from(event.member_version()).unwrap_or(i64::MAX);
    if let Some(known) = known {
        if version == known.version {
            return MemberChange::Duplicate;
        }
        if version < known.version || known.status == MemberStatus::Deleted {
            return MemberChange::Stale;
        }
    }
    match event {
        MemberEventData::Registered(_) => MemberChange::Activate { version },
        MemberEventData::Deleted(_) => MemberChange::Delete { version },
    }
}

#[cfg(test)]
mod tests {
    use event_schema::{MemberDeleted, MemberRegistered};
    use uuid::Uuid;

    use super::*;

    fn registered(version: u64) -> MemberEventData {
        MemberEventData::Registered(MemberRegistered {
            member_id: Uuid::nil(),
            member_version: version,
        })
    }

    fn deleted(version: u64) -> MemberEventData {
        MemberEventData::Deleted(MemberDeleted {
            member_id: Uuid::nil(),
            member_version: version,
        })
    }

    fn known(status: MemberStatus, version: i64) -> Option<KnownMember> {
        Some(KnownMember { status, version })
    }

    #[test]
    fn newer_events_apply() {
        assert_eq!(
            decide(None, &registered(1)),
            MemberChange::Activate { version: 1 }
        );
        assert_eq!(
            decide(known(MemberStatus::Active, 1), &deleted(2)),
            MemberChange::Delete { version: 2 }
        );
    }

    #[test]
    fn a_deletion_seen_before_its_registration_still_deletes() {
        assert_eq!(
            decide(None, &deleted(2)),
            MemberChange::Delete { version: 2 }
        );
    }

    #[test]
    fn older_versions_are_stale() {
        assert_eq!(
            decide(known(MemberStatus::Deleted, 2), &registered(1)),
            MemberChange::Stale
        );
        assert_eq!(
            decide(known(MemberStatus::Active, 3), &deleted(2)),
            MemberChange::Stale
        );
    }

    #[test]
    fn the_version_applied_is_a_duplicate_whatever_the_members_status() {
        assert_eq!(
            decide(known(MemberStatus::Active, 1), &registered(1)),
            MemberChange::Duplicate
        );
        assert_eq!(
            decide(known(MemberStatus::Deleted, 2), &deleted(2)),
            MemberChange::Duplicate
        );
    }

    #[test]
    fn a_registration_overtaken_by_its_deletion_is_stale_once_the_deletion_applied() {
        let deletion = decide(None, &deleted(2));
        assert_eq!(deletion, MemberChange::Delete { version: 2 });
        let after_deletion = known(MemberStatus::Deleted, 2);
        assert_eq!(decide(after_deletion, &registered(1)), MemberChange::Stale);
        assert_eq!(decide(after_deletion, &deleted(2)), MemberChange::Duplicate);
    }

    #[test]
    fn deleted_members_stay_deleted() {
        assert_eq!(
            decide(known(MemberStatus::Deleted, 2), &registered(3)),
            MemberChange::Stale
        );
    }
}
