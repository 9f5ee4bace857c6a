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
    /// The event is older than (or as old as) what was already applied: no effect.
    Stale,
}

/// Versions only grow, so an event at or below the applied version is a replay or arrived out of
/// order, and is ignored. A deleted member stays deleted whatever comes later.
pub fn decide(known: Option<KnownMember>, event: &MemberEventData) -> MemberChange {
    let version = i64::try_from(event.member_version()).unwrap_or(i64::MAX);
    if let Some(known) = known
        && (version <= known.version || known.status == MemberStatus::Deleted)
    {
        return MemberChange::Stale;
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
    fn old_and_repeated_versions_are_stale() {
        assert_eq!(
            decide(known(MemberStatus::Deleted, 2), &registered(1)),
            MemberChange::Stale
        );
        assert_eq!(
            decide(known(MemberStatus::Deleted, 2), &deleted(2)),
            MemberChange::Stale
        );
        assert_eq!(
            decide(known(MemberStatus::Active, 1), &registered(1)),
            MemberChange::Stale
        );
    }

    #[test]
    fn deleted_members_stay_deleted() {
        assert_eq!(
            decide(known(MemberStatus::Deleted, 2), &registered(3)),
            MemberChange::Stale
        );
    }
}
