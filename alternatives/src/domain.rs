//! The rules of the two alternatives, as pure functions over plain data: the polling cursor, which
//! deletions a page still has to apply, and what the direct call's answer means for the DELETE.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use reservation_service::domain::{KnownMember, MemberStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member deletion as member-service tells the reservation side about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedMember {
    pub member_id: Uuid,
    /// The member's version after the deletion, as an event would carry it.
    pub version: i64,
    pub deleted_at: DateTime<Utc>,
}

/// Where the poller has read up to: deletions are served in `(deleted_at, member_id)` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PollCursor {
    pub deleted_at: DateTime<Utc>,
    pub member_id: Uuid,
}

impl PollCursor {
    /// The text form a page hands out as `next_cursor`: `<RFC 3339 time>_<member id>`.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.deleted_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.member_id
        )
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (time, member_id) = text.rsplit_once('_')?;
        Some(Self {
            deleted_at: DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc),
            member_id: member_id.parse().ok()?,
        })
    }

    fn of(deletion: &DeletedMember) -> Self {
        Self {
            deleted_at: deletion.deleted_at,
            member_id: deletion.member_id,
        }
    }
}

/// The stored cursor after a page was applied: the furthest deletion seen, never going back.
pub fn advance(stored: Option<PollCursor>, page: &[DeletedMember]) -> Option<PollCursor> {
    page.iter().map(PollCursor::of).chain(stored).max()
}

/// Where a poll round starts reading: `look_back` before the stored cursor. `deleted_at` is
/// stamped before the deleting transaction commits, so a deletion can become visible after a
/// later-stamped one was read; reading the last moments again (and skipping what was applied)
/// catches it, as long as no deleting transaction takes longer than `look_back` to commit.
pub fn read_from(stored: Option<PollCursor>, look_back: Duration) -> Option<PollCursor> {
    let stored = stored?;
    let look_back = chrono::Duration::from_std(look_back).unwrap_or(chrono::Duration::MAX);
    Some(PollCursor {
        deleted_at: stored
            .deleted_at
            .checked_sub_signed(look_back)
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
        member_id: Uuid::nil(),
    })
}

/// The deletions of `page` the reservation side has not applied yet: those of members it does
/// not know as deleted at that version or later. Re-read deletions (the look-back) and repeated
/// direct calls (a client's retry) so have no second effect.
pub fn deletions_to_apply(
    page: &[DeletedMember],
    known: &HashMap<String, KnownMember>,
) -> Vec<DeletedMember> {
    page.iter()
        .filter(|deletion| {
            !known
                .get(&deletion.member_id.to_string())
                .is_some_and(|member| {
                    member.status == MemberStatus::Deleted && member.version >= deletion.version
                })
        })
        .copied()
        .collect()
}

/// What the direct call's outcome means for the DELETE that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallVerdict {
    /// The reservations are cancelled: delete the member and answer 204.
    Delete,
    /// Refuse the deletion (503, nothing deleted): deleting anyway would lose the cancellation,
    /// since nothing would ever tell reservation-service again.
    Refuse { reason: String },
}

/// Only a 2xx answer proves the cancellation committed; a timeout may or may not have cancelled
/// (cancelling again is harmless), anything else did not.
pub fn verdict(answer: Result<u16, String>) -> CallVerdict {
    match answer {
        Ok(status) if (200..300).contains(&status) => CallVerdict::Delete,
        Ok(status) => CallVerdict::Refuse {
            reason: format!("reservation-service answered {status}"),
        },
        Err(error) => CallVerdict::Refuse {
            reason: format!("reservation-service could not be reached: {error}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deletion(second: u32, id: u128, version: i64) -> DeletedMember {
        DeletedMember {
            member_id: Uuid::from_u128(id),
            version,
            deleted_at: DateTime::from_timestamp(1_800_000_000 + i64::from(second), 0)
                .expect("time"),
        }
    }

    #[test]
    fn a_cursor_survives_its_text_form() {
        let cursor = PollCursor::of(&deletion(3, 7, 2));
        assert_eq!(PollCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(PollCursor::decode("yesterday_7"), None);
        assert_eq!(PollCursor::decode("no separator"), None);
    }

    #[test]
    fn the_cursor_moves_to_the_furthest_deletion_and_never_back() {
        let page = [deletion(5, 1, 2), deletion(9, 2, 2), deletion(9, 1, 2)];
        let advanced = advance(None, &page).expect("cursor");
        assert_eq!(advanced, PollCursor::of(&page[1]));
        let later = PollCursor::of(&deletion(20, 1, 2));
        assert_eq!(advance(Some(later), &page), Some(later));
        assert_eq!(advance(None, &[]), None);
    }

    #[test]
    fn a_round_starts_reading_the_look_back_before_the_cursor() {
        let cursor = PollCursor::of(&deletion(10, 9, 2));
        let start = read_from(Some(cursor), Duration::from_secs(2)).expect("start");
        assert_eq!(start.deleted_at, deletion(8, 0, 0).deleted_at);
        assert_eq!(start.member_id, Uuid::nil());
        assert_eq!(read_from(None, Duration::from_secs(2)), None);
    }

    #[test]
    fn deletions_already_applied_are_skipped_and_others_applied() {
        let page = [deletion(1, 1, 2), deletion(1, 2, 2), deletion(1, 3, 4)];
        let known = HashMap::from([
            (
                Uuid::from_u128(1).to_string(),
                KnownMember {
                    status: MemberStatus::Deleted,
                    version: 2,
                },
            ),
            (
                Uuid::from_u128(2).to_string(),
                KnownMember {
                    status: MemberStatus::Active,
                    version: 1,
                },
            ),
            (
                Uuid::from_u128(3).to_string(),
                KnownMember {
                    status: MemberStatus::Deleted,
                    version: 3,
                },
            ),
        ]);
        let members: Vec<u128> = deletions_to_apply(&page, &known)
            .iter()
            .map(|deletion| deletion.member_id.as_u128())
            .collect();
        assert_eq!(members, [2, 3]);
    }

    #[test]
    fn only_a_successful_answer_lets_the_deletion_happen() {
        assert_eq!(verdict(Ok(204)), CallVerdict::Delete);
        assert!(matches!(verdict(Ok(503)), CallVerdict::Refuse { .. }));
        assert!(matches!(verdict(Ok(404)), CallVerdict::Refuse { .. }));
        assert!(matches!(
            verdict(Err("connection refused".to_owned())),
            CallVerdict::Refuse { .. }
        ));
    }
}
