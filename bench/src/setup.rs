//! Set-up: members registered and given reservations over HTTP, as clients would.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{error::BenchError, system::BenchSystem};

/// How long a reservation may wait for reservation-service to hear of its member.
const KNOWN_MEMBER_DEADLINE: Duration = Duration::from_secs(60);

/// Registers `count` members with `reservations_per_member` reservations each, `concurrency`
/// requests at a time, and returns their ids.
pub async fn populate(
    system: &BenchSystem,
    count: usize,
    reservations_per_member: usize,
    concurrency: usize,
) -> Result<Vec<Uuid>, BenchError> {
    let progress = ProgressBar::new((count * (1 + reservations_per_member)) as u64);
    if let Ok(style) =
        ProgressStyle::with_template("set-up {bar:40} {pos}/{len} requests ({per_sec}, {eta})")
    {
        progress.set_style(style);
    }
    let members: Vec<Uuid> = stream::iter(0..count)
        .map(|_| async {
            let member_id = register_member(system).await?;
            progress.inc(1);
            Ok::<_, BenchError>(member_id)
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    stream::iter(
        members
            .iter()
            .flat_map(|member_id| std::iter::repeat_n(*member_id, reservations_per_member)),
    )
    .map(|member_id| {
        let progress = &progress;
        async move {
            reserve(system, member_id).await?;
            progress.inc(1);
            Ok::<_, BenchError>(())
        }
    })
    .buffer_unordered(concurrency)
    .try_collect::<()>()
    .await?;
    progress.finish_and_clear();
    Ok(members)
}

async fn register_member(system: &BenchSystem) -> Result<Uuid, BenchError> {
    let unique = Uuid::now_v7().simple();
    let response = system
        .http()
        .post(format!("{}/members", system.member_url))
        .json(&json!({ "name": "Bench Member", "email": format!("bench-{unique}@example.com") }))
        .send()
        .await
        .map_err(BenchError::http("POST /members"))?;
    let body = expect_status(response, StatusCode::CREATED, "POST /members").await?;
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| BenchError::UnexpectedStatus {
            what: "POST /members",
            status: StatusCode::CREATED.as_u16(),
            body: body.to_string(),
        })
}

/// Reserves a fresh resource, retrying while reservation-service has not yet heard of the
/// member (422): registration reaches it through the broker, not at once.
async fn reserve(system: &BenchSystem, member_id: Uuid) -> Result<(), BenchError> {
    let give_up = tokio::time::Instant::now() + KNOWN_MEMBER_DEADLINE;
    let resource = format!("room-{}", Uuid::now_v7().simple());
    loop {
        let Some(reservation_url) = system.reservation_url() else {
            return Err(BenchError::Timeout {
                what: "reservation-service to run",
                after: Duration::ZERO,
            });
        };
        let response = system
            .http()
            .post(format!("{reservation_url}/reservations"))
            .json(&json!({
                "member_id": member_id,
                "resource": resource,
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T11:00:00Z",
            }))
            .send()
            .await
            .map_err(BenchError::http("POST /reservations"))?;
        if response.status() != StatusCode::UNPROCESSABLE_ENTITY {
            expect_status(response, StatusCode::CREATED, "POST /reservations").await?;
            return Ok(());
        }
        if tokio::time::Instant::now() >= give_up {
            return Err(BenchError::Timeout {
                what: "reservation-service to learn of a registered member",
                after: KNOWN_MEMBER_DEADLINE,
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn expect_status(
    response: reqwest::Response,
    expected: StatusCode,
    what: &'static str,
) -> Result<Value, BenchError> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status == expected {
        Ok(body)
    } else {
        Err(BenchError::UnexpectedStatus {
            what,
            status: status.as_u16(),
            body: body.to_string(),
        })
    }
}
