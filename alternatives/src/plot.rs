//! `outage.png`: the outage phase of the three ways in one picture. Above, each DELETE's latency
//! by when it was sent (a cross where it failed); below, the time until its reservations were
//! cancelled. Log scale: milliseconds and tens of seconds on one axis.

use std::path::Path;

use plotters::{coord::Shift, prelude::*, style::register_font};

use crate::{measure, options::Plan, run::WayResult};

const FONT: &str = "sans-serif";
/// The benchmark's committed font, built in: drawing text needs no system font library.
const FONT_FILE: &[u8] = include_bytes!("../../bench/fonts/DejaVuSans.ttf");

pub fn draw(results: &[WayResult], plan: &Plan, path: &Path) -> anyhow::Result<()> {
    register_font(FONT, FontStyle::Normal, FONT_FILE)
        .map_err(|_| anyhow::anyhow!("the built-in font does not parse"))?;
    let root = BitMapBackend::new(path, (1400, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(450);
    let length = (plan.before_outage + plan.outage + plan.after_outage).as_secs_f64() + 0.5;
    let points = |result: &WayResult, time_to_cancel: bool| -> Vec<(f64, f64, bool)> {
        let load = &result.outage_load;
        let Some(started_at) = load.started_at else {
            return Vec::new();
        };
        load.deletions
            .iter()
            .filter_map(|deletion| {
                let offset = (deletion.sent_at - started_at).num_microseconds()? as f64 / 1e6;
                let value = if time_to_cancel {
                    measure::time_to_cancel_ms(deletion, &load.cancelled)?
                } else {
                    deletion.latency_ms()
                };
                Some((offset, value.max(0.1), deletion.succeeded()))
            })
            .collect()
    };
    panel(
        &top,
        "DELETE latency as the client saw it (x: failed)",
        results,
        plan,
        length,
        &|result| points(result, false),
    )?;
    panel(
        &bottom,
        "time from the DELETE until the member's reservations were cancelled",
        results,
        plan,
        length,
        &|result| points(result, true),
    )?;
    root.present()?;
    Ok(())
}

type Points<'a> = &'a dyn Fn(&WayResult) -> Vec<(f64, f64, bool)>;

fn panel<Backend: DrawingBackend>(
    area: &DrawingArea<Backend, Shift>,
    title: &str,
    results: &[WayResult],
    plan: &Plan,
    length: f64,
    points: Points<'_>,
) -> anyhow::Result<()>
where
    Backend::ErrorType: 'static,
{
    let highest = results
        .iter()
        .flat_map(points)
        .map(|(_, value, _)| value)
        .fold(10.0_f64, f64::max)
        * 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..length, (0.1..highest).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("seconds since the phase started")
        .y_desc("milliseconds (log)")
        .draw()?;
    let stopped = plan.before_outage.as_secs_f64();
    let restarted = stopped + plan.outage.as_secs_f64();
    chart.draw_series([Rectangle::new(
        [(stopped, 0.1), (restarted, highest)],
        BLACK.mix(0.07).filled(),
    )])?;
    chart.draw_series([Text::new(
        "reservation-service stopped",
        (stopped + 0.2, highest / 1.6),
        (FONT, 14).into_font(),
    )])?;
    for (index, result) in results.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let all = points(result);
        chart
            .draw_series(
                all.iter()
                    .filter(|(_, _, succeeded)| *succeeded)
                    .map(|&(x, y, _)| Circle::new((x, y), 2, color.filled())),
            )?
            .label(result.way.name())
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
        chart.draw_series(
            all.iter()
                .filter(|(_, _, succeeded)| !*succeeded)
                .map(|&(x, y, _)| Cross::new((x, y), 3, color.stroke_width(1))),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}
