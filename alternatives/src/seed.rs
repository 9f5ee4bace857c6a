//! Set-up of the two alternatives: members and their reservations written straight into the two
//! databases with the services' own queries. How the reservation side first hears of a member
//! is not what is compared (the events way learns it from its event, over HTTP set-up); only
//! the deletion is, so the set-up takes the short road.

use member_service::domain::NewMember;
use reservation_service::domain::{KnownMember, MemberStatus, NewReservation};
use sqlx::AnyPool;
use uuid::Uuid;

/// Members per transaction.
const CHUNK: usize = 200;

pub async fn populate(
    member_pool: &AnyPool,
    reservation_pool: &AnyPool,
    count: usize,
    reservations_per_member: usize,
) -> anyhow::Result<Vec<Uuid>> {
    let mut members = Vec::with_capacity(count);
    let mut remaining = count;
    while remaining > 0 {
        let chunk = remaining.min(CHUNK);
        remaining -= chunk;
        let registered = register(member_pool, chunk).await?;
        reserve(reservation_pool, &registered, reservations_per_member).await?;
        members.extend(registered);
    }
    Ok(members)
}

async fn register(pool: &AnyPool, count: usize) -> anyhow::Result<Vec<Uuid>> {
    let mut transaction = pool.begin().await?;
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let email = format!("alternative-{}@example.com", Uuid::now_v7().simple());
        let new_member = NewMember::parse("Alternative Member", &email)
            .map_err(|errors| anyhow::anyhow!("set-up member is invalid: {errors:?}"))?;
        let member = member_service::db::members::insert(&mut transaction, &new_member).await?;
        members.push(member.id);
    }
    transaction.commit().await?;
    Ok(members)
}

async fn reserve(pool: &AnyPool, members: &[Uuid], per_member: usize) -> anyhow::Result<()> {
    let mut transaction = pool.begin().await?;
    let now = reservation_service::db::time::now();
    let known: Vec<(String, KnownMember)> = members
        .iter()
        .map(|member_id| {
            let status = MemberStatus::Active;
            (member_id.to_string(), KnownMember { status, version: 1 })
        })
        .collect();
    reservation_service::db::member_list::upsert_all(&mut transaction, &known, now).await?;
    let starts_at = chrono::DateTime::parse_from_rfc3339("2030-01-01T10:00:00Z")?.to_utc();
    for member_id in members {
        for _ in 0..per_member {
            let reservation = NewReservation {
                member_id: *member_id,
                resource: format!("room-{}", Uuid::now_v7().simple()),
                starts_at,
                ends_at: starts_at + chrono::Duration::hours(1),
            };
            reservation_service::db::reservations::insert(&mut transaction, &reservation, now)
                .await?;
        }
    }
    transaction.commit().await?;
    Ok(())
}
