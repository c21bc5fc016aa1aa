//! Keeping a tonic request's body in memory, up to a limit, without waiting.

use bytes::{Bytes, BytesMut};
use http::Request;
use http_body::{Body as _, Frame};
use http_body_util::{Either, Full};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tonic::Status;
use tonic::body::Body;

/// The request the tower layer retries: a body kept in memory (replayed) or
/// one that was not (sent once).
pub(super) type Kept = Request<Either<Full<Bytes>, Unbuffered>>;

/// A body that could not be kept: the frames read while trying, then the
/// rest of the stream.
#[derive(Debug)]
pub(super) struct Unbuffered {
    frames: VecDeque<Frame<Bytes>>,
    error: Option<Status>,
    rest: Option<Body>,
}

impl http_body::Body for Unbuffered {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(frame) = self.frames.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(error) = self.error.take() {
            self.rest = None;
            return Poll::Ready(Some(Err(error)));
        }
        match &mut self.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.error.is_none() && self.rest.is_none()
    }
}

/// Reads `request`'s body as far as it goes without waiting: a body that ends
/// within `limit` bytes is kept ([`Either::Left`], replayed); one that is
/// longer, would make the reader wait (a live stream), carries trailers or
/// fails is handed on unkept ([`Either::Right`], sent once).
///
/// The body is polled with a waker that does nothing: nothing here waits for
/// it. A body that is not ready is handed on, and its next poll (by the
/// connection) registers the connection's waker, as `http_body::Body`
/// requires of every poll.
pub(super) fn keep(request: Request<Body>, limit: usize) -> Kept {
    let (parts, mut body) = request.into_parts();
    let mut cx = Context::from_waker(Waker::noop());
    let mut frames = VecDeque::new();
    let mut len = 0usize;
    let unbuffered = |frames, error, rest| {
        Either::Right(Unbuffered {
            frames,
            error,
            rest,
        })
    };
    let body = loop {
        if body.is_end_stream() {
            break Either::Left(Full::new(concat(frames, len)));
        }
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(None) => break Either::Left(Full::new(concat(frames, len))),
            Poll::Ready(Some(Ok(frame))) => {
                let data = frame.data_ref().map(Bytes::len);
                frames.push_back(frame);
                match data {
                    Some(n) => {
                        len = len.saturating_add(n);
                        if len > limit {
                            break unbuffered(frames, None, Some(body));
                        }
                    }
                    // Trailers on a request: rare in gRPC; sent as they are.
                    None => break unbuffered(frames, None, Some(body)),
                }
            }
            Poll::Ready(Some(Err(error))) => break unbuffered(frames, Some(error), None),
            Poll::Pending => break unbuffered(frames, None, Some(body)),
        }
    };
    Request::from_parts(parts, body)
}

/// The data frames of a body that ended, as one buffer (the one frame's own
/// buffer when there is only one, as for a unary request).
fn concat(mut frames: VecDeque<Frame<Bytes>>, len: usize) -> Bytes {
    if frames.len() == 1 {
        if let Some(Ok(data)) = frames.pop_front().map(Frame::into_data) {
            return data;
        }
        return Bytes::new();
    }
    let mut all = BytesMut::with_capacity(len);
    for frame in frames {
        if let Ok(data) = frame.into_data() {
            all.extend_from_slice(&data);
        }
    }
    all.freeze()
}

/// The body an attempt sends through a tonic `Channel`.
pub(super) fn into_tonic(body: Either<Full<Bytes>, Unbuffered>) -> Body {
    match body {
        Either::Left(kept) => Body::new(kept),
        // Nothing was read: the original body goes on unwrapped.
        Either::Right(Unbuffered {
            frames,
            error: None,
            rest: Some(rest),
        }) if frames.is_empty() => rest,
        Either::Right(unkept) => Body::new(unkept),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn full(bytes: &'static [u8]) -> Request<Body> {
        Request::new(Body::new(Full::new(Bytes::from_static(bytes))))
    }

    /// A live stream: one frame, then not ready.
    struct Live(bool);

    impl http_body::Body for Live {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Pending
            } else {
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"first")))))
            }
        }
    }

    #[tokio::test]
    async fn small_bodies_are_kept_large_and_pending_ones_are_not() {
        let Either::Left(small) = keep(full(b"hello"), 5).into_body() else {
            panic!("not kept")
        };
        assert_eq!(small.collect().await.unwrap().to_bytes(), "hello");
        assert!(matches!(
            keep(Request::new(Body::empty()), 0).body(),
            Either::Left(_)
        ));

        let Either::Right(large) = keep(full(b"hello!"), 5).into_body() else {
            panic!("kept")
        };
        // Nothing is lost: the frames read come first, then the rest.
        let sent = into_tonic(Either::Right(large)).collect().await.unwrap();
        assert_eq!(sent.to_bytes(), "hello!");

        let Either::Right(live) = keep(Request::new(Body::new(Live(false))), 1 << 20).into_body()
        else {
            panic!("a live stream was kept")
        };
        let mut live = into_tonic(Either::Right(live));
        let first = live.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "first");
    }

    #[tokio::test]
    async fn a_failing_body_is_sent_once_and_fails_the_same() {
        let Either::Right(unkept) =
            keep(Request::new(Body::new(Failing(false))), 1 << 20).into_body()
        else {
            panic!("a failing body was kept")
        };
        let mut sent = into_tonic(Either::Right(unkept));
        assert_eq!(
            sent.frame().await.unwrap().unwrap().into_data().unwrap(),
            "ok"
        );
        let error = sent.frame().await.unwrap().unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument);
        assert!(sent.frame().await.is_none());
    }

    /// One frame, then an encoding error.
    struct Failing(bool);

    impl http_body::Body for Failing {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            Poll::Ready(Some(if std::mem::replace(&mut self.0, true) {
                Err(Status::invalid_argument("too large to encode"))
            } else {
                Ok(Frame::data(Bytes::from_static(b"ok")))
            }))
        }
    }
}
