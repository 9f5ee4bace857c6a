//! One run: for each way in turn, on a system of its own (same backend): a steady deletion load,
//! the same load across a reservation-service outage, and for polling, the load with
//! member-service slowed down.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    load::{self, Deletion},
    measure::{self, OutageFigures, PhaseFigures},
    options::Plan,
    ways::{Way, WaySystem},
};

/// What one way measured.
#[derive(Clone, Debug)]
pub struct WayResult {
    pub way: Way,
    pub steady: PhaseFigures,
    /// Requests between the services per second during the steady load.
    pub requests_per_second: f64,
    /// Milliseconds per second the answering side spent in those requests' handlers.
    pub handler_ms_per_second: f64,
    /// CPU of the whole process during the steady load, in percent of one core.
    pub process_cpu_percent: Option<f64>,
    pub outage: OutageFigures,
    /// The outage phase, for the plot and the CSV.
    pub outage_load: PhaseLoad,
    pub slow: Option<PhaseFigures>,
}

/// A phase's deletions and cancellation times, with its start and (outage) stop and restart.
#[derive(Clone, Debug, Default)]
pub struct PhaseLoad {
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub restarted_at: Option<DateTime<Utc>>,
    pub deletions: Vec<Deletion>,
    pub cancelled: HashMap<Uuid, DateTime<Utc>>,
}

pub async fn run(plan: &Plan) -> anyhow::Result<Vec<WayResult>> {
    // The product's member-service wants a token; the alternatives' own servers ignore it.
    let http = reqwest::Client::builder()
        .default_headers(system_tests::auth::authorization(
            &system_tests::auth::staff_token(),
        ))
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut results = Vec::new();
    for way in Way::ALL {
        eprintln!("{}: starting", way.name());
        let mut system = WaySystem::start(way, plan).await?;
        let result = measure_way(way, &mut system, plan, &http).await;
        system.shut_down().await?;
        results.push(result?);
    }
    Ok(results)
}

async fn measure_way(
    way: Way,
    system: &mut WaySystem,
    plan: &Plan,
    http: &reqwest::Client,
) -> anyhow::Result<WayResult> {
    eprintln!(
        "{}: steady load, {:.0}/s for {:?}",
        way.name(),
        plan.rate,
        plan.steady
    );
    let members = system.populate(plan.members_for(plan.steady), plan).await?;
    let cpu_before = measure::process_cpu_seconds();
    let work_before = system.requests_between_services();
    let started = std::time::Instant::now();
    let deletions =
        load::delete_at_rate(system.http(http), system.member_url(), members, plan.rate).await;
    let elapsed = started.elapsed().as_secs_f64().max(f64::EPSILON);
    let work = system.requests_between_services().since(&work_before);
    let cpu = measure::process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| (after - before) / elapsed * 100.0);
    let cancelled = measure::wait_for_cancellations(
        &system.reservation_pool(),
        &deletions,
        plan.cancellation_deadline,
    )
    .await?;
    let steady = measure::phase_figures(&deletions, &cancelled);

    let outage_load = outage(way, system, plan, http).await?;
    let outage = measure::outage_figures(
        &outage_load.deletions,
        &outage_load.cancelled,
        outage_load.stopped_at.unwrap_or_default(),
        outage_load.restarted_at.unwrap_or_default(),
    );
    let slow = if way == Way::Polling {
        Some(slow_member_side(system, plan, http).await?)
    } else {
        None
    };
    Ok(WayResult {
        way,
        steady,
        requests_per_second: work.requests as f64 / elapsed,
        handler_ms_per_second: work.busy.as_secs_f64() * 1_000.0 / elapsed,
        process_cpu_percent: cpu,
        outage,
        outage_load,
        slow,
    })
}

/// The load runs throughout; reservation-service stops after `before_outage` and starts again
/// `outage` later, while the load goes on for `after_outage`.
async fn outage(
    way: Way,
    system: &mut WaySystem,
    plan: &Plan,
    http: &reqwest::Client,
) -> anyhow::Result<PhaseLoad> {
    let length = plan.before_outage + plan.outage + plan.after_outage;
    let members = system.populate(plan.members_for(length), plan).await?;
    eprintln!(
        "{}: reservation-service stopped for {:?} in {:?} of load",
        way.name(),
        plan.outage,
        length
    );
    let started = tokio::time::Instant::now();
    let started_at = Utc::now();
    let load = tokio::spawn(load::delete_at_rate(
        system.http(http),
        system.member_url(),
        members,
        plan.rate,
    ));
    tokio::time::sleep_until(started + plan.before_outage).await;
    let stopped_at = Utc::now();
    system.stop_reservation_side().await?;
    tokio::time::sleep_until(started + plan.before_outage + plan.outage).await;
    let restarted_at = Utc::now();
    system.start_reservation_side().await?;
    let deletions = load.await?;
    let cancelled = measure::wait_for_cancellations(
        &system.reservation_pool(),
        &deletions,
        plan.cancellation_deadline,
    )
    .await?;
    Ok(PhaseLoad {
        started_at: Some(started_at),
        stopped_at: Some(stopped_at),
        restarted_at: Some(restarted_at),
        deletions,
        cancelled,
    })
}

async fn slow_member_side(
    system: &mut WaySystem,
    plan: &Plan,
    http: &reqwest::Client,
) -> anyhow::Result<PhaseFigures> {
    eprintln!(
        "polling: member-service slowed by {:?} per request for {:?}",
        plan.slow_member_delay, plan.slow
    );
    let members = system.populate(plan.members_for(plan.slow), plan).await?;
    system.slow_member_side(plan.slow_member_delay);
    let deletions =
        load::delete_at_rate(system.http(http), system.member_url(), members, plan.rate).await;
    // Cancellations may still be waiting on slow polls: the delay stays until they are in.
    let cancelled = measure::wait_for_cancellations(
        &system.reservation_pool(),
        &deletions,
        plan.cancellation_deadline,
    )
    .await;
    system.slow_member_side(Duration::ZERO);
    Ok(measure::phase_figures(&deletions, &cancelled?))
}
