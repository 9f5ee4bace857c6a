//! `dlq`: the operator's tools on parked events: replay them in their original order, or
//! discard them.
//!
//! A member's parked events are replayed in one transaction under the member's stream lock, the
//! same lock the consumer takes, so a replay and the live consumer never interleave one member's
//! events; and by the consumer's own rules ([`decide_batch`]), so a replayed event has the effect
//! it would have had. Replaying is idempotent: an event at or below the member version already
//! applied has no second effect (a duplicate or stale), and an event no longer parked is
//! reported and left alone.

use sqlx::AnyPool;
use uuid::Uuid;

use crate::{
    db,
    domain::{
        Applied, Arrival, Knowledge, Outcome, ParkedEvent, ParkedStatus, decide_batch, member_ids,
    },
};

/// Which parked events to replay.
#[derive(Clone, Debug)]
pub enum Selection {
    /// This event, after the same member's events parked before it.
    One(Uuid),
    Member(Uuid),
    All,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("no parked event has id {0}")]
    NotFound(Uuid),
    #[error("event {id} is {status:?}, not parked: nothing to do")]
    NotParked { id: Uuid, status: ParkedStatus },
    #[error("a reason is required to discard an event")]
    MissingReason,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What replaying one parked event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    pub id: Uuid,
    pub member_id: Option<String>,
    pub source_partition: i32,
    pub source_offset: i64,
    pub outcome: ReplayOutcome,
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayOutcome {
    Applied(Applied),
    /// It still cannot be applied; the member's events after it were left parked too.
    StillParked,
}

impl ReplayOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied(applied) => applied.as_str(),
            Self::StillParked => "still_parked",
        }
    }
}

/// Replays the selected events; each member's in the order they first arrived. An event that
/// still cannot be decoded stays parked, and so do the member's events after it.
pub async fn replay(pool: &AnyPool, selection: Selection) -> Result<Vec<ReplayReport>, ToolError> {
    let groups: Vec<(Option<String>, Option<Uuid>)> = match selection {
        Selection::One(id) => {
            let mut connection = pool.acquire().await?;
            let parked = db::parked_events::find(&mut connection, id)
                .await?
                .ok_or(ToolError::NotFound(id))?;
            if parked.status != ParkedStatus::Parked {
                return Err(ToolError::NotParked {
                    id,
                    status: parked.status,
                });
            }
            vec![(parked.member_id, Some(id))]
        }
        Selection::Member(member_id) => vec![(Some(member_id.to_string()), None)],
        Selection::All => {
            let mut connection = pool.acquire().await?;
            let parked =
                db::parked_events::list(&mut connection, Some(ParkedStatus::Parked), i64::MAX)
                    .await?;
            let mut groups: Vec<(Option<String>, Option<Uuid>)> = Vec::new();
            for event in parked {
                match event.member_id {
                    // Events without a member are replayed one by one.
                    None => groups.push((None, Some(event.id))),
                    Some(member_id) => {
                        if !groups
                            .iter()
                            .any(|(known, _)| known.as_ref() == Some(&member_id))
                        {
                            groups.push((Some(member_id), None));
                        }
                    }
                }
            }
            groups
        }
    };
    let mut reports = Vec::new();
    for (member_id, up_to) in groups {
        reports.extend(replay_group(pool, member_id.as_deref(), up_to).await?);
    }
    Ok(reports)
}

/// Replays a member's parked events up to and including `up_to` (all when `None`); or, for an
/// event with no member, that event alone.
async fn replay_group(
    pool: &AnyPool,
    member_id: Option<&str>,
    up_to: Option<Uuid>,
) -> Result<Vec<ReplayReport>, ToolError> {
    let now = db::time::now();
    let mut transaction = pool.begin().await?;
    let events = match member_id {
        Some(member_id) => {
            db::member_streams::lock(&mut transaction, member_id).await?;
            let mut events =
                db::parked_events::parked_of_member(&mut transaction, member_id).await?;
            if let Some(id) = up_to {
                // Replayed by someone else meanwhile: then there is nothing left to do.
                match events.iter().position(|event| event.id == id) {
                    Some(position) => events.truncate(position + 1),
                    None => events.clear(),
                }
            }
            events
        }
        None => match up_to {
            Some(id) => db::parked_events::find(&mut transaction, id)
                .await?
                .into_iter()
                .collect(),
            None => Vec::new(),
        },
    };
    let arrivals: Vec<Arrival> = events.iter().map(Arrival::of_parked).collect();
    let member_ids = member_ids(&arrivals);
    // The events being replayed are the parked ones: nothing else holds them back.
    let knowledge = Knowledge {
        parked: Vec::new(),
        ..db::batch::knowledge(&mut transaction, &arrivals, &member_ids).await?
    };
    let decisions = decide_batch(&knowledge, &arrivals, None, now);
    // Order first: the member's events after one that still cannot be applied stay parked.
    let replayable = decisions
        .iter()
        .take_while(|decision| decision.parking().is_none())
        .count();
    let outcomes = db::batch::write(
        &mut transaction,
        &arrivals[..replayable],
        &decisions[..replayable],
        now,
    )
    .await?;
    let mut reports = Vec::with_capacity(replayable + 1);
    for (event, outcome) in events.iter().zip(outcomes) {
        if let Outcome::Applied(applied) = outcome {
            let resolution = applied.as_str();
            db::parked_events::resolve(
                &mut transaction,
                event.id,
                ParkedStatus::Replayed,
                resolution,
                now,
            )
            .await?;
            reports.push(report(event, ReplayOutcome::Applied(applied), None));
        }
    }
    if let (Some(event), Some(Err(rejection))) = (
        events.get(replayable),
        arrivals.get(replayable).map(|arrival| &arrival.event),
    ) {
        reports.push(report(
            event,
            ReplayOutcome::StillParked,
            Some(format!(
                "{rejection}; discard it (dlq discard) to release the events behind it"
            )),
        ));
    }
    transaction.commit().await?;
    Ok(reports)
}

/// Marks a parked event discarded, with the operator's reason. The member's events parked
/// behind it stay parked until replayed.
pub async fn discard(pool: &AnyPool, id: Uuid, reason: &str) -> Result<ParkedEvent, ToolError> {
    if reason.trim().is_empty() {
        return Err(ToolError::MissingReason);
    }
    let mut transaction = pool.begin().await?;
    let parked = db::parked_events::find(&mut transaction, id)
        .await?
        .ok_or(ToolError::NotFound(id))?;
    if let Some(member_id) = &parked.member_id {
        db::member_streams::lock(&mut transaction, member_id).await?;
    }
    let now = db::time::now();
    if !db::parked_events::resolve(&mut transaction, id, ParkedStatus::Discarded, reason, now)
        .await?
    {
        return Err(ToolError::NotParked {
            id,
            status: parked.status,
        });
    }
    let discarded = db::parked_events::find(&mut transaction, id)
        .await?
        .ok_or(ToolError::NotFound(id))?;
    transaction.commit().await?;
    Ok(discarded)
}

fn report(event: &ParkedEvent, outcome: ReplayOutcome, detail: Option<String>) -> ReplayReport {
    ReplayReport {
        id: event.id,
        member_id: event.member_id.clone(),
        source_partition: event.source_partition,
        source_offset: event.source_offset,
        outcome,
        detail,
    }
}
