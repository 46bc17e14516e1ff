//! What it takes to send a call again on another endpoint, and when that
//! is allowed.
//!
//! A call is replayed only when the upstream provably never processed it:
//! it answered the stream with `REFUSED_STREAM`, or it had sent a graceful
//! `GOAWAY` (`NO_ERROR`) that leaves the call's stream out — h2 fails with
//! that remote `GOAWAY` exactly the streams above its last stream id and
//! those opened after it; streams it did process end otherwise (a broken
//! pipe when the connection drops). Even then, a call whose
//! body had started streaming upstream is not replayed: only a body the
//! gateway holds whole (every grpc-web unary call), or one not a byte of
//! which had been taken yet, can be sent again. A call is replayed at most
//! once ([`super::Cluster::send`]).
//!
//! A native gRPC body that has already arrived whole when the call is
//! dispatched (a unary call, usually) is held whole too; nothing waits for
//! it, so a streaming call is forwarded as it was.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use futures::FutureExt as _;
use http::{HeaderMap, Method, Request, Uri, Version};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt as _, Full};
use tonic::body::Body;

/// A call on its way upstream, kept so that it can be sent again.
#[derive(Debug)]
pub struct Call {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    body: Source,
}

#[derive(Debug)]
enum Source {
    /// The gateway holds the whole body: it can always be sent again.
    Whole(Bytes),
    /// A body still arriving, shared with the attempt that carries it.
    Streamed(Arc<Slot>),
}

#[derive(Debug)]
struct Slot {
    body: Mutex<Option<Body>>,
    started: AtomicBool,
}

impl Call {
    /// A call whose body is `whole`.
    pub fn whole(request: Request<()>, whole: Bytes) -> Call {
        Call::new(request, Source::Whole(whole))
    }

    /// A call whose body streams from the client, held whole when it had
    /// already arrived whole (a native unary call, usually), so that it can
    /// be replayed like a grpc-web one. Nothing waits for the body.
    pub fn streamed(request: Request<Body>) -> Call {
        let (parts, mut body) = request.into_parts();
        let head = Request::from_parts(parts, ());
        if body.is_end_stream() {
            return Call::whole(head, Bytes::new());
        }
        match body.frame().now_or_never() {
            None => Call::streaming(head.map(|()| body)),
            Some(None) => Call::whole(head, Bytes::new()),
            Some(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) if body.is_end_stream() => Call::whole(head, data),
                Ok(data) => Call::streaming(head.map(|()| {
                    Body::new(Prefixed {
                        first: Some(Ok(Frame::data(data))),
                        rest: body,
                    })
                })),
                Err(frame) => Call::streaming(head.map(|()| {
                    Body::new(Prefixed {
                        first: Some(Ok(frame)),
                        rest: body,
                    })
                })),
            },
            Some(Some(Err(status))) => Call::streaming(head.map(|()| {
                Body::new(Prefixed {
                    first: Some(Err(status)),
                    rest: body,
                })
            })),
        }
    }

    /// A call whose body streams, as it is.
    pub fn streaming(request: Request<Body>) -> Call {
        let (parts, body) = request.into_parts();
        Call::new(
            Request::from_parts(parts, ()),
            Source::Streamed(Arc::new(Slot {
                body: Mutex::new(Some(body)),
                started: AtomicBool::new(false),
            })),
        )
    }

    fn new(request: Request<()>, body: Source) -> Call {
        let (parts, ()) = request.into_parts();
        Call {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            body,
        }
    }

    /// The path (and query) to ask every endpoint for.
    pub fn path(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }

    /// Whether the call can (still) be sent: its body is held whole, or
    /// none of it has been taken by an earlier attempt.
    pub fn can_send(&self) -> bool {
        match &self.body {
            Source::Whole(_) => true,
            Source::Streamed(slot) => {
                !slot.started.load(Ordering::Acquire) && slot.body.lock().is_ok_and(|b| b.is_some())
            }
        }
    }

    /// The request for one attempt at `uri`; `None` once the body has
    /// started streaming on an earlier attempt.
    pub fn attempt(&self, uri: Uri) -> Option<Request<Body>> {
        if !self.can_send() {
            return None;
        }
        let body = match &self.body {
            Source::Whole(bytes) => Body::new(Full::new(bytes.clone())),
            Source::Streamed(slot) => Body::new(Attempt { slot: slot.clone() }),
        };
        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers.clone();
        Some(request)
    }
}

/// A body whose first frame was already taken.
struct Prefixed {
    first: Option<Result<Frame<Bytes>, tonic::Status>>,
    rest: Body,
}

impl HttpBody for Prefixed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(first));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }
}

/// One attempt's view of a streamed body: it reads the shared body in
/// place, so an attempt that never took a byte leaves it whole for the next.
struct Attempt {
    slot: Arc<Slot>,
}

impl HttpBody for Attempt {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Ok(mut guard) = self.slot.body.lock() else {
            return Poll::Ready(Some(Err(tonic::Status::internal("request body lost"))));
        };
        let Some(body) = guard.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            self.slot.started.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.slot
            .body
            .lock()
            .map_or(true, |b| b.as_ref().is_none_or(HttpBody::is_end_stream))
    }

    fn size_hint(&self) -> SizeHint {
        self.slot
            .body
            .lock()
            .ok()
            .and_then(|b| b.as_ref().map(HttpBody::size_hint))
            .unwrap_or_default()
    }
}

/// Whether `error` (from sending a call on an HTTP/2 connection) says the
/// upstream never processed the call: `REFUSED_STREAM`, or a graceful
/// `GOAWAY` that left the call's stream out.
pub fn never_processed(error: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_remote()
                && (h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                    || (h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR)));
        }
        source = e.source();
    }
    false
}

/// `error` with its causes (hyper's own text says only "http2 error").
pub fn describe(error: &hyper::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
