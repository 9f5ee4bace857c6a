//! The figures of a run, printed as a table and written as CSV.

use std::{fmt::Write as _, path::Path, time::Duration};

use crate::{
    amplification::Amplification,
    baseline::Baseline,
    costs,
    error::BenchError,
    hops::Breakdown,
    observability::ObservabilityCost,
    resources::PhaseResources,
    statistics::{LatencySummary, ratio},
    timeline::{Mark, Sample},
};

/// The targets of issue 15 (PostgreSQL + Kafka), printed beside the measured figures.
pub const TARGET_RATIO: f64 = 0.50;
pub const TARGET_PROPAGATION_P99_MS: f64 = 25.0;
pub const TARGET_DRAIN_OVER_BUILD: f64 = 10.0;

/// One load phase.
#[derive(Clone, Debug, Default)]
pub struct Phase {
    pub name: String,
    pub deletions: usize,
    pub failures: usize,
    /// DELETE answers per second while the load ran.
    pub api_rate: f64,
    /// Deletions per second from the phase's start to the last cancellation commit: what the
    /// whole path sustains, member-service to reservation-service.
    pub end_to_end_rate: f64,
    pub delete_latencies_ms: Vec<f64>,
    pub propagation_ms: Vec<f64>,
    /// CPU and memory per component from the load's start until its last deletion applied.
    pub resources: PhaseResources,
    /// Where its propagation time went, from the services' metrics (the timed phases only).
    pub hops: Breakdown,
}

impl Phase {
    pub fn delete_latency(&self) -> Option<LatencySummary> {
        LatencySummary::of(&self.delete_latencies_ms)
    }

    pub fn propagation(&self) -> Option<LatencySummary> {
        LatencySummary::of(&self.propagation_ms)
    }
}

/// The consumer outage: a backlog built while reservation-service was down, then drained.
#[derive(Clone, Debug, Default)]
pub struct Outage {
    pub outage: Duration,
    pub backlog: i64,
    pub build_rate: f64,
    /// From the restart (including start-up and joining the group) to an empty backlog.
    pub drain_time: Duration,
    pub drain_rate: f64,
    pub build_resources: PhaseResources,
    pub drain_resources: PhaseResources,
}

impl Outage {
    pub fn drain_over_build(&self) -> f64 {
        ratio(self.drain_rate, self.build_rate)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub backend: String,
    pub concurrency: usize,
    pub reservations_per_member: usize,
    pub baseline: Option<Baseline>,
    pub baseline_resources: PhaseResources,
    pub max_rate: Phase,
    pub paced_target_rate: f64,
    pub paced: Phase,
    pub outage: Option<Outage>,
    /// The phase whose writes were counted, and what they were.
    pub counted: Option<Phase>,
    pub amplification: Option<Amplification>,
    /// Maximum rate with metrics and tracing on against both off.
    pub observability: Option<ObservabilityCost>,
    pub samples: Vec<Sample>,
    pub marks: Vec<Mark>,
}

impl Report {
    pub fn raw_commits_per_second(&self) -> f64 {
        self.baseline
            .map_or(0.0, |baseline| baseline.commits_per_second)
    }

    /// Sustained deletions per second over the raw single-row commit rate.
    pub fn ratio(&self) -> f64 {
        ratio(self.max_rate.end_to_end_rate, self.raw_commits_per_second())
    }

    pub fn table(&self) -> String {
        let mut table = String::new();
        let _ = writeln!(
            table,
            "backend: {}; {} concurrent clients; {} reservations per member",
            self.backend, self.concurrency, self.reservations_per_member
        );
        let _ = writeln!(
            table,
            "{:<26} {:>9} {:>6} {:>8} {:>8}  {:<27}  {:<27}",
            "phase",
            "deletions",
            "failed",
            "api/s",
            "e2e/s",
            "DELETE ms p50/p90/p99/max",
            "propagation ms p50/p90/p99/max"
        );
        if let Some(baseline) = self.baseline {
            let _ = writeln!(
                table,
                "{:<26} {:>9} {:>6} {:>8.1} {:>8}",
                "raw single-row commits", baseline.commits, 0, baseline.commits_per_second, "-"
            );
        }
        for phase in [&self.max_rate, &self.paced] {
            let _ = writeln!(
                table,
                "{:<26} {:>9} {:>6} {:>8.1} {:>8.1}  {:<27}  {:<27}",
                phase.name,
                phase.deletions,
                phase.failures,
                phase.api_rate,
                phase.end_to_end_rate,
                quartet(phase.delete_latency()),
                quartet(phase.propagation()),
            );
            let _ = writeln!(table, "  {}", phase.hops.line());
        }
        if let Some(outage) = &self.outage {
            let _ = writeln!(
                table,
                "consumer outage {:.0} s: backlog {} built at {:.1}/s, drained in {:.2} s at {:.1}/s: {:.1}x (target >= {TARGET_DRAIN_OVER_BUILD}x)",
                outage.outage.as_secs_f64(),
                outage.backlog,
                outage.build_rate,
                outage.drain_time.as_secs_f64(),
                outage.drain_rate,
                outage.drain_over_build(),
            );
        }
        let paced_p99 = self
            .paced
            .propagation()
            .map_or(f64::NAN, |summary| summary.p99);
        let _ = writeln!(
            table,
            "targets: sustained/raw {:.2} (>= {TARGET_RATIO}); propagation p99 at {:.1}/s {:.1} ms (<= {TARGET_PROPAGATION_P99_MS} ms)",
            self.ratio(),
            self.paced_target_rate,
            paced_p99,
        );
        table.push_str(&costs::table(&costs::rows(self)));
        if let Some(amplification) = &self.amplification {
            table.push_str(&amplification.table());
        }
        if let Some(observability) = &self.observability {
            table.push_str(&observability.table());
        }
        table
    }

