//! The grpc-web response body: a gRPC response stream re-framed as it
//! arrives (never buffered whole). Message frames pass through (base64 in
//! text mode); the HTTP/2 trailers become the final `0x80` frame. An
//! upstream that fails mid-stream ends the body with an UNAVAILABLE
//! trailers frame, so the browser sees a status instead of a reset (or, when
//! the call's own streaming request body was refused, that reason).

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body::{Body as HttpBody, Frame};

use crate::{
    access_log::LoggedBody,
    grpc_web::{Encoding, TextEncoder, trailers_frame},
    status,
    web_stream::Fault,
};

pin_project_lite::pin_project! {
    /// See the module documentation.
    pub struct WebBody {
        #[pin]
        inner: LoggedBody,
        encoding: Encoding,
        text: TextEncoder,
        fault: Option<Fault>,
        done: bool,
    }
}

impl std::fmt::Debug for WebBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebBody")
            .field("encoding", &self.encoding)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl WebBody {
    /// Re-frames `inner` in `encoding`. `fault` is where a streaming
    /// request body records why it was refused: the upstream stream then
    /// fails, and the call ends with that reason rather than a lost upstream.
    pub fn new(inner: LoggedBody, encoding: Encoding, fault: Option<Fault>) -> WebBody {
        WebBody {
            inner,
            encoding,
            text: TextEncoder::default(),
            fault,
            done: false,
        }
    }
}

impl HttpBody for WebBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        loop {
            if *this.done {
                return Poll::Ready(None);
            }
            let frame = match this.inner.as_mut().poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    *this.done = true;
                    let rest = this.text.finish();
                    if rest.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(rest))));
                }
                Poll::Ready(Some(Err(e))) => {
                    let (code, message) = match this.fault.as_ref().and_then(|f| f.get()) {
                        Some(fault) => (status::code_for_http(fault.status()), fault.to_string()),
                        None => (
                            tonic::Code::Unavailable,
                            "upstream connection lost".to_owned(),
                        ),
                    };
                    tracing::debug!(error = %e, ?code, "upstream stream failed; ending the call");
                    let mut trailers = HeaderMap::new();
                    trailers.insert("grpc-status", HeaderValue::from(code as i32));
                    trailers.insert("grpc-message", status::encode_message(&message));
                    *this.done = true;
                    return Poll::Ready(Some(Ok(Frame::data(last(
                        *this.encoding,
                        this.text,
                        trailers_frame(&trailers),
                    )))));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => match this.encoding {
                    Encoding::Binary => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Encoding::Text => {
                        let encoded = this.text.push(&data);
                        if !encoded.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(encoded))));
                        }
                    }
                },
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        *this.done = true;
                        return Poll::Ready(Some(Ok(Frame::data(last(
                            *this.encoding,
                            this.text,
                            trailers_frame(&trailers),
                        )))));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// The final bytes: the trailers frame, after whatever text was pending.
fn last(encoding: Encoding, text: &mut TextEncoder, frame: Bytes) -> Bytes {
    match encoding {
        Encoding::Binary => frame,
        Encoding::Text => {
            let mut out = BytesMut::new();
            out.extend_from_slice(&text.push(&frame));
            out.extend_from_slice(&text.finish());
            out.freeze()
        }
    }
}
