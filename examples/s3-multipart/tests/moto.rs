//! Against a real S3-compatible server (moto), through the fault-injecting
//! proxy. `.ci/s3-multipart` starts moto on 127.0.0.1, sets
//! `S3_MULTIPART_ENDPOINT` and runs them with `--include-ignored`: they are
//! `#[ignore]`d, so a plain `cargo test` lists them as ignored, and run
//! without the variable they fail saying so.

mod common;

use common::*;
use persevere::StopReason;
use s3_multipart::proxy::Faults;
use s3_multipart::upload::{self, PartOutcome, UploadError};
use s3_multipart::{ResumeState, UploadOptions, client};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs S3_MULTIPART_ENDPOINT (run .ci/s3-multipart)"]
async fn twenty_percent_of_requests_reset_and_the_upload_completes() {
    let endpoint = endpoint();
    // Seed 3: the 1st, 4th and 7th decisions are resets, and a run makes at
    // least 9 requests, so at least 3 are reset whatever the order.
    let (proxy, client) = proxied(
        &endpoint,
        Faults {
            reset_fraction: 0.2,
            seed: 3,
            ..Faults::default()
        },
    )
    .await;
    let opts = options("persevere-resets", "resets.bin", 8);
    let file = generated("resets.bin", 1);

    upload::ensure_bucket(&client, &opts).await.unwrap();
    let done = upload::upload(&client, &opts, &file).await.unwrap();
    // Read back through the proxy too, as before: the download is retried
    // on resets.
    assert_object_matches(&proxy.endpoint(), &opts, &done.state).await;

    let stats = proxy.stats();
    print_report("resets", &done.report);
    eprintln!("proxy: {stats:?}");
    assert!(stats.resets >= 3, "{stats:?}");
    assert_eq!(done.report.parts.len(), 5);
    assert!(
        done.report
            .parts
            .iter()
            .all(|p| p.outcome == PartOutcome::Uploaded)
    );
    // A reset request never reaches the server whole: each part did, once.
    assert_eq!(
        stats.upload_parts_forwarded,
        (1..=5).map(|n| (n, 1)).collect::<BTreeMap<_, _>>()
    );
    // Every attempt the client counted reached the proxy.
    for part in &done.report.parts {
        assert_eq!(
            stats.upload_parts_seen.get(&part.part_number).copied(),
            Some(part.attempts),
            "part {}",
            part.part_number
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs S3_MULTIPART_ENDPOINT (run .ci/s3-multipart)"]
async fn a_part_that_always_fails_is_resumed_without_resending_the_others() {
    let endpoint = endpoint();
    let opts = options("persevere-resume", "resume.bin", 3);
    let file = generated("resume.bin", 2);

    // First run: every request for part 3 is reset.
    let (failing, client) = proxied(
        &endpoint,
        Faults {
            fail_part: Some(3),
            ..Faults::default()
        },
    )
    .await;
    upload::ensure_bucket(&client, &opts).await.unwrap();
    let err = upload::upload(&client, &opts, &file).await.unwrap_err();
    let UploadError::Incomplete(incomplete) = err else {
        panic!("expected an incomplete upload, got {err}");
    };
    print_report("first run", &incomplete.report);
    let state = incomplete.state.clone();
    assert_eq!(state.missing_parts(), [3]);
    assert_eq!(
        state
            .completed
            .iter()
            .map(|p| p.part_number)
            .collect::<Vec<_>>(),
        [1, 2, 4, 5]
    );
    let part3 = &incomplete.report.parts[2];
    assert_eq!(part3.attempts, 3);
    assert!(matches!(
        part3.outcome,
        PartOutcome::Failed {
            reason: StopReason::AttemptsExhausted,
            ..
        }
    ));
    let first = failing.stats();
    assert_eq!(first.part_failures, 3);
    assert_eq!(first.upload_parts_seen.get(&3), Some(&3));
    assert_eq!(
        first.upload_parts_forwarded,
        BTreeMap::from([(1, 1), (2, 1), (4, 1), (5, 1)])
    );
    drop(failing);

    // The state goes through a file, as between two runs of the command.
    let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).join("s3-multipart/resume-state.json");
    state.save(&saved).unwrap();
    let loaded = ResumeState::load(&saved).unwrap();
    assert_eq!(loaded, state);

    // Second run, no faults: only part 3 is sent.
    let (clean, client) = proxied(&endpoint, Faults::default()).await;
    let done = upload::resume(&client, &opts, &file, loaded).await.unwrap();
    print_report("second run", &done.report);
    assert_eq!(done.report.parts_sent(), [3]);
    assert_eq!(done.state.missing_parts(), Vec::<i32>::new());
    let second = clean.stats();
    assert_eq!(second.upload_parts_seen, BTreeMap::from([(3, 1)]));
    assert_eq!(second.upload_parts_forwarded, BTreeMap::from([(3, 1)]));

    assert_object_matches(&endpoint, &opts, &done.state).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs S3_MULTIPART_ENDPOINT (run .ci/s3-multipart)"]
async fn silent_connections_hit_the_attempt_timeout_and_the_upload_completes() {
    let endpoint = endpoint();
    // Seed 5: the 3rd, 4th and 5th decisions hold the request silent.
    let (proxy, client) = proxied(
        &endpoint,
        Faults {
            silent_fraction: 0.25,
            hold: Duration::from_secs(30),
            seed: 5,
            ..Faults::default()
        },
    )
    .await;
    // 5 s: long enough that a whole 5 MiB part reaches moto in time on a
    // loaded 2-core machine (at 2 s, slow forwarded attempts timed out too
    // and parts ran out of attempts), far short of the 30 s hold.
    let opts = UploadOptions {
        attempt_timeout: Duration::from_secs(5),
        ..options("persevere-silent", "silent.bin", 8)
    };
    let file = generated("silent.bin", 3);

    upload::ensure_bucket(&client, &opts).await.unwrap();
    let done = upload::upload(&client, &opts, &file).await.unwrap();
    print_report("silent", &done.report);
    let stats = proxy.stats();
    eprintln!("proxy: {stats:?}");
    assert!(stats.silent >= 3, "{stats:?}");
    drop(proxy);
    assert_object_matches(&endpoint, &opts, &done.state).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs S3_MULTIPART_ENDPOINT (run .ci/s3-multipart)"]
async fn abort_frees_an_incomplete_upload() {
    let endpoint = endpoint();
    let (_proxy, client) = proxied(
        &endpoint,
        Faults {
            fail_part: Some(1),
            ..Faults::default()
        },
    )
    .await;
    let opts = options("persevere-abort", "abort.bin", 1);
    let file = generated("abort.bin", 4);
    upload::ensure_bucket(&client, &opts).await.unwrap();
    let err = upload::upload(&client, &opts, &file).await.unwrap_err();
    let state = err.resume_state().expect("a resumable state").clone();
    assert_eq!(state.missing_parts(), [1]);

    upload::abort(&client, &opts, &state).await.unwrap();
    let direct = client::connect(&endpoint);
    let listed = direct
        .list_parts()
        .bucket(&state.bucket)
        .key(&state.key)
        .upload_id(&state.upload_id)
        .send()
        .await;
    let code = listed
        .as_ref()
        .err()
        .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code);
    assert_eq!(code, Some("NoSuchUpload"), "{listed:?}");
    // Resuming an aborted upload fails. S3 answers NoSuchUpload (terminal);
    // moto 5.2.5 answers a bare 500 (its KeyError), which is transient, so
    // here the one attempt per part of these options is what stops it: part
    // 1, the only one missing, is sent exactly once, and no other part.
    let err = upload::resume(&direct, &opts, &file, state)
        .await
        .unwrap_err();
    let UploadError::Incomplete(incomplete) = err else {
        panic!("expected an incomplete upload, got {err}");
    };
    assert!(
        incomplete
            .report
            .parts
            .iter()
            .all(|p| p.attempts == u32::from(p.part_number == 1)
                && p.outcome != PartOutcome::Uploaded),
        "{:?}",
        incomplete.report
    );
    assert!(
        matches!(
            incomplete.report.parts[0].outcome,
            PartOutcome::Failed { .. }
        ),
        "{:?}",
        incomplete.report
    );
}
