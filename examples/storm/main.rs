//! A retry storm, simulated: how backoff, jitter and budgets change the load
//! that retries put on a dependency. Runs in virtual time, in seconds.
//!
//! ```text
//! cargo run --release --example storm -- docs/storm.svg
//! ```
//!
//! Scenario A (contention) replays the AWS Architecture Blog's "Exponential
//! Backoff And Jitter": clients racing optimistic-concurrency writes.
//! Scenario B (outage) sends 1,000 calls/s, 3 attempts each, at a dependency
//! that is down for 60 s, with and without each budget, then again as a
//! fleet of 100 processes with a budget each. Scenario C (throttle) sends
//! 1,000 calls/s at a dependency that serves 100/s and throttles the rest,
//! with the AWS SDKs' standard and adaptive retry modes. With a path, it
//! writes an SVG plot of the attempts per 100 ms in scenario B, and one of the
//! attempts per second in scenario C beside it (`-throttle` added to its
//! name). `--quick` runs a smaller version.

mod sim;
mod throttle;

use plotters::prelude::*;
use sim::{Budget, Outage, OutageResult, Strategy};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let svg = args.iter().find(|a| !a.starts_with("--"));

    contention(quick);
    let single = outage(quick, 1);
    let fleet = outage(quick, 100);
    let throttled = throttle(quick);
    if let Some(path) = svg {
        plot(path, &single, &fleet)?;
        println!("\nwrote {path}");
        let path = path.strip_suffix(".svg").unwrap_or(path).to_owned() + "-throttle.svg";
        plot_throttle(&path, &throttled)?;
        println!("wrote {path}");
    }
    Ok(())
}

fn throttle(quick: bool) -> Vec<throttle::ThrottleResult> {
    let seconds = if quick { 20 } else { 60 };
    println!(
        "\nScenario C, throttle: 1000 calls/s for {seconds} s, 1 s deadline each, at a \
         dependency that serves {} requests/s and throttles the rest\n",
        throttle::CAPACITY
    );
    println!("| mode | attempts/s (second half) | throttled | calls that succeeded |");
    println!("|---|---:|---:|---:|");
    let results: Vec<_> = throttle::Mode::ALL
        .iter()
        .map(|&mode| throttle::throttle(mode, seconds))
        .collect();
    for r in &results {
        println!(
            "| {} | {:.0} | {:.1} % | {:.1} % |",
            r.mode.name(),
            r.attempts_per_second,
            r.throttled_fraction * 100.0,
            r.succeeded * 100.0
        );
    }
    println!();
    for r in &results {
        println!(
            "storm throttle mode={} attempts_per_s={:.0} throttled_fraction={:.3}",
            r.mode.name(),
            r.attempts_per_second,
            r.throttled_fraction
        );
    }
    results
}

fn plot_throttle(
    path: &str,
    results: &[throttle::ThrottleResult],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let seconds = results.iter().map(|r| r.attempts.len()).max().unwrap_or(1);
    let peak = results
        .iter()
        .flat_map(|r| r.attempts.iter().copied())
        .max()
        .unwrap_or(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Attempts per second at a dependency that serves 100/s",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..seconds as f64, (1u32..peak * 2).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("attempts / s (log)")
        .draw()?;
    for (i, r) in results.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                r.attempts
                    .iter()
                    .enumerate()
                    .map(|(t, &n)| (t as f64, n.max(1))),
                color.stroke_width(2),
            ))?
            .label(format!(
                "{} ({:.0}/s, {:.0} % throttled)",
                r.mode.name(),
                r.attempts_per_second,
                r.throttled_fraction * 100.0
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .draw_series(LineSeries::new(
            [
                (0.0, throttle::CAPACITY as u32),
                (seconds as f64, throttle::CAPACITY as u32),
            ],
            BLACK.mix(0.4),
        ))?
        .label("what the dependency serves")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.4)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

fn contention(quick: bool) {
    let (clients, runs): (&[u32], u32) = if quick {
        (&[10, 20], 10)
    } else {
        (&[10, 20, 50, 100], 100)
    };
    println!("Scenario A, contention: one conditional write per client (mean of {runs} runs)\n");
    println!("| clients | strategy | calls | time to completion |");
    println!("|---:|---|---:|---:|");
    let mut lines = Vec::new();
    for &n in clients {
        for strategy in Strategy::ALL {
            let result = sim::contention(n, strategy, runs);
            let ms = result.time.as_secs_f64() * 1000.0;
            println!(
                "| {n} | {} | {} | {ms:.0} ms |",
                strategy.name(),
                result.calls
            );
            lines.push(format!(
                "storm contention clients={n} strategy={} calls={} time_ms={ms:.0}",
                strategy.name(),
                result.calls
            ));
        }
    }
    println!();
    for line in lines {
        println!("{line}");
    }
}

fn outage(quick: bool, processes: u32) -> Vec<OutageResult> {
    let mut config = Outage::standard();
    config.processes = processes;
    if quick {
        config.warmup = Duration::from_secs(2);
        config.outage = Duration::from_secs(10);
        config.tail = Duration::from_secs(3);
    }
    let scenario = if processes == 1 {
        "outage"
    } else {
        "outage-fleet"
    };
    println!(
        "\nScenario B, {scenario}: {} calls/s over {processes} process(es), 3 attempts, \
         dependency down for {:?}\n",
        config.calls_per_second, config.outage
    );
    println!(
        "| budget | calls in outage | attempts in outage | amplification | failed calls | recovery |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let results: Vec<_> = Budget::ALL
        .iter()
        .map(|&b| sim::outage(config, b))
        .collect();
    for r in &results {
        println!(
            "| {} | {} | {} | {:.2}x | {} | {} ms |",
            r.budget.name(),
            r.outage_calls,
            r.outage_attempts,
            r.amplification(),
            r.failed_calls,
            r.recovery.as_millis()
        );
    }
    println!();
    for r in &results {
        println!(
            "storm {scenario} budget={} amplification={:.2} recovery_ms={}",
            r.budget.name(),
            r.amplification(),
            r.recovery.as_millis()
        );
    }
    results
}

fn plot(
    path: &str,
    single: &[OutageResult],
    fleet: &[OutageResult],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(450);
    for (area, results, title) in [
        (top, single, "one process, one shared budget"),
        (bottom, fleet, "100 processes, a budget each"),
    ] {
        let len = results.iter().map(|r| r.attempts.len()).max().unwrap_or(0);
        let peak = results
            .iter()
            .flat_map(|r| r.attempts.iter().copied())
            .max()
            .unwrap_or(1);
        let seconds = len as f64 * sim::BUCKET.as_secs_f64();
        let mut chart = ChartBuilder::on(&area)
            .caption(
                format!("Attempts reaching the dependency per 100 ms: {title}"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..seconds, 0u32..peak + peak / 10)?;
        chart
            .configure_mesh()
            .x_desc("time (s); the dependency is down in the middle")
            .y_desc("attempts / 100 ms")
            .draw()?;
        for (i, r) in results.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    r.attempts
                        .iter()
                        .enumerate()
                        .map(|(b, &n)| (b as f64 * sim::BUCKET.as_secs_f64(), n)),
                    color.stroke_width(2),
                ))?
                .label(format!("{} ({:.2}x)", r.budget.name(), r.amplification()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
