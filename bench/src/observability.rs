//! The cost of observability: the maximum rate with both services recording metrics (scraped
//! every second, as Prometheus would) and exporting traces over OTLP/HTTP to a local collector,
//! against metrics and tracing both turned off, in the same run. Traces are measured twice: every
//! trace exported, and one trace in ten (`parentbased_traceidratio`, the usual production
//! setting: a sampled deletion is traced across both services, an unsampled one not at all).
//!
//! The rounds go all, off, sampled, sampled, off, all, so that whatever drifts over the run
//! (tables growing, caches warming) weighs on every setting alike. The members of every round are
//! registered first, with the services as the other phases run them, so that set-up traffic never
//! reaches the collector.

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
pub const ROUNDS: [Setting; 6] = [
    Setting::EveryTrace,
    Setting::Off,
    Setting::SampledTraces,
    Setting::SampledTraces,
    Setting::Off,
    Setting::EveryTrace,
];
/// The share of traces kept by [`Setting::SampledTraces`].
const SAMPLED_RATIO: &str = "0.1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Metrics recorded and scraped; every trace exported to the collector.
    EveryTrace,
    /// Metrics recorded and scraped; one trace in ten exported.
    SampledTraces,
    /// `METRICS_ENABLED=false` and no OTLP endpoint.
    Off,
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Self::EveryTrace => "on, every trace",
            Self::SampledTraces => "on, 1 trace in 10",
            Self::Off => "off",
        }
    }

    /// For the CPU table's narrow first column.
    pub fn short_name(self) -> &'static str {
        match self {
            Self::EveryTrace => "all traces",
            Self::SampledTraces => "1 in 10",
            Self::Off => "off",
        }
    }

    fn observed(self) -> bool {
        self != Self::Off
    }

    /// What the services' environment gets. An empty value counts as unset, which also
    /// overrides a value this process may have been given.
    pub fn environment(self, collector: SocketAddr) -> Vec<(String, String)> {
        let (metrics, endpoint, sampler, ratio) = match self {
            Self::EveryTrace => (
                "true",
                format!("http://{collector}"),
                "parentbased_always_on",
                "",
            ),
            Self::SampledTraces => (
                "true",
                format!("http://{collector}"),
                "parentbased_traceidratio",
                SAMPLED_RATIO,
            ),
            Self::Off => ("false", String::new(), "parentbased_always_on", ""),
        };
        [
            ("METRICS_ENABLED", metrics.to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", String::new()),
            ("OTEL_TRACES_SAMPLER", sampler.to_owned()),
            ("OTEL_TRACES_SAMPLER_ARG", ratio.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }
}

/// One round: a maximum-rate phase under one setting.
#[derive(Clone, Debug)]
pub struct Round {
    pub setting: Setting,
    pub phase: Phase,
    /// Successful scrapes of `/metrics` (both services) during the round.
    pub scrapes: u64,
    /// Spans the collector received from the round (flushed when its services stopped).
    pub spans: u64,
}

/// The rounds of the phase.
#[derive(Clone, Debug, Default)]
pub struct ObservabilityCost {
    pub rounds: Vec<Round>,
}

impl ObservabilityCost {
    fn of(&self, setting: Setting) -> impl Iterator<Item = &Round> {
        self.rounds
            .iter()
            .filter(move |round| round.setting == setting)
    }

    /// Mean end-to-end rate of the rounds with `setting`.
    pub fn rate(&self, setting: Setting) -> f64 {
        let rates: Vec<f64> = self
            .of(setting)
            .map(|round| round.phase.end_to_end_rate)
            .collect();
        ratio(rates.iter().sum::<f64>(), rates.len() as f64)
    }

    /// How many percent fewer deletions per second with `setting` than with observability off;
    /// negative when it was faster (noise).
    pub fn cost_percent(&self, setting: Setting) -> f64 {
        let off = self.rate(Setting::Off);
        if off <= 0.0 {
            return f64::NAN;
        }
        (1.0 - self.rate(setting) / off) * 100.0
    }

    /// Spans exported per deletion of the rounds with `setting`.
    pub fn spans_per_deletion(&self, setting: Setting) -> f64 {
        let spans: u64 = self.of(setting).map(|round| round.spans).sum();
        let deletions: usize = self.of(setting).map(|round| round.phase.deletions).sum();
        ratio(spans as f64, deletions as f64)
    }

    pub fn table(&self) -> String {
        let mut table = String::from("cost of observability (maximum rate, same run):\n");
        for round in &self.rounds {
            let propagation = round.phase.propagation().unwrap_or_default();
            table.push_str(&format!(
                "  {:<18} {:>6} deletions {:>8.1}/s  propagation p50/p99 {:.1}/{:.1} ms  scrapes {}  spans {}\n",
                round.setting.name(),
                round.phase.deletions,
                round.phase.end_to_end_rate,
                propagation.p50,
                propagation.p99,
                round.scrapes,
                round.spans,
            ));
        }
        for setting in [Setting::EveryTrace, Setting::SampledTraces] {
            table.push_str(&format!(
                "  metrics and {}: {:.1}/s against {:.1}/s off, {:.1} % fewer deletions/s (target <= {TARGET_COST_PERCENT} %); {:.2} spans per deletion\n",
                match setting {
                    Setting::SampledTraces => "1 trace in 10",
                    _ => "every trace",
                },
                self.rate(setting),
                self.rate(Setting::Off),
                self.cost_percent(setting),
                self.spans_per_deletion(setting),
            ));
        }
        table
    }

    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut metrics = vec![("observability_off_rate".to_owned(), self.rate(Setting::Off))];
        for (key, setting) in [
            ("every_trace", Setting::EveryTrace),
            ("sampled", Setting::SampledTraces),
        ] {
            metrics.push((format!("observability_{key}_rate"), self.rate(setting)));
            metrics.push((
                format!("observability_{key}_cost_percent"),
                self.cost_percent(setting),
            ));
            metrics.push((
                format!("observability_{key}_spans_per_deletion"),
                self.spans_per_deletion(setting),
            ));
        }
        metrics
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
    let mut spans_so_far = 0;
    for setting in ROUNDS {
        system
            .restart_services(setting.environment(collector.address))
            .await?;
        // A round times deletions, not the consumer joining its group.
        system.wait_until_ready().await?;
        // A stopping service flushes the spans it still holds: the last round's are all in.
        credit_spans(&mut cost, &collector, &mut spans_so_far);
        let round_members: Vec<Uuid> = members.drain(..per_round.min(members.len())).collect();
        timeline.mark(setting.name());
        eprintln!(
            "observability {}: deleting {} members as fast as possible…",
            setting.name(),
            round_members.len()
        );
        let scraper = setting.observed().then(|| Scraper::start(system));
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
            format!(
                "observability {}, {} clients",
                setting.name(),
                plan.concurrency
            ),
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
            spans: 0,
        });
    }
    system.restart_services(Vec::new()).await?;
    credit_spans(&mut cost, &collector, &mut spans_so_far);
    collector.stop().await;
    Ok(cost)
}

/// Gives the spans received since the last call to the last round.
fn credit_spans(cost: &mut ObservabilityCost, collector: &Collector, spans_so_far: &mut u64) {
    let (spans, _) = collector.received();
    if let Some(round) = cost.rounds.last_mut() {
        round.spans = spans - *spans_so_far;
    }
    *spans_so_far = spans;
}
