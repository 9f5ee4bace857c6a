//! One benchmark run: baseline, maximum rate, paced rate, consumer outage.

use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use crate::{
    amplification::Amplification,
    baseline,
    error::BenchError,
    hops,
    load::{self, LoadOutcome},
    observability,
    options::{Options, Plan},
    propagation,
    report::{Outage, Phase, Report},
    resources::Meter,
    setup,
    system::BenchSystem,
    timeline::Timeline,
    write_counters,
};

/// How long the consumer may take to catch up after a phase before the run fails.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(300);
/// The timeline's counts scan two tables: every 250 ms keeps the bench's own share of the
/// database's CPU small (every 100 ms it took about 7 % of a core on PostgreSQL).
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

pub async fn run(options: &Options) -> Result<Report, BenchError> {
    let plan = options.plan();
    let mut system = BenchSystem::start(options).await?;
    write_counters::prepare(&system).await?;
    let mut timeline = Timeline::start(&system, SAMPLE_EVERY);
    let mut deleted_so_far = 0usize;
    let mut report = Report {
        backend: system.describe(),
        concurrency: plan.concurrency,
        reservations_per_member: plan.reservations_per_member,
        ..Report::default()
    };

    timeline.mark("baseline");
    eprintln!("raw single-row commits, {} clients…", plan.concurrency);
    let meter = start_meter(&system);
    report.baseline = Some(
        baseline::raw_commit_rate(&system.scratch_database(), plan.concurrency, plan.baseline)
            .await?,
    );
    report.baseline_resources = meter.finish().await;

    let members = populate(&system, &plan, plan.max_rate_deletions, &mut timeline).await?;
    timeline.mark("max rate");
    eprintln!("deleting {} members as fast as possible…", members.len());
    let metrics_before = hops::Snapshot::read(&system).await;
    let meter = start_meter(&system);
    let outcome = load::delete_as_fast_as_possible(
        system.http(),
        &system.member_url,
        members,
        plan.concurrency,
    )
    .await;
    report.max_rate = finish_phase(
        &system,
        format!("max rate, {} clients", plan.concurrency),
        outcome,
        &mut deleted_so_far,
        meter,
    )
    .await?;
    report.max_rate.hops = metrics_before.breakdown(&hops::Snapshot::read(&system).await);

    let rate = plan
        .rate
        .unwrap_or(report.max_rate.end_to_end_rate / 2.0)
        .max(1.0);
    report.paced_target_rate = rate;
    let members = populate(
        &system,
        &plan,
        load::members_for(rate, plan.paced),
        &mut timeline,
    )
    .await?;
    timeline.mark("paced");
    eprintln!("deleting at {rate:.1}/s for {:?}…", plan.paced);
    let metrics_before = hops::Snapshot::read(&system).await;
    let meter = start_meter(&system);
    let outcome =
        load::delete_at_rate(system.http(), &system.member_url, members, rate, plan.paced).await;
    report.paced = finish_phase(
        &system,
        format!("paced at {rate:.1}/s"),
        outcome,
        &mut deleted_so_far,
        meter,
    )
    .await?;
    report.paced.hops = metrics_before.breakdown(&hops::Snapshot::read(&system).await);

    if !plan.outage.is_zero() {
        report.outage = Some(
            consumer_outage(&mut system, &plan, rate, &mut timeline, &mut deleted_so_far).await?,
        );
    }
    if plan.counted_deletions > 0 {
        let (amplification, phase) =
            count_writes(&mut system, &plan, &mut timeline, &mut deleted_so_far).await?;
        report.amplification = Some(amplification);
        report.counted = Some(phase);
    }
    if plan.observability_deletions > 0 {
        report.observability = Some(
            observability::measure(&mut system, &plan, &mut timeline, &mut deleted_so_far).await?,
        );
    }
    system.check_running()?;
    let (samples, marks) = timeline.finish().await;
    report.samples = samples;
    report.marks = marks;
    system.shut_down().await?;
    Ok(report)
}

pub(crate) async fn populate(
    system: &BenchSystem,
    plan: &Plan,
    count: usize,
    timeline: &mut Timeline,
) -> Result<Vec<Uuid>, BenchError> {
    timeline.mark("set-up");
    eprintln!(
        "set-up: {count} members with {} reservations each…",
        plan.reservations_per_member
    );
    let members = setup::populate(
        system,
        count,
        plan.reservations_per_member,
        plan.concurrency,
    )
    .await?;
    settle_databases(system).await;
    Ok(members)
}

/// On PostgreSQL, after each set-up and before its deletions: `VACUUM (ANALYZE)` of both
/// databases and a `CHECKPOINT`, as pgbench vacuums before a run. Without them, autovacuum's
/// work on the set-up's rows (vacuum and analyze after tens of thousands of inserts) and the
/// flushing of its writes fell inside the first 4-9 s of some phases and not others: p90 near
/// 100 ms there, and a p99 of 100-200 ms instead of about 20 (the stall ended when PostgreSQL's
/// log showed the autovacuum done). After the checkpoint, every deletion also pays what it pays
/// in production, where a member is deleted long after it registered: the first change to a
/// page after a checkpoint writes the whole page to the WAL. A role that may not (no
/// `pg_checkpoint`, not the owner) leaves the run going, and it says so.
async fn settle_databases(system: &BenchSystem) {
    if system.postgres_databases().is_none() {
        return;
    }
    for pool in [&system.member_pool, &system.reservation_pool] {
        if let Err(error) = sqlx::raw_sql("VACUUM (ANALYZE)").execute(pool).await {
            eprintln!("no VACUUM after the set-up ({error}): autovacuum may run inside the phase");
        }
    }
    if let Err(error) = sqlx::query("CHECKPOINT").execute(&system.member_pool).await {
        eprintln!(
            "no CHECKPOINT after the set-up ({error}): its writes may still be flushing when the phase starts"
        );
    }
}

