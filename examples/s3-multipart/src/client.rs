//! An S3 client for a loopback S3-compatible server, with the SDK's own
//! retries switched off so that persevere does all the retrying.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use std::time::Duration;

/// The access key moto (and most S3 test servers) accepts.
pub const TEST_ACCESS_KEY: &str = "testing";
/// The secret key that goes with [`TEST_ACCESS_KEY`].
pub const TEST_SECRET_KEY: &str = "testing";

/// Builds an S3 client for `endpoint` (such as `http://127.0.0.1:5000`):
///
/// - `RetryConfig::disabled()`: every failure reaches the caller at once, so
///   the only retries are the ones persevere makes, and each is counted;
/// - path-style addressing (`http://host/bucket/key`), since a loopback
///   server has no per-bucket host names;
/// - static test credentials, region `us-east-1`;
/// - checksums only where an operation requires them, so that `UploadPart`
///   sends a plain `Content-Length` body;
/// - a 5 s connect timeout; attempt timeouts are persevere's.
///
/// The HTTP client is the SDK's hyper client without TLS
/// (`aws_smithy_http_client::Builder::build_http`): the example only talks
/// plain HTTP to loopback, and this keeps a TLS stack out of its build.
pub fn connect(endpoint: &str) -> Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            TEST_ACCESS_KEY,
            TEST_SECRET_KEY,
            None,
            None,
            "s3-multipart-static",
        ))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .build(),
        )
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .http_client(http)
        .build();
    Client::from_conf(config)
}
