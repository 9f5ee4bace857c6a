//! PNG plots: latency histograms, and the backlogs over time with the phases marked.

use std::{fmt::Display, path::Path};

use plotters::{prelude::*, style::register_font};

use crate::{
    error::BenchError,
    report::{Phase, Report},
    statistics::percentile,
    timeline::Sample,
};

const BINS: usize = 40;

/// One of a sample's series.
type SampleField = fn(&Sample) -> Option<i64>;
const FONT: &str = "sans-serif";
/// Built in, so that drawing text needs no system font library (DejaVu Sans, licence beside it).
const FONT_FILE: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Writes `latency.png` and `timeline.png` into `directory`.
pub fn draw(report: &Report, directory: &Path) -> Result<(), BenchError> {
    register_font(FONT, FontStyle::Normal, FONT_FILE).map_err(|_| BenchError::Plot {
        path: directory.display().to_string(),
        reason: "the built-in font does not parse".to_owned(),
    })?;
    draw_latencies(report, &directory.join("latency.png"))?;
    draw_timeline(report, &directory.join("timeline.png"))
}

fn draw_latencies(report: &Report, path: &Path) -> Result<(), BenchError> {
    let failed = plot_error(path);
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(&failed)?;
    let panels = root.split_evenly((1, 2));
    let series = |select: fn(&Phase) -> &Vec<f64>| {
        [
            (
                report.max_rate.name.clone(),
                select(&report.max_rate).clone(),
            ),
            (report.paced.name.clone(), select(&report.paced).clone()),
        ]
    };
    histogram(
        &panels[0],
        "DELETE latency (client)",
        &series(|phase| &phase.delete_latencies_ms),
    )
    .map_err(&failed)?;
    histogram(
        &panels[1],
        "propagation: deletion commit to cancellation commit",
        &series(|phase| &phase.propagation_ms),
    )
    .map_err(&failed)?;
    root.present().map_err(&failed)
}

/// Overlaid histograms; values beyond the 99.5th percentile of all series go in the last bin,
/// so one outlier does not squash the shape.
fn histogram<Area: DrawingBackend>(
    area: &DrawingArea<Area, plotters::coord::Shift>,
    title: &str,
    series: &[(String, Vec<f64>)],
) -> Result<(), DrawingAreaErrorKind<Area::ErrorType>> {
    let mut all: Vec<f64> = series
        .iter()
        .flat_map(|(_, values)| values.clone())
        .collect();
    all.sort_by(f64::total_cmp);
    let upper = percentile(&all, 0.995).unwrap_or(1.0).max(1.0) * 1.05;
    let width = upper / BINS as f64;
    let binned: Vec<Vec<u32>> = series
        .iter()
        .map(|(_, values)| {
            let mut counts = vec![0u32; BINS];
            for value in values {
                let bin = ((value / width) as usize).min(BINS - 1);
                counts[bin] += 1;
            }
            counts
        })
        .collect();
    let highest = binned.iter().flatten().copied().max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..upper, 0u32..highest + highest / 10 + 1)?;
    chart
        .configure_mesh()
        .x_desc("milliseconds")
        .y_desc("deletions")
        .draw()?;
    for (index, ((name, _), counts)) in series.iter().zip(&binned).enumerate() {
        let color = Palette99::pick(index);
        chart
            .draw_series(counts.iter().enumerate().map(|(bin, count)| {
                let left = bin as f64 * width;
                Rectangle::new(
                    [(left, 0), (left + width, *count)],
                    color.mix(0.45).filled(),
                )
            }))?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
}

fn draw_timeline(report: &Report, path: &Path) -> Result<(), BenchError> {
    let failed = plot_error(path);
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(&failed)?;
    let lines: [(&str, SampleField); 3] = [
        ("outbox backlog (member-service /ready)", |sample| {
            sample.outbox_backlog
        }),
        ("consumer lag (reservation-service /consumer)", |sample| {
            sample.consumer_lag
        }),
        ("deletions not yet applied (both databases)", |sample| {
            sample.pending_deletions
        }),
    ];
    let end = report
        .samples
        .last()
        .map_or(1.0, |sample| sample.seconds)
        .max(1.0);
    let highest = report
        .samples
        .iter()
        .flat_map(|sample| lines.iter().filter_map(|(_, value)| value(sample)))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("backlogs over time", (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..highest * 1.15)
        .map_err(&failed)?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc("events")
        .draw()
        .map_err(&failed)?;
    for (index, (name, value)) in lines.iter().enumerate() {
        let color = Palette99::pick(index);
        let points = report
            .samples
            .iter()
            .filter_map(|sample| Some((sample.seconds, value(sample)? as f64)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(&failed)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
            });
    }
    for (index, mark) in report.marks.iter().enumerate() {
        let top = highest * (1.12 - 0.05 * (index % 3) as f64);
        chart
            .draw_series([PathElement::new(
                vec![(mark.seconds, 0.0), (mark.seconds, top)],
                BLACK.mix(0.4),
            )])
            .map_err(&failed)?;
        chart
            .draw_series([Text::new(
                mark.label.clone(),
                (mark.seconds, top),
                (FONT, 13).into_font(),
            )])
            .map_err(&failed)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(&failed)?;
    root.present().map_err(&failed)
}

fn plot_error<Error: Display>(path: &Path) -> impl Fn(Error) -> BenchError + '_ {
    move |error| BenchError::Plot {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}
