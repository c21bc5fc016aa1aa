//! Hedged requests, simulated: how a hedge cuts the latency tail of a
//! dependency that is fast except for a slow fraction, and what it costs in
//! extra attempts. Runs on tokio's paused clock with the real
//! `persevere::hedge`.
//!
//! ```text
//! cargo run --release --example hedge -- docs/hedge.svg
//! ```
//!
//! 1,000 calls/s for 100 s (`--quick`: 10 s) against a dependency whose
//! attempts take about 5 ms 98 % of the time and about 1 s otherwise, with no
//! hedge, a hedge after a fixed 20 ms, and a hedge after the p95 of recent
//! latencies (a shared `LatencyTracker`). Every hedge is drawn from one
//! `HedgeBudget` (5 % of calls). Prints a table and one line per strategy;
//! with a path, writes an SVG plot of the latency tail.

mod sim;

use plotters::prelude::*;
use sim::{Run, Strategy};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let svg = args.iter().find(|a| !a.starts_with("--"));
    let calls = if quick { 10_000 } else { 100_000 };
    let interval = Duration::from_millis(1);

    let strategies = [
        Strategy::None,
        Strategy::Fixed(Duration::from_millis(20)),
        Strategy::Adaptive,
    ];
    let runs: Vec<Run> = strategies
        .into_iter()
        .map(|s| sim::run(s, calls, interval))
        .collect();

    println!("{calls} calls at 1,000/s; attempts: 98 % ~5 ms, 2 % ~1 s\n");
    println!("| strategy | p50 | p99 | p99.9 | max | extra attempts |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &runs {
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} % |",
            label(r),
            ms(r.quantile(0.5)),
            ms(r.quantile(0.99)),
            ms(r.quantile(0.999)),
            ms(r.quantile(1.0)),
            100.0 * r.extra()
        );
    }
    println!();
    for r in &runs {
        println!(
            "hedge strategy={} p50_ms={:.1} p99_ms={:.1} p999_ms={:.1} extra={:.4}",
            r.strategy.name(),
            ms(r.quantile(0.5)),
            ms(r.quantile(0.99)),
            ms(r.quantile(0.999)),
            r.extra()
        );
    }
    let (none, adaptive) = (&runs[0], &runs[2]);
    println!(
        "\nadaptive: p99.9 cut {:.1}x for {:.2} % extra attempts (target: >= 10x for <= 5 %)",
        ms(none.quantile(0.999)) / ms(adaptive.quantile(0.999)),
        100.0 * adaptive.extra()
    );
    if let Some(path) = svg {
        plot(path, &runs)?;
        println!("wrote {path}");
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn label(r: &Run) -> String {
    match (r.strategy, r.final_delay) {
        (Strategy::Fixed(d), _) => format!("fixed {} ms", d.as_millis()),
        (Strategy::Adaptive, Some(d)) => format!("adaptive p95 (ended at {:.1} ms)", ms(d)),
        (s, _) => s.name().to_owned(),
    }
}

/// The latency tail: the fraction of calls slower than each latency, on
/// log-log axes.
fn plot(path: &str, runs: &[Run]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let calls = runs[0].latencies.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Hedged requests: fraction of calls slower than a latency",
            ("sans-serif", 20),
        )
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d((1f64..2000f64).log_scale(), (0.5 / calls..1f64).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("latency (ms)")
        .y_desc("fraction of calls slower")
        .draw()?;
    for (i, r) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let n = r.latencies.len();
        let points = r
            .latencies
            .iter()
            .enumerate()
            .filter(|(k, _)| k % 100 == 0 || n - k < 300)
            .map(|(k, d)| (ms(*d).max(1.0), (n - k) as f64 / n as f64));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!(
                "{}: p99.9 {:.0} ms, {:.1} % extra",
                label(r),
                ms(r.quantile(0.999)),
                100.0 * r.extra()
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}
