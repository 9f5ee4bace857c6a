//! The one table (a row per figure, a column per way), `summary.csv` with the same figures and
//! `deletions.csv` with every DELETE of the outage phase.

use std::{fmt::Write as _, path::Path};

use bench::statistics::LatencySummary;

use crate::{measure, options::Plan, run::WayResult};

/// The table, in Markdown, with the run's settings above it.
pub fn table(results: &[WayResult], plan: &Plan, backend: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{backend}; {:.0} deletions/s; {} reservations per member; poll every {} ms (look-back {} ms); \
         direct-call timeout {} ms; outage {:.0} s; slow member-service: +{} ms per request",
        plan.rate,
        plan.reservations_per_member,
        plan.poll_interval.as_millis(),
        plan.poll_look_back.as_millis(),
        plan.call_timeout.as_millis(),
        plan.outage.as_secs_f64(),
        plan.slow_member_delay.as_millis(),
    );
    out.push('\n');
    let mut header = String::from("| |");
    let mut rule = String::from("|---|");
    for result in results {
        let _ = write!(header, " {} |", result.way.name());
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (label, cell) in rows() {
        let _ = write!(out, "| {label} |");
        for result in results {
            let _ = write!(out, " {} |", cell(result));
        }
        out.push('\n');
    }
    out
}

type Cell = fn(&WayResult) -> String;

fn rows() -> Vec<(&'static str, Cell)> {
    vec![
        ("DELETE p50 / p99 (steady)", |result| {
            pair(result.steady.delete_latency)
        }),
        ("DELETE failed (steady)", |result| {
            format!("{} of {}", result.steady.failures, result.steady.deletions)
        }),
        ("time until cancelled p50 / p99 (steady)", |result| {
            pair(result.steady.time_to_cancel)
        }),
        ("requests between the services", |result| {
            format!("{:.1}/s", result.requests_per_second)
        }),
        ("their handler time on the answering side", |result| {
            format!("{:.1} ms/s", result.handler_ms_per_second)
        }),
        ("process CPU (steady, whole process)", |result| {
            result
                .process_cpu_percent
                .map_or("n/a".to_owned(), |cpu| format!("{cpu:.0} %"))
        }),
        ("outage: DELETE failed", |result| {
            let outage = &result.outage;
            let share = bench::statistics::ratio(outage.failures as f64, outage.deletions as f64);
            format!(
                "{} of {} ({:.0} %)",
                outage.failures,
                outage.deletions,
                share * 100.0
            )
        }),
        ("outage: DELETE p50 / p99", |result| {
            pair(result.outage.delete_latency)
        }),
        ("outage: cancellations lost", |result| {
            result.outage.lost.to_string()
        }),
        ("outage: refused, yet cancelled", |result| {
            result.outage.cancelled_though_refused.to_string()
        }),
        ("outage: consistent again after restart", |result| {
            result
                .outage
                .time_to_consistency
                .map_or("never (lost)".to_owned(), |time| {
                    format!("{:.1} s", time.as_secs_f64())
                })
        }),
        ("slow member-service: DELETE p50 / p99", |result| {
            result
                .slow
                .as_ref()
                .map_or("not run".to_owned(), |slow| pair(slow.delete_latency))
        }),
        (
            "slow member-service: time until cancelled p50 / p99",
            |result| {
                result
                    .slow
                    .as_ref()
                    .map_or("not run".to_owned(), |slow| pair(slow.time_to_cancel))
            },
        ),
    ]
}

/// `p50 / p99` in milliseconds, or seconds past ten of them.
fn pair(summary: Option<LatencySummary>) -> String {
    summary.map_or("none".to_owned(), |summary| {
        format!(
            "{} / {}",
            milliseconds(summary.p50),
            milliseconds(summary.p99)
        )
    })
}

fn milliseconds(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} s", value / 1_000.0)
    } else if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// `summary.csv`: the table's figures, a row per way, as numbers (milliseconds).
pub fn write_csv(results: &[WayResult], directory: &Path) -> anyhow::Result<()> {
    let mut summary = csv::Writer::from_path(directory.join("summary.csv"))?;
    summary.write_record([
        "way",
        "steady_deletions",
        "steady_failures",
        "delete_p50_ms",
        "delete_p99_ms",
        "cancelled_p50_ms",
        "cancelled_p99_ms",
        "requests_between_services_per_s",
        "handler_ms_per_s",
        "process_cpu_percent",
        "outage_deletions",
        "outage_failures",
        "outage_delete_p50_ms",
        "outage_delete_p99_ms",
        "outage_lost",
        "outage_refused_yet_cancelled",
        "outage_consistent_after_s",
        "slow_delete_p50_ms",
        "slow_delete_p99_ms",
        "slow_cancelled_p50_ms",
        "slow_cancelled_p99_ms",
    ])?;
    for result in results {
        let slow = result.slow.as_ref();
        let number =
            |value: Option<f64>| value.map_or(String::new(), |value| format!("{value:.3}"));
        summary.write_record([
            result.way.name().to_owned(),
            result.steady.deletions.to_string(),
            result.steady.failures.to_string(),
            number(result.steady.delete_latency.map(|s| s.p50)),
            number(result.steady.delete_latency.map(|s| s.p99)),
            number(result.steady.time_to_cancel.map(|s| s.p50)),
            number(result.steady.time_to_cancel.map(|s| s.p99)),
            number(Some(result.requests_per_second)),
            number(Some(result.handler_ms_per_second)),
            number(result.process_cpu_percent),
            result.outage.deletions.to_string(),
            result.outage.failures.to_string(),
            number(result.outage.delete_latency.map(|s| s.p50)),
            number(result.outage.delete_latency.map(|s| s.p99)),
            result.outage.lost.to_string(),
            result.outage.cancelled_though_refused.to_string(),
            number(
                result
                    .outage
                    .time_to_consistency
                    .map(|time| time.as_secs_f64()),
            ),
            number(slow.and_then(|slow| slow.delete_latency).map(|s| s.p50)),
            number(slow.and_then(|slow| slow.delete_latency).map(|s| s.p99)),
            number(slow.and_then(|slow| slow.time_to_cancel).map(|s| s.p50)),
            number(slow.and_then(|slow| slow.time_to_cancel).map(|s| s.p99)),
        ])?;
    }
    summary.flush()?;
    let mut deletions = csv::Writer::from_path(directory.join("deletions.csv"))?;
    deletions.write_record([
        "way",
        "seconds_since_phase_start",
        "member_id",
        "status",
        "delete_latency_ms",
        "time_until_cancelled_ms",
    ])?;
    for result in results {
        let load = &result.outage_load;
        let Some(started_at) = load.started_at else {
            continue;
        };
        for deletion in &load.deletions {
            let offset = (deletion.sent_at - started_at)
                .num_microseconds()
                .unwrap_or(0);
            deletions.write_record([
                result.way.name().to_owned(),
                format!("{:.6}", offset as f64 / 1e6),
                deletion.member_id.to_string(),
                deletion.status.to_string(),
                format!("{:.3}", deletion.latency_ms()),
                measure::time_to_cancel_ms(deletion, &load.cancelled)
                    .map_or(String::new(), |value| format!("{value:.3}")),
            ])?;
        }
    }
    deletions.flush()?;
    Ok(())
}