    /// The last line the binary prints; p50/p99 are the propagation at the paced rate.
    pub fn summary_line(&self) -> String {
        let propagation = self.paced.propagation().unwrap_or_default();
        format!(
            "deletions_per_s={:.1} raw_commits_per_s={:.1} ratio={:.2} p50_ms={:.1} p99_ms={:.1}",
            self.max_rate.end_to_end_rate,
            self.raw_commits_per_second(),
            self.ratio(),
            propagation.p50,
            propagation.p99,
        )
    }

    /// `summary.csv` (one metric a row), `latencies.csv` and `timeline.csv`.
    pub fn write_csv(&self, directory: &Path) -> Result<(), BenchError> {
        let mut summary = csv::Writer::from_path(directory.join("summary.csv"))?;
        summary.write_record(["metric", "value"])?;
        for (metric, value) in self.metrics() {
            summary.write_record([metric.as_str(), &format!("{value:.3}")])?;
        }
        summary.flush().map_err(output_error(directory))?;

        let mut latencies = csv::Writer::from_path(directory.join("latencies.csv"))?;
        latencies.write_record(["phase", "kind", "milliseconds"])?;
        for phase in [&self.max_rate, &self.paced] {
            for (kind, values) in [
                ("delete", &phase.delete_latencies_ms),
                ("propagation", &phase.propagation_ms),
            ] {
                for value in values {
                    latencies.write_record([phase.name.as_str(), kind, &format!("{value:.3}")])?;
                }
            }
        }
        latencies.flush().map_err(output_error(directory))?;

        let mut timeline = csv::Writer::from_path(directory.join("timeline.csv"))?;
        timeline.write_record([
            "seconds",
            "outbox_backlog",
            "consumer_lag",
            "pending_deletions",
        ])?;
        for sample in &self.samples {
            timeline.write_record([
                format!("{:.3}", sample.seconds),
                optional(sample.outbox_backlog),
                optional(sample.consumer_lag),
                optional(sample.pending_deletions),
            ])?;
        }
        timeline.flush().map_err(output_error(directory))?;
        Ok(())
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let mut metrics = vec![
            (
                "raw_commits_per_s".to_owned(),
                self.raw_commits_per_second(),
            ),
            ("deletions_per_s".to_owned(), self.max_rate.end_to_end_rate),
            ("ratio".to_owned(), self.ratio()),
            ("paced_target_rate".to_owned(), self.paced_target_rate),
        ];
        for (prefix, phase) in [("max_rate", &self.max_rate), ("paced", &self.paced)] {
            metrics.push((format!("{prefix}_api_rate"), phase.api_rate));
            metrics.push((format!("{prefix}_end_to_end_rate"), phase.end_to_end_rate));
            metrics.push((format!("{prefix}_failures"), phase.failures as f64));
            metrics.extend(phase.hops.metrics(prefix));
            for (kind, summary) in [
                ("delete", phase.delete_latency()),
                ("propagation", phase.propagation()),
            ] {
                let summary = summary.unwrap_or_default();
                for (name, value) in [
                    ("p50", summary.p50),
                    ("p90", summary.p90),
                    ("p99", summary.p99),
                    ("max", summary.max),
                ] {
                    metrics.push((format!("{prefix}_{kind}_{name}_ms"), value));
                }
            }
        }
        if let Some(outage) = &self.outage {
            metrics.push(("outage_seconds".to_owned(), outage.outage.as_secs_f64()));
            metrics.push(("outage_backlog".to_owned(), outage.backlog as f64));
            metrics.push(("outage_build_rate".to_owned(), outage.build_rate));
            metrics.push(("outage_drain_rate".to_owned(), outage.drain_rate));
            metrics.push((
                "outage_drain_over_build".to_owned(),
                outage.drain_over_build(),
            ));
        }
        metrics.extend(costs::metrics(&costs::rows(self)));
        if let Some(amplification) = &self.amplification {
            metrics.extend(amplification.metrics());
        }
        if let Some(observability) = &self.observability {
            metrics.extend(observability.metrics());
        }
        metrics
    }
}

fn quartet(summary: Option<LatencySummary>) -> String {
    summary.map_or_else(
        || "-".to_owned(),
        |summary| {
            format!(
                "{:.1}/{:.1}/{:.1}/{:.1}",
                summary.p50, summary.p90, summary.p99, summary.max
            )
        },
    )
}

fn optional(value: Option<i64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

fn output_error(directory: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Output {
        path: directory.display().to_string(),
        source,
    }
}
