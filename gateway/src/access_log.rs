//! One access log line per call, written when its response stream ends (so
//! a stream's line carries its final `grpc-status` and whole duration), and
//! the resources a call holds until then (its endpoint's in-flight count,
//! its concurrency permit).

use std::{
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tonic::body::Body;

use crate::{status, upstream::InFlight};

/// What the access log line says about a call.
#[derive(Debug)]
pub struct CallLog {
    /// `/package.Service/Method` as requested.
    pub method: String,
    /// `grpc`, `grpc-web`, `grpc-web-text`, or `connect-json`, `connect-proto`,
    /// `connect-stream-json`, `connect-stream-proto`.
    pub protocol: &'static str,
    /// The client.
    pub peer: SocketAddr,
    /// `host:port` of the endpoint, or `local`, or `-` when none was reached.
    pub upstream: String,
    /// HTTP status of the response.
    pub http_status: u16,
    /// The call's gRPC status once known.
    pub grpc_status: Option<i32>,
    /// When the request arrived.
    pub start: Instant,
}

impl CallLog {
    fn write(&self) {
        tracing::info!(
            target: "map_gateway::access",
            method = %self.method,
            protocol = self.protocol,
            peer = %self.peer,
            upstream = %self.upstream,
            http_status = self.http_status,
            grpc_status = self.grpc_status.map_or(-1, i64::from),
            duration_us = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX),
            "call"
        );
    }
}

pin_project_lite::pin_project! {
    /// A response body that watches for the trailers' `grpc-status`, holds
    /// the call's resources and writes the log line when it ends or is dropped.
    pub struct LoggedBody {
        #[pin]
        inner: Body,
        log: CallLog,
        logged: bool,
        in_flight: Option<InFlight>,
        permit: Option<OwnedSemaphorePermit>,
    }

    impl PinnedDrop for LoggedBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.logged {
                *this.logged = true;
                this.log.write();
            }
        }
    }
}

impl std::fmt::Debug for LoggedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedBody")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl LoggedBody {
    /// Wraps `inner`; the guards are released when the body ends or drops.
    pub fn new(
        inner: Body,
        log: CallLog,
        in_flight: Option<InFlight>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> LoggedBody {
        LoggedBody {
            inner,
            log,
            logged: false,
            in_flight,
            permit,
        }
    }
}

impl HttpBody for LoggedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.log.grpc_status = status::grpc_status(trailers).or(this.log.grpc_status);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                this.log.grpc_status = this.log.grpc_status.or(Some(e.code() as i32));
            }
            Poll::Ready(None) => {
                if !*this.logged {
                    *this.logged = true;
                    this.log.write();
                }
                this.in_flight.take();
                this.permit.take();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
