//! No leaked connections: 1,000 calls that each fail twice with response
//! bodies the caller never reads, then succeed. Alone in its file, so that no
//! other test opens descriptors in the process meanwhile.
#![cfg(feature = "reqwest")]

mod support;

use persevere::classify::reqwest::{ReqwestErrors, send};
use persevere::{Fixed, RetryPolicyExt};
use std::time::Duration;
use support::{Fault, Script, Server};

const CALLS: usize = 1000;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn discarded_error_responses_leak_no_connections() {
    let server = Server::start(Script::per_key(
        [Fault::Status(503), Fault::Status(500)],
        3 * CALLS,
    ));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let baseline = support::open_fds();
    for key in 0..CALLS {
        let url = server.url(&format!("/{key}"));
        let body = persevere::retry(|| send(client.get(&url)))
            .policy(Fixed::new(Duration::from_millis(10)).with_max_attempts(3))
            .classify(ReqwestErrors)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, format!("/{key}"));
    }
    assert_eq!(server.requests(), 3 * CALLS);
    assert!(
        server.all_closed_within(Duration::from_secs(5)).await,
        "{} open",
        server.open()
    );
    assert_eq!(server.lingering(), 0);
    let now = support::open_fds();
    assert!(
        now <= baseline + 4,
        "{baseline} descriptors before, {now} after"
    );
}