pub(crate) fn start_meter(system: &BenchSystem) -> Meter {
    Meter::start(system.watched.clone(), system.postgres_databases())
}

/// The last phase: deletions as fast as possible between two readings of the databases' write
/// counters, so that each deletion's rows and statements can be told apart from set-up.
async fn count_writes(
    system: &mut BenchSystem,
    plan: &Plan,
    timeline: &mut Timeline,
    deleted_so_far: &mut usize,
) -> Result<(Amplification, Phase), BenchError> {
    let members = populate(system, plan, plan.counted_deletions, timeline).await?;
    eprintln!("counting the writes of {} deletions…", members.len());
    if system.postgres_admin_url.is_none() {
        write_counters::prepare_counting_triggers(system).await?;
    }
    let before = write_counters::read(system).await?;
    timeline.mark("counted");
    let meter = start_meter(system);
    let outcome = load::delete_as_fast_as_possible(
        system.http(),
        &system.member_url,
        members,
        plan.concurrency,
    )
    .await;
    let phase = finish_phase(
        system,
        format!("counted, {} clients", plan.concurrency),
        outcome,
        deleted_so_far,
        meter,
    )
    .await?;
    let after = write_counters::read(system).await?;
    Ok((
        Amplification::between(
            &before,
            &after,
            phase.deletions,
            plan.reservations_per_member,
        ),
        phase,
    ))
}

/// Waits for the consumer to apply the phase's deletions, then reads their propagation.
pub(crate) async fn finish_phase(
    system: &BenchSystem,
    name: String,
    outcome: LoadOutcome,
    deleted_so_far: &mut usize,
    meter: Meter,
) -> Result<Phase, BenchError> {
    let deleted: Vec<Uuid> = outcome
        .succeeded()
        .map(|deletion| deletion.member_id)
        .collect();
    *deleted_so_far += deleted.len();
    propagation::wait_until_applied(&system.reservation_pool, *deleted_so_far, CATCH_UP_DEADLINE)
        .await?;
    let resources = meter.finish().await;
    let propagations =
        propagation::measure(&system.member_pool, &system.reservation_pool, &deleted).await?;
    let last_cancelled = propagations
        .iter()
        .map(|propagation| propagation.cancelled_at)
        .max()
        .unwrap_or_else(Utc::now);
    let end_to_end = (last_cancelled - outcome.started_at)
        .to_std()
        .unwrap_or_default();
    Ok(Phase {
        name,
        deletions: deleted.len(),
        failures: outcome.failures(),
        api_rate: crate::statistics::rate(deleted.len(), outcome.elapsed),
        end_to_end_rate: crate::statistics::rate(propagations.len(), end_to_end),
        delete_latencies_ms: outcome
            .succeeded()
            .map(|deletion| deletion.latency.as_secs_f64() * 1_000.0)
            .collect(),
        propagation_ms: propagations
            .iter()
            .map(propagation::Propagation::milliseconds)
            .collect(),
        resources,
        hops: Default::default(),
    })
}

/// reservation-service stopped while deletions go on at `rate`; then restarted, and timed until
/// every deletion made meanwhile is applied.
async fn consumer_outage(
    system: &mut BenchSystem,
    plan: &Plan,
    rate: f64,
    timeline: &mut Timeline,
    deleted_so_far: &mut usize,
) -> Result<Outage, BenchError> {
    let members = populate(system, plan, load::members_for(rate, plan.outage), timeline).await?;
    timeline.mark("consumer stopped");
    eprintln!(
        "consumer stopped; deleting at {rate:.1}/s for {:?}…",
        plan.outage
    );
    system.stop_consumer().await?;
    let build_meter = start_meter(system);
    let stopped = Instant::now();
    let outcome = load::delete_at_rate(
        system.http(),
        &system.member_url,
        members,
        rate,
        plan.outage,
    )
    .await;
    *deleted_so_far += outcome.succeeded().count();
    let backlog =
        propagation::pending_deletions(&system.member_pool, &system.reservation_pool).await?;
    let built_for = stopped.elapsed();
    let build_resources = build_meter.finish().await;
    timeline.mark("consumer restarted");
    let drain_meter = start_meter(system);
    let restarted = Instant::now();
    system.start_consumer().await?;
    propagation::wait_until_applied(&system.reservation_pool, *deleted_so_far, CATCH_UP_DEADLINE)
        .await?;
    let drain_time = restarted.elapsed();
    let drain_resources = drain_meter.finish().await;
    timeline.mark("drained");
    Ok(Outage {
        outage: built_for,
        backlog,
        build_rate: crate::statistics::rate(backlog.max(0) as usize, built_for),
        drain_time,
        drain_rate: crate::statistics::rate(backlog.max(0) as usize, drain_time),
        build_resources,
        drain_resources,
    })
}
