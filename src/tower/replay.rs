//! Which requests can be sent again, and how each attempt gets its copy.

use http::Request;
use http_body_util::Either;

/// Decides whether a request can be replayed, and makes each attempt's copy.
///
/// [`keep`](Self::keep) is called once per request, before its first
/// attempt: `Ok(kept)` keeps what every attempt copies from with
/// [`copy`](Self::copy) (the first attempt too); `Err(request)` hands the
/// request back to be **sent once**: its failure is never retried.
///
/// # Examples
///
/// Requests of `String` bodies up to 1 KiB are replayed; larger ones are sent
/// once:
///
/// ```
/// use persevere::tower::Replay;
/// use http::Request;
///
/// #[derive(Clone)]
/// struct SmallBodies;
///
/// impl Replay<Request<String>> for SmallBodies {
///     type Kept = Request<String>;
///     fn keep(&self, req: Request<String>) -> Result<Request<String>, Request<String>> {
///         if req.body().len() <= 1024 { Ok(req) } else { Err(req) }
///     }
///     fn copy(&self, kept: &Request<String>) -> Request<String> {
///         kept.clone()
///     }
/// }
///
/// assert!(SmallBodies.keep(Request::new("x".repeat(10))).is_ok());
/// assert!(SmallBodies.keep(Request::new("x".repeat(2000))).is_err());
/// ```
pub trait Replay<Req> {
    /// What a replayable request is kept as, between attempts.
    type Kept;

    /// Keeps `req` for copies, or hands it back when it cannot be replayed.
    ///
    /// # Errors
    ///
    /// The request itself, when it cannot be sent more than once.
    fn keep(&self, req: Req) -> Result<Self::Kept, Req>;

    /// The request to send for one attempt.
    fn copy(&self, kept: &Self::Kept) -> Req;
}

/// Replays any `Clone` request: the default, for requests whose bodies are
/// in memory (`Full<Bytes>`, `String`, `Vec<u8>`, `()`).
///
/// # Examples
///
/// ```
/// use persevere::tower::{Replay, ReplayClone};
///
/// let kept = ReplayClone.keep(http::Request::new("body")).unwrap();
/// assert_eq!(*ReplayClone.copy(&kept).body(), "body");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReplayClone;

impl<Req: Clone> Replay<Req> for ReplayClone {
    type Kept = Req;

    fn keep(&self, req: Req) -> Result<Req, Req> {
        Ok(req)
    }

    fn copy(&self, kept: &Req) -> Req {
        kept.clone()
    }
}

/// Replays a request whose body is [`Either::Left`] (in memory, `Clone`) and
/// sends one whose body is [`Either::Right`] (a stream) once, for a client
/// whose requests carry either.
///
/// # Examples
///
/// ```
/// use http::Request;
/// use http_body_util::Either;
/// use persevere::tower::{Replay, ReplayEither};
///
/// let buffered: Request<Either<String, ()>> = Request::new(Either::Left("body".into()));
/// assert!(ReplayEither.keep(buffered).is_ok());
/// let streamed: Request<Either<String, ()>> = Request::new(Either::Right(()));
/// assert!(ReplayEither.keep(streamed).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReplayEither;

impl<L: Clone, R> Replay<Request<Either<L, R>>> for ReplayEither {
    type Kept = Request<L>;

    fn keep(&self, req: Request<Either<L, R>>) -> Result<Request<L>, Request<Either<L, R>>> {
        let (parts, body) = req.into_parts();
        match body {
            Either::Left(body) => Ok(Request::from_parts(parts, body)),
            Either::Right(body) => Err(Request::from_parts(parts, Either::Right(body))),
        }
    }

    fn copy(&self, kept: &Request<L>) -> Request<Either<L, R>> {
        kept.clone().map(Either::Left)
    }
}
