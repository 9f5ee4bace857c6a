//! CPU seconds and peak memory per component for each stretch of the run, as a table and as
//! `summary.csv` rows.

use std::fmt::Write as _;

use crate::{
    report::Report,
    resources::{Component, PhaseResources},
};

const MEBIBYTE: f64 = 1024.0 * 1024.0;

/// One measured stretch of the run.
pub struct Row<'a> {
    pub name: String,
    /// Deletions it carried (0 for the raw-commit baseline): CPU per deletion divides by this.
    pub deletions: usize,
    pub resources: &'a PhaseResources,
}

/// Each measured stretch of the run with its deletions (0 for the baseline) and costs.
pub fn rows(report: &Report) -> Vec<Row<'_>> {
    let mut rows = vec![Row {
        name: "raw commits".to_owned(),
        deletions: 0,
        resources: &report.baseline_resources,
    }];
    rows.push(Row {
        name: "max rate".to_owned(),
        deletions: report.max_rate.deletions,
        resources: &report.max_rate.resources,
    });
    rows.push(Row {
        name: "paced".to_owned(),
        deletions: report.paced.deletions,
        resources: &report.paced.resources,
    });
    if let Some(outage) = &report.outage {
        let backlog = outage.backlog.max(0) as usize;
        rows.push(Row {
            name: "outage, building".to_owned(),
            deletions: backlog,
            resources: &outage.build_resources,
        });
        rows.push(Row {
            name: "outage, draining".to_owned(),
            deletions: backlog,
            resources: &outage.drain_resources,
        });
    }
    if let Some(counted) = &report.counted {
        rows.push(Row {
            name: "counted".to_owned(),
            deletions: counted.deletions,
            resources: &counted.resources,
        });
    }
    if let Some(observability) = &report.observability {
        for (number, round) in observability.rounds.iter().enumerate() {
            rows.push(Row {
                name: format!("obs. {} ({})", round.setting.short_name(), number + 1),
                deletions: round.phase.deletions,
                resources: &round.phase.resources,
            });
        }
    }
    rows
}

pub fn table(rows: &[Row<'_>]) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "CPU seconds per component (ms per deletion) and peak resident memory (MiB, sampled every 100 ms)"
    );
    let _ = write!(text, "  {:<22} {:>7}", "stretch", "seconds");
    for component in Component::ALL {
        let _ = write!(text, " {:>21}", component.name());
    }
    let _ = writeln!(text);
    for row in rows {
        let _ = write!(
            text,
            "  {:<22} {:>7.1}",
            row.name,
            row.resources.elapsed.as_secs_f64()
        );
        for component in Component::ALL {
            let _ = write!(text, " {:>21}", cpu_cell(row, component));
        }
        let _ = writeln!(text);
        let _ = write!(text, "  {:<22} {:>7}", "  peak MiB", "");
        for component in Component::ALL {
            let cell = row
                .resources
                .peak_rss_bytes
                .get(&component)
                .map(|bytes| format!("{:.1}", *bytes as f64 / MEBIBYTE))
                .unwrap_or_else(|| "-".to_owned());
            let _ = write!(text, " {cell:>21}");
        }
        let _ = writeln!(text);
    }
    text
}

fn cpu_cell(row: &Row<'_>, component: Component) -> String {
    match row.resources.cpu_seconds.get(&component) {
        None => "-".to_owned(),
        Some(seconds) if row.deletions > 0 => format!(
            "{seconds:.2} ({:.3})",
            seconds * 1_000.0 / row.deletions as f64
        ),
        Some(seconds) => format!("{seconds:.2}"),
    }
}

pub fn metrics(rows: &[Row<'_>]) -> Vec<(String, f64)> {
    let mut metrics = Vec::new();
    for row in rows {
        let stretch = row
            .name
            .replace([' ', ','], "_")
            .replace(['(', ')'], "")
            .replace("__", "_");
        for component in Component::ALL {
            if let Some(seconds) = row.resources.cpu_seconds.get(&component) {
                metrics.push((format!("{stretch}_cpu_s_{}", component.key()), *seconds));
                if row.deletions > 0 {
                    metrics.push((
                        format!("{stretch}_cpu_ms_per_deletion_{}", component.key()),
                        seconds * 1_000.0 / row.deletions as f64,
                    ));
                }
            }
            if let Some(bytes) = row.resources.peak_rss_bytes.get(&component) {
                metrics.push((
                    format!("{stretch}_peak_rss_mib_{}", component.key()),
                    *bytes as f64 / MEBIBYTE,
                ));
            }
        }
    }
    metrics
}
