//! A randomized failure run: rounds of deletions, each with a fault picked at random from those
//! the failure-injection suite injects one by one, then the operator's clean-up (discard the
//! garbage, replay what was parked) and the same audit.
//!
//! `cargo run -p system-tests --bin chaos -- --minutes 5` (embedded broker + SQLite; set
//! `TEST_DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS` and `KAFKA_CONTROL_SCRIPT` for PostgreSQL and
//! Kafka). Exits non-zero if anything was lost, applied twice or applied out of order. The
//! process-kill fault starts this crate's `reservation-service-process` binary, which
//! `cargo build -p system-tests --bins` builds.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use clap::Parser;
use rand::{Rng, seq::IndexedRandom};
use reservation_service::{
    db::parked_events,
    domain::ParkedStatus,
    operator::dlq::{self, Selection},
};
use system_tests::{TestSystem, faults, process::sibling_binary, system::DEADLINE};

#[derive(Parser)]
#[command(
    name = "chaos",
    about = "Mixes the failure-injection suite's faults for a while"
)]
struct Arguments {
    /// How long to keep injecting faults.
    #[arg(long, default_value_t = 5.0)]
    minutes: f64,
    /// Members created and deleted per round.
    #[arg(long, default_value_t = 10)]
    members_per_round: usize,
    /// Inject only these faults (repeatable); all of them by default.
    #[arg(long = "fault", value_enum)]
    only: Vec<Fault>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
enum Fault {
    BrokerStopped,
    RelayKilledBeforeMarking,
    ConsumerKilled,
    DuplicatesAndOldVersions,
    PoisonEvents,
    HandlerFailure,
    DatabaseUnavailable,
    ReservationServiceDown,
    ProcessKilled,
}

const FAULTS: [Fault; 9] = [
    Fault::BrokerStopped,
    Fault::RelayKilledBeforeMarking,
    Fault::ConsumerKilled,
    Fault::DuplicatesAndOldVersions,
    Fault::PoisonEvents,
    Fault::HandlerFailure,
    Fault::DatabaseUnavailable,
    Fault::ReservationServiceDown,
    Fault::ProcessKilled,
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let program = sibling_binary("reservation-service-process");
    anyhow::ensure!(
        program.exists(),
        "{} is missing: run `cargo build -p system-tests --bins` first",
        program.display()
    );
    let mut system = TestSystem::start().await;
    let ends_at = Instant::now() + Duration::from_secs_f64(arguments.minutes * 60.0);
    let mut rounds: BTreeMap<Fault, usize> = BTreeMap::new();
    let mut round = 0;
    let mut table = Vec::new();
    while Instant::now() < ends_at {
        round += 1;
        let choices: &[Fault] = if arguments.only.is_empty() {
            &FAULTS
        } else {
            &arguments.only
        };
        let fault = *choices
            .choose(&mut rand::rng())
            .unwrap_or(&Fault::BrokerStopped);
        *rounds.entry(fault).or_default() += 1;
        let members = faults::populate(&system, arguments.members_per_round, 2).await;
        inject(&mut system, fault, &members).await;
        let audit = faults::settle(&system, DEADLINE).await;
        let stats = system.consumer_stats().await;
        table.push(audit.report(
            &format!("round {round}: {fault:?}"),
            &format!(
                "current consumer instance: duplicates {} stale {} retries {} dead-lettered {}",
                stats.duplicates, stats.stale, stats.retries, stats.dead_lettered
            ),
        ));
    }

    // The operator's turn: garbage is discarded, the handler fixed, everything else replayed.
    faults::allow_cancellations(&system).await;
    let pool = system.reservation_pool();
    let mut connection = pool.acquire().await?;
    let parked = parked_events::list(&mut connection, Some(ParkedStatus::Parked), i64::MAX).await?;
    drop(connection);
    for event in parked.iter().filter(|event| event.event_id.is_none()) {
        dlq::discard(&pool, event.id, "garbage injected by the chaos run").await?;
    }
    let replayed = dlq::replay(&pool, Selection::All).await?;
    let audit = faults::settle(&system, DEADLINE).await;
    table.push(audit.report(
        &format!(
            "chaos {} min, {round} rounds, then replay",
            arguments.minutes
        ),
        &format!("replayed by the operator: {}", replayed.len()),
    ));
    println!("\nfaults injected: {rounds:?}\n");
    for line in &table {
        println!("{line}");
    }
    anyhow::ensure!(
        audit.is_clean() && audit.waiting_for_operator == 0,
        "invariants violated: {audit}"
    );
    Ok(())
}

/// Deletes `members` while `fault` happens.
async fn inject(system: &mut TestSystem, fault: Fault, members: &[uuid::Uuid]) {
    match fault {
        Fault::BrokerStopped => {
            system.broker.stop().await;
            faults::delete_all(system, members).await;
            // Deliberate: the broker stays down a while after the deletions.
            tokio::time::sleep(Duration::from_secs(2)).await;
            system.broker.restart().await;
        }
        Fault::RelayKilledBeforeMarking => {
            faults::delete_all(system, members).await;
            faults::settle(system, DEADLINE).await;
            faults::crash_relay_after_produce(system, members).await;
        }
        Fault::ConsumerKilled => {
            let (first, second) = members.split_at(members.len() / 2);
            faults::delete_all(system, first).await;
            // Deliberate: the kill lands at a random point of the consumer's work.
            tokio::time::sleep(Duration::from_millis(rand::rng().random_range(0..300))).await;
            if let Some(service) = system.reservation.take() {
                service.kill().await;
            }
            system.start_reservation_service().await;
            faults::delete_all(system, second).await;
        }
        Fault::DuplicatesAndOldVersions => {
            faults::delete_all(system, members).await;
            faults::settle(system, DEADLINE).await;
            faults::inject_history_reversed_twice(system, members).await;
        }
        Fault::PoisonEvents => {
            for member in members.iter().take(2) {
                faults::inject_poison(system, *member).await;
            }
            faults::delete_all(system, members).await;
        }
        Fault::HandlerFailure => {
            faults::allow_cancellations(system).await;
            faults::refuse_cancellations_of(system, members[0]).await;
            let parked_before = system.consumer_stats().await.dead_lettered;
            faults::delete_all(system, members).await;
            // Parked after its attempts; the fix (dropping the trigger) comes with the operator.
            let give_up = Instant::now() + DEADLINE;
            while system.consumer_stats().await.dead_lettered == parked_before
                && Instant::now() < give_up
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Fault::DatabaseUnavailable => {
            tokio::join!(
                faults::make_reservation_database_unavailable(system, Duration::from_secs(8)),
                faults::delete_all(system, members)
            );
        }
        Fault::ProcessKilled => {
            // The whole process dies, not a task in this one: reservation-service runs as a
            // process of its own for the round, is killed with SIGKILL at a random point of the
            // deletions, and comes back (in this process, where the other faults reach it).
            system.stop_reservation_service().await;
            system
                .start_reservation_process(&sibling_binary("reservation-service-process"))
                .await;
            let (first, second) = members.split_at(members.len() / 2);
            faults::delete_all(system, first).await;
            // Deliberate: the kill lands at a random point of the consumer's work.
            tokio::time::sleep(Duration::from_millis(rand::rng().random_range(0..300))).await;
            system.kill_reservation_service().await;
            faults::delete_all(system, second).await;
            system.start_reservation_service().await;
        }
        Fault::ReservationServiceDown => {
            system.stop_reservation_service().await;
            faults::delete_all(system, members).await;
            // Deliberate: the service stays down while the events wait in the topic.
            tokio::time::sleep(Duration::from_secs(15)).await;
            system.start_reservation_service().await;
        }
    }
}
