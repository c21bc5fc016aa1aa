//! A tonic-health `Health` server on 127.0.0.1 that fails as planned.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// One planned failure: a status code and maybe a `grpc-retry-pushback-ms`.
#[derive(Debug, Clone, Copy)]
pub struct Fail(pub tonic::Code, pub Option<&'static str>);

#[derive(Clone)]
struct Flaky {
    plan: Arc<Mutex<VecDeque<Fail>>>,
    /// Forever fail with this once the plan is spent, if set.
    always: Option<Fail>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

fn status(fail: Fail) -> Status {
    let mut status = Status::new(fail.0, "planned failure");
    if let Some(ms) = fail.1 {
        status
            .metadata_mut()
            .insert("grpc-retry-pushback-ms", ms.parse().unwrap());
    }
    status
}

#[tonic::async_trait]
impl Health for Flaky {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.arrivals.lock().unwrap().push(Instant::now());
        let next = self.plan.lock().unwrap().pop_front().or(self.always);
        match next {
            Some(fail) => Err(status(fail)),
            None => Ok(Response::new(HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            })),
        }
    }

    type WatchStream = tokio_stream::Once<Result<HealthCheckResponse, Status>>;

    /// Answers with headers, then one message or the planned failure in the
    /// trailers: the failure comes after the call is committed.
    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        self.arrivals.lock().unwrap().push(Instant::now());
        let next = self.plan.lock().unwrap().pop_front().or(self.always);
        let item = match next {
            Some(fail) => Err(status(fail)),
            None => Ok(HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            }),
        };
        Ok(Response::new(tokio_stream::once(item)))
    }
}

/// A running server: where it listens and when each call arrived.
pub struct Server {
    pub addr: SocketAddr,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Server {
    /// Fails with `plan`, in order, then answers SERVING (or fails with
    /// `always` forever).
    pub async fn start(plan: Vec<Fail>, always: Option<Fail>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let service = Flaky {
            plan: Arc::new(Mutex::new(plan.into())),
            always,
            arrivals: arrivals.clone(),
        };
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(HealthServer::new(service))
                .serve_with_incoming(incoming),
        );
        Server { addr, arrivals }
    }

    /// A channel to the server, connected.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// When each call reached the handler.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}
