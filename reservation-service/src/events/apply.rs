//! Applying one member event: one transaction that changes the member list, cancels what must be
//! cancelled, and records the event id.

use chrono::{SubsecRound, Utc};
use event_schema::MemberEvent;
use sqlx::AnyPool;

use crate::{
    db,
    domain::{self, CancellationReason, MemberChange, MemberStatus},
};

/// What applying an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Activated,
    Deleted {
        reservations_cancelled: u64,
    },
    /// Older than the member version already applied: recorded, no effect.
    Stale,
    /// This event id was applied before: no effect at all.
    Duplicate,
}

impl Applied {
    fn outcome(self) -> &'static str {
        match self {
            Self::Activated => "activated",
            Self::Deleted { .. } => "deleted",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
        }
    }
}

/// Applies `event` exactly once, however often it is delivered. An error means nothing was
/// changed and the event must be retried.
pub async fn apply_member_event(
    pool: &AnyPool,
    event: &MemberEvent,
) -> Result<Applied, sqlx::Error> {
    let now = Utc::now().trunc_subsecs(6);
    let member_id = event.member_id();
    let mut transaction = pool.begin().await?;
    let known = db::member_list::find(&mut transaction, member_id).await?;
    let applied = match domain::decide(known, &event.payload) {
        MemberChange::Stale => Applied::Stale,
        MemberChange::Activate { version } => {
            db::member_list::upsert(
                &mut transaction,
                member_id,
                MemberStatus::Active,
                version,
                now,
            )
            .await?;
            Applied::Activated
        }
        MemberChange::Delete { version } => {
            // The member row is written first: it is the lock new reservations wait on.
            db::member_list::upsert(
                &mut transaction,
                member_id,
                MemberStatus::Deleted,
                version,
                now,
            )
            .await?;
            let reservations_cancelled = db::reservations::cancel_all_of_member(
                &mut transaction,
                member_id,
                CancellationReason::MemberDeleted,
                now,
            )
            .await?;
            Applied::Deleted {
                reservations_cancelled,
            }
        }
    };
    if !db::processed_events::record(&mut transaction, event, applied.outcome(), now).await? {
        transaction.rollback().await?;
        return Ok(Applied::Duplicate);
    }
    transaction.commit().await?;
    Ok(applied)
}
