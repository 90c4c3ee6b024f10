//! SVG plots (plotters, SVG backend only): latency percentile curves and migration wall times.

use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;

use crate::stats::percentile;

const SIZE: (u32, u32) = (760, 420);

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    COLORS[i % COLORS.len()]
}

/// Latency (ms) by percentile, 0 to 99.9, one line per series of sorted latencies. The maximum is left
/// out so one outlier does not flatten the curve (tables give it).
pub fn percentiles(
    path: &Path,
    title: &str,
    series: &[(String, &[Duration])],
) -> anyhow::Result<()> {
    let top_ms = series
        .iter()
        .map(|(_, lat)| percentile(lat, 0.999).as_secs_f64() * 1000.0)
        .fold(0.0_f64, f64::max)
        .max(0.01)
        * 1.1;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0_f64..100.0_f64, 0.0_f64..top_ms)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, (label, lat)) in series.iter().enumerate() {
        if lat.is_empty() {
            continue;
        }
        let c = color(i);
        let points: Vec<(f64, f64)> = (0..=999)
            .map(|k| {
                let q = f64::from(k) / 1000.0;
                (q * 100.0, percentile(lat, q).as_secs_f64() * 1000.0)
            })
            .collect();
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(2)))?
            .label(format!("{label} (n={})", lat.len()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Wall time (s) by `--concurrency`, one line per kind of run.
pub fn migrations(
    path: &Path,
    title: &str,
    series: &[(String, Vec<(u16, f64)>)],
) -> anyhow::Result<()> {
    let max_c = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|(c, _)| *c))
        .max()
        .unwrap_or(1);
    let top = series
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|(_, s)| *s))
        .fold(0.0_f64, f64::max)
        .max(0.01)
        * 1.15;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0_f64..f64::from(max_c) + 1.0, 0.0_f64..top)?;
    chart
        .configure_mesh()
        .x_desc("--concurrency")
        .y_desc("wall time (s)")
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, (label, pts)) in series.iter().enumerate() {
        let c = color(i);
        let pts: Vec<(f64, f64)> = pts.iter().map(|(x, y)| (f64::from(*x), *y)).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
