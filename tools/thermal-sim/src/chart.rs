//! SVG charts of compare runs (plotters): die temperature of every regime over time with
//! the 80 °C line and the ambient, and below it the served rate (admitted load × clock).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;

use crate::compare::{RunResult, HOT_C};
use crate::outputs;
use crate::scenario::Scenario;

/// Chart size in pixels.
const SIZE: (u32, u32) = (960, 640);
/// Line colour per regime, in [`crate::regime::RegimeKind::ALL`] order.
const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(23, 190, 207),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

/// Writes `dir/thermal-<scenario>.svg` ([`outputs::chart_path`]), creating `dir` if it
/// went missing; returns its path. Every error names the directory or the file.
pub fn write(dir: &Path, scenario: &Scenario, runs: &[RunResult]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the charts directory {}", dir.display()))?;
    let path = outputs::chart_path(dir, scenario);
    // Drawn in memory and written by outputs::write_output, which refuses a FIFO or a
    // device where the chart goes instead of blocking on it.
    let mut svg = String::new();
    draw(SVGBackend::with_string(&mut svg, SIZE), scenario, runs)
        .map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    outputs::write_output(&path, svg.as_bytes())?;
    Ok(path)
}

fn draw(
    backend: SVGBackend<'_>,
    scenario: &Scenario,
    runs: &[RunResult],
) -> Result<(), Box<dyn std::error::Error>> {
    let minutes = scenario.duration.as_secs_f64() / 60.0;
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(SIZE.1 * 68 / 100);

    let peak = runs
        .iter()
        .map(|run| run.metrics.peak_c)
        .fold(HOT_C, f64::max);
    let low = runs
        .iter()
        .flat_map(|run| run.trace.ambient_c.iter().chain(&run.trace.die_c))
        .copied()
        .fold(f64::MAX, f64::min);
    let y_range = (low - 3.0).floor()..(peak + 3.0).ceil();
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!("{}: {}", scenario.name, scenario.description),
            ("sans-serif", 17),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..minutes, y_range)?;
    chart
        .configure_mesh()
        .x_desc("minutes")
        .y_desc("die temperature (°C)")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let red = RGBColor(214, 39, 40);
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, HOT_C), (minutes, HOT_C)],
            6,
            4,
            red.stroke_width(1),
        ))?
        .label("80 °C: firmware starts capping")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red));
    if let Some(first) = runs.first() {
        let grey = RGBColor(150, 150, 150);
        let ambient = first
            .trace
            .t_s
            .iter()
            .map(|t| t / 60.0)
            .zip(first.trace.ambient_c.iter().copied());
        chart
            .draw_series(LineSeries::new(ambient, grey.stroke_width(1)))?
            .label("ambient")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
    }
    for (run, colour) in runs.iter().zip(COLOURS) {
        let points = run
            .trace
            .t_s
            .iter()
            .map(|t| t / 60.0)
            .zip(run.trace.die_c.iter().copied());
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(run.metrics.regime.label())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;

    let mut served = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..minutes, 0.0..1.05)?;
    served
        .configure_mesh()
        .x_desc("minutes")
        .y_desc("served (load × clock)")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (run, colour) in runs.iter().zip(COLOURS) {
        let trace = &run.trace;
        let points = trace
            .t_s
            .iter()
            .enumerate()
            .map(|(i, t)| (t / 60.0, trace.admitted[i] * trace.frequency_ratio[i]));
        served.draw_series(LineSeries::new(points, colour.stroke_width(1)))?;
    }
    root.present()?;
    Ok(())
}
