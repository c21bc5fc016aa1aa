//! The tonic layer allocates nothing per attempt beyond each attempt's copy
//! of the kept request (the request's clone, and the box that makes its body
//! a `tonic::body::Body`): counted by a global allocator that tallies the
//! allocations of the current thread, with an in-memory transport and no
//! tracing subscriber.
//!
//! The counter is `tests/counting_alloc`, shared by the allocation tests.

use bytes::Bytes;
use http_body_util::Full;
use persevere::classify::Idempotent;
use persevere::tonic::{GrpcCodes, GrpcResponses, GrpcRetryLayer};
use persevere::tower::RetryLayer;
use persevere::{Fixed, RetryPolicyExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tonic::body::Body;
use tower::{Layer, ServiceExt, service_fn};

#[path = "../../tests/counting_alloc/mod.rs"]
mod counting_alloc;
use counting_alloc::{allocations, allocations_of};

/// A request as a tonic client makes it: a path, gRPC's headers, and a body
/// of one encoded message.
fn request() -> http::Request<Full<Bytes>> {
    http::Request::post("http://127.0.0.1:50051/grpc.health.v1.Health/Check")
        .header("te", "trailers")
        .header("content-type", "application/grpc")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\x02\x0a\0")))
        .unwrap()
}

#[test]
fn the_tonic_layer_adds_no_allocation_per_attempt_beyond_the_requests_copy() {
    let run = |failures: u32| {
        allocations_of(move || async move {
            let seen = Arc::new(AtomicU32::new(0));
            // A 503 with no grpc-status is UNAVAILABLE, and a response with
            // no headers allocates nothing: the transport costs nothing per
            // attempt, so what is counted is the layer's.
            let transport = service_fn(move |_: http::Request<Body>| {
                let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
                let mut response = http::Response::new(Body::empty());
                if n <= failures {
                    *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                }
                std::future::ready(Ok::<_, std::io::Error>(response))
            });
            let service = GrpcRetryLayer::new(
                RetryLayer::new()
                    .policy(Fixed::new(Duration::from_millis(5)).with_max_attempts(10))
                    .classify(GrpcCodes::new())
                    .classify_responses(GrpcResponses::new()),
            )
            .layer(transport);
            let response = service.oneshot(request().map(Body::new)).await.unwrap();
            assert_eq!(response.status(), 200);
        })
    };
    // One attempt's copy: the kept request (with the layer's `Idempotent`
    // extension) cloned, and its body boxed into a `tonic::body::Body`.
    let copy_cost = {
        let mut kept = request();
        kept.extensions_mut().insert(Idempotent);
        // The first clone of a parsed URI also moves its bytes to a shared
        // buffer, once: the later clones (the retries') cost less.
        std::hint::black_box(kept.clone());
        let before = allocations();
        std::hint::black_box(kept.clone().map(Body::new));
        allocations() - before
    };
    assert!(copy_cost > 0, "the copy should allocate");
    let (once, five) = (run(0), run(4));
    assert_eq!(
        five - once,
        4 * copy_cost,
        "once: {once}, five attempts: {five}"
    );
}
