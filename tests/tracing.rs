//! What the combinator reports through `tracing`: one span per call, one
//! event per failed attempt, one event on giving up, nothing else.

use persevere::{Fixed, RetryPolicyExt};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::fmt::format::FmtSpan;

/// A writer that keeps everything the subscriber prints.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `fut` on a paused current-thread runtime under a subscriber that
/// captures every event at INFO and above, and returns the captured lines.
fn captured<F: std::future::Future>(fut: F) -> Vec<String> {
    captured_with(FmtSpan::NONE, fut)
}

/// The number of spans opened while `fut` ran: the subscriber prints a line
/// for each new span, and the calls below log no events of their own.
fn spans_opened<F: std::future::Future>(fut: F) -> usize {
    let lines = captured_with(FmtSpan::NEW, fut);
    lines.iter().filter(|l| l.ends_with(": new")).count()
}

fn captured_with<F: std::future::Future>(spans: FmtSpan, fut: F) -> Vec<String> {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_span_events(spans)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || rt.block_on(fut));
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_owned).collect()
}

#[test]
fn a_first_try_success_reports_nothing() {
    let lines = captured(async {
        persevere::retry(|| async { Ok::<_, &str>(1) })
            .await
            .unwrap();
    });
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn a_first_try_success_opens_no_span_and_a_retried_call_exactly_one() {
    let at_once = spans_opened(async {
        persevere::retry(|| async { Ok::<_, &str>(1) })
            .await
            .unwrap();
    });
    assert_eq!(at_once, 0);
    let retried = spans_opened(async {
        let mut n = 0;
        persevere::retry(|| {
            n += 1;
            let fail = n <= 2;
            async move { if fail { Err("reset") } else { Ok(()) } }
        })
        .policy(Fixed::new(Duration::from_millis(5)).with_max_attempts(3))
        .await
        .unwrap();
    });
    assert_eq!(retried, 1);
}

#[test]
fn each_failed_attempt_is_one_event_inside_the_call_span() {
    let lines = captured(async {
        let mut n = 0;
        persevere::retry(|| {
            n += 1;
            let fail = n <= 2;
            async move {
                if fail {
                    Err("connection reset")
                } else {
                    Ok(())
                }
            }
        })
        .policy(Fixed::new(Duration::from_millis(250)).with_max_attempts(5))
        .await
        .unwrap();
    });
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.contains(" INFO retry: persevere: attempt failed, retrying"),
            "{line}"
        );
        assert!(line.contains(&format!("attempt={}", i + 1)), "{line}");
        assert!(line.contains("error=\"connection reset\""), "{line}");
        assert!(
            line.contains("kind=Transient") && line.contains("delay=250ms"),
            "{line}"
        );
    }
}

#[test]
fn giving_up_is_a_single_warning_with_the_reason() {
    let lines = captured(async {
        let err = persevere::retry(|| async { Err::<(), _>("broken pipe") })
            .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(3))
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 3);
    });
    assert_eq!(lines.len(), 3, "{lines:?}");
    let last = &lines[2];
    assert!(last.contains(" WARN retry: persevere: giving up"), "{last}");
    assert!(
        last.contains("attempts=3") && last.contains("reason=gave up"),
        "{last}"
    );
    assert!(
        last.contains("elapsed=2s") && last.contains("error=\"broken pipe\""),
        "{last}"
    );
    assert_eq!(lines.iter().filter(|l| l.contains("giving up")).count(), 1);
}

#[test]
fn attempts_after_the_first_run_inside_the_call_span() {
    let lines = captured(async {
        persevere::retry_with_attempt(|attempt| async move {
            tracing::info!(attempt, "inside the op");
            if attempt < 3 { Err("reset") } else { Ok(()) }
        })
        .policy(Fixed::new(Duration::from_millis(1)).with_max_attempts(3))
        .await
        .unwrap();
    });
    let inside: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("inside the op"))
        .collect();
    assert_eq!(inside.len(), 3, "{lines:?}");
    // The span opens when the first attempt fails.
    assert!(!inside[0].contains("retry:"), "{}", inside[0]);
    assert!(
        inside[1].contains(" INFO retry: tracing: inside the op attempt=2"),
        "{}",
        inside[1]
    );
    assert!(
        inside[2].contains(" INFO retry: tracing: inside the op attempt=3"),
        "{}",
        inside[2]
    );
}
