//! The cost of observability: the maximum rate with both services recording metrics (scraped
//! every second, as Prometheus would) and exporting every trace over OTLP/HTTP to a local
//! collector, against metrics and tracing both turned off, in the same run.
//!
//! The rounds go on, off, off, on, so that whatever drifts over the run (tables growing, caches
//! warming) weighs on both settings alike. The members of every round are registered first, with
//! the services as the other phases run them, so that set-up traffic never reaches the collector.

use std::net::SocketAddr;

use uuid::Uuid;

use crate::{
    collector::{Collector, Scraper},
    error::BenchError,
    load,
    options::Plan,
    report::Phase,
    run::{finish_phase, populate, start_meter},
    statistics::ratio,
    system::BenchSystem,
    timeline::Timeline,
};

/// Target of issue 9: observability may cost at most this share of the maximum rate.
pub const TARGET_COST_PERCENT: f64 = 5.0;
/// The settings of the rounds, in order.
pub const ROUNDS: [Setting; 4] = [Setting::On, Setting::Off, Setting::Off, Setting::On];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Metrics recorded and scraped; every trace exported to the collector.
    On,
    /// `METRICS_ENABLED=false` and no OTLP endpoint.
    Off,
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Self::On => "observability on",
            Self::Off => "observability off",
        }
    }

    /// What the services' environment gets. An empty endpoint counts as unset, which also
    /// overrides an endpoint this process may have been given.
    pub fn environment(self, collector: SocketAddr) -> Vec<(String, String)> {
        let (metrics, endpoint) = match self {
            Self::On => ("true", format!("http://{collector}")),
            Self::Off => ("false", String::new()),
        };
        vec![
            ("METRICS_ENABLED".to_owned(), metrics.to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), endpoint),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_owned(),
                String::new(),
            ),
        ]
    }
}

/// One round: a maximum-rate phase under one setting.
#[derive(Clone, Debug)]
pub struct Round {
    pub setting: Setting,
    pub phase: Phase,
    /// Successful scrapes of `/metrics` (both services) during the round.
    pub scrapes: u64,
}

/// The rounds, and what the collector received over all of them.
#[derive(Clone, Debug, Default)]
pub struct ObservabilityCost {
    pub rounds: Vec<Round>,
    /// Spans the collector received while the rounds ran, and the export requests carrying them.
    pub spans: u64,
    pub export_requests: u64,
}

impl ObservabilityCost {
    /// Mean end-to-end rate of the rounds with `setting`.
    pub fn rate(&self, setting: Setting) -> f64 {
        let rates: Vec<f64> = self
            .rounds
            .iter()
            .filter(|round| round.setting == setting)
            .map(|round| round.phase.end_to_end_rate)
            .collect();
        if rates.is_empty() {
            return 0.0;
        }
        rates.iter().sum::<f64>() / rates.len() as f64
    }

    /// How many percent fewer deletions per second with observability on; negative when on was
    /// faster (noise).
    pub fn cost_percent(&self) -> f64 {
        let off = self.rate(Setting::Off);
        if off <= 0.0 {
            return f64::NAN;
        }
        (1.0 - self.rate(Setting::On) / off) * 100.0
    }

    /// Spans exported per deletion made while tracing was on.
    pub fn spans_per_deletion(&self) -> f64 {
        let traced: usize = self
            .rounds
            .iter()
            .filter(|round| round.setting == Setting::On)
            .map(|round| round.phase.deletions)
            .sum();
        ratio(self.spans as f64, traced as f64)
    }

    pub fn table(&self) -> String {
        let mut table = String::from("cost of observability (maximum rate, same run):\n");
        for round in &self.rounds {
            let propagation = round.phase.propagation().unwrap_or_default();
            table.push_str(&format!(
                "  {:<18} {:>6} deletions {:>8.1}/s  propagation p50/p99 {:.1}/{:.1} ms  scrapes {}\n",
                round.setting.name(),
                round.phase.deletions,
                round.phase.end_to_end_rate,
                propagation.p50,
                propagation.p99,
                round.scrapes,
            ));
        }
        table.push_str(&format!(
            "  on {:.1}/s, off {:.1}/s: {:.1} % fewer deletions/s with observability (target <= {TARGET_COST_PERCENT} %); {} spans in {} exports, {:.1} per deletion\n",
            self.rate(Setting::On),
            self.rate(Setting::Off),
            self.cost_percent(),
            self.spans,
            self.export_requests,
            self.spans_per_deletion(),
        ));
        table
    }

    pub fn metrics(&self) -> Vec<(String, f64)> {
        vec![
            ("observability_on_rate".to_owned(), self.rate(Setting::On)),
            ("observability_off_rate".to_owned(), self.rate(Setting::Off)),
            ("observability_cost_percent".to_owned(), self.cost_percent()),
            (
                "observability_spans_per_deletion".to_owned(),
                self.spans_per_deletion(),
            ),
        ]
    }
}

/// Runs the rounds; the services are left as the other phases run them.
pub async fn measure(
    system: &mut BenchSystem,
    plan: &Plan,
    timeline: &mut Timeline,
    deleted_so_far: &mut usize,
) -> Result<ObservabilityCost, BenchError> {
    let per_round = plan.observability_deletions;
    let mut members: Vec<Uuid> = populate(system, plan, per_round * ROUNDS.len(), timeline).await?;
    let collector = Collector::start().await?;
    let mut cost = ObservabilityCost::default();
    for setting in ROUNDS {
        system
            .restart_services(setting.environment(collector.address))
            .await?;
        let round_members: Vec<Uuid> = members.drain(..per_round.min(members.len())).collect();
        timeline.mark(setting.name());
        eprintln!(
            "{}: deleting {} members as fast as possible…",
            setting.name(),
            round_members.len()
        );
        let scraper = (setting == Setting::On).then(|| Scraper::start(system));
        let meter = start_meter(system);
        let outcome = load::delete_as_fast_as_possible(
            system.http(),
            &system.member_url,
            round_members,
            plan.concurrency,
        )
        .await;
        let phase = finish_phase(
            system,
            format!("{}, {} clients", setting.name(), plan.concurrency),
            outcome,
            deleted_so_far,
            meter,
        )
        .await?;
        let scrapes = match scraper {
            Some(scraper) => scraper.stop().await,
            None => 0,
        };
        cost.rounds.push(Round {
            setting,
            phase,
            scrapes,
        });
    }
    // A stopping service flushes the spans it still holds: count after the last stop.
    system.restart_services(Vec::new()).await?;
    (cost.spans, cost.export_requests) = collector.received();
    collector.stop().await;
    Ok(cost)
}
