//! A hedged call whose first attempt answers at once, against a plain
//! `retry` success and a bare `.await`: what hedging costs a call that does
//! not need it. On the real clock (no timer is armed on this path).

use criterion::{Criterion, criterion_group, criterion_main};
use persevere::hedge::{HedgeBudget, LatencyTracker};
use std::hint::black_box;
use std::io::Error;
use std::time::Duration;
use tokio::runtime::Builder;

async fn answer() -> Result<u32, Error> {
    Ok(black_box(42))
}

fn hedge_success(c: &mut Criterion) {
    let rt = Builder::new_current_thread().enable_time().build().unwrap();
    let tracker = LatencyTracker::new(95.0).with_fallback(Duration::from_millis(10));
    let budget = HedgeBudget::new();
    let mut g = c.benchmark_group("hedge_success");
    g.bench_function("bare_await", |b| {
        b.to_async(&rt).iter(|| async { answer().await.unwrap() })
    });
    g.bench_function("retry", |b| {
        b.to_async(&rt)
            .iter(|| async { persevere::retry(answer).await.unwrap() })
    });
    g.bench_function("hedge_fixed", |b| {
        b.to_async(&rt).iter(|| async {
            persevere::hedge(answer)
                .delay(Duration::from_millis(10))
                .await
                .unwrap()
                .into_inner()
        })
    });
    g.bench_function("hedge_adaptive_budget", |b| {
        b.to_async(&rt).iter(|| async {
            persevere::hedge(answer)
                .delay(&tracker)
                .hedge_budget(&budget)
                .await
                .unwrap()
                .into_inner()
        })
    });
    g.finish();
}

criterion_group!(benches, hedge_success);
criterion_main!(benches);
