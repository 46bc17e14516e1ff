//! The grpc-web request body, decoded as it arrives: text mode in
//! 4-character base64 groups (a group may be split across chunks, and
//! separately padded chunks are accepted), each message frame checked (its
//! flag, its declared length against the limit) and released to the
//! upstream once whole, the body's total size checked as it streams.
//!
//! [`begin`] reads what the client has sent so far. A body that is already
//! complete (every unary call) is checked whole and forwarded as one buffer,
//! exactly as before streaming existed, so a malformed one is refused with
//! Envoy's 400 before anything is forwarded. A body that is still open
//! (client-streaming and bidirectional calls over HTTP/2) is forwarded frame
//! by frame ([`WebRequestBody`]); over HTTP/1.1 the body is read whole
//! first, as no grpc-web client streams a request there; a fault found later is reported on a
//! channel, so the caller still answers 400/413 while the upstream has not
//! answered (afterwards the call ends with that fault as its gRPC status,
//! Envoy's mapping of the HTTP status), and the upstream stream is reset.

use std::{
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use futures::FutureExt as _;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::{Body as HttpBody, Frame};
use http_body_util::{BodyExt as _, Full};
use tokio::sync::oneshot;
use tonic::body::Body;

use crate::grpc_web::{self, Encoding, FRAME_HEADER, FramingError};

/// Why a grpc-web request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Malformed framing or base64: 400.
    #[error("malformed grpc-web request: {0}")]
    Framing(#[from] FramingError),
    /// One message declares more than the limit: 413.
    #[error("grpc-web request message of {declared} bytes exceeds {max} bytes")]
    MessageTooLarge {
        /// What the frame header says.
        declared: usize,
        /// The limit.
        max: usize,
    },
    /// The body as a whole grew past the limit: 413.
    #[error("grpc-web request body exceeds {max} bytes")]
    BodyTooLarge {
        /// The limit.
        max: usize,
    },
    /// The client's body failed (reset, broken connection): 400.
    #[error("cannot read the request body")]
    Unreadable,
    /// Nothing of the body arrived before the deadline: 408.
    #[error("request body not received before the deadline")]
    Timeout,
}

impl RequestError {
    /// The HTTP status Envoy answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            RequestError::Framing(_) | RequestError::Unreadable => StatusCode::BAD_REQUEST,
            RequestError::MessageTooLarge { .. } | RequestError::BodyTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            RequestError::Timeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The plain-text answer to the client.
    pub fn response(&self) -> Response<Body> {
        let mut r = Response::new(Body::new(Full::new(Bytes::from(self.to_string()))));
        *r.status_mut() = self.status();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        r
    }
}

/// Decodes a grpc-web request body chunk by chunk into whole gRPC frames.
/// Pure (no I/O), so it can be fuzzed against [`grpc_web::decode_request`].
#[derive(Debug)]
pub struct RequestDecoder {
    encoding: Encoding,
    max: usize,
    /// Most body bytes as received (text inflates by 4/3).
    limit: usize,
    received: usize,
    /// Text mode: the base64 characters of an incomplete 4-character group.
    carry: Vec<u8>,
    /// Decoded bytes of a frame not yet whole.
    pending: BytesMut,
}

impl RequestDecoder {
    /// A decoder allowing messages, and the whole body, of `max` bytes.
    pub fn new(encoding: Encoding, max: usize) -> RequestDecoder {
        RequestDecoder {
            encoding,
            max,
            limit: body_limit(encoding, max),
            received: 0,
            carry: Vec::new(),
            pending: BytesMut::new(),
        }
    }

    /// Takes the next chunk of the body; returns the frames it completed
    /// (possibly none), as one buffer.
    pub fn push(&mut self, chunk: Bytes) -> Result<Bytes, RequestError> {
        self.received = self.received.saturating_add(chunk.len());
        if self.received > self.limit {
            return Err(RequestError::BodyTooLarge { max: self.max });
        }
        let raw = match self.encoding {
            Encoding::Binary => chunk,
            Encoding::Text => self.decode_text(&chunk)?,
        };
        if self.pending.is_empty() {
            // The common case: the chunk holds whole frames; no copy.
            let whole = whole_frames(&raw, self.max)?;
            if whole < raw.len() {
                self.pending.extend_from_slice(&raw[whole..]);
            }
            return Ok(raw.slice(..whole));
        }
        self.pending.extend_from_slice(&raw);
        let whole = whole_frames(&self.pending, self.max)?;
        Ok(self.pending.split_to(whole).freeze())
    }

    /// The body ended: an incomplete base64 group or frame is an error.
    pub fn finish(&mut self) -> Result<(), RequestError> {
        if !self.carry.is_empty() {
            return Err(FramingError::BadBase64.into());
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        // `pending` never holds a whole frame, so this names the fault.
        grpc_web::check_frames(&self.pending)?;
        Err(FramingError::TruncatedHeader.into())
    }

    fn decode_text(&mut self, chunk: &[u8]) -> Result<Bytes, RequestError> {
        let mut clean = std::mem::take(&mut self.carry);
        clean.extend(chunk.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let whole = clean.len() / 4 * 4;
        let mut out = Vec::with_capacity(whole / 4 * 3);
        grpc_web::decode_padded_chunks(&clean[..whole], &mut out)?;
        self.carry = clean.split_off(whole);
        Ok(Bytes::from(out))
    }
}

/// Most body bytes as received for a limit of `max` decoded bytes.
fn body_limit(encoding: Encoding, max: usize) -> usize {
    match encoding {
        Encoding::Binary => max,
        Encoding::Text => max.saturating_mul(4) / 3 + 4,
    }
}

/// The length of the whole frames at the start of `raw`, checking the flag
/// and declared length of every frame whose header is there.
fn whole_frames(raw: &[u8], max: usize) -> Result<usize, RequestError> {
    let mut at = 0;
    while raw.len() - at >= FRAME_HEADER {
        let flag = raw[at];
        if flag > 1 {
            return Err(FramingError::BadFlag(flag).into());
        }
        let declared =
            u32::from_be_bytes([raw[at + 1], raw[at + 2], raw[at + 3], raw[at + 4]]) as usize;
        if declared > max {
            return Err(RequestError::MessageTooLarge { declared, max });
        }
        let end = at + FRAME_HEADER + declared;
        if end > raw.len() {
            break;
        }
        at = end;
    }
    Ok(at)
}

/// What [`begin`] found.
#[derive(Debug)]
pub enum Begun {
    /// The whole body had arrived: its gRPC frames, checked.
    Whole(Bytes),
    /// The body is still open: forward it as it streams.
    Streaming {
        /// The body to forward.
        body: WebRequestBody,
        /// A fault found later arrives here (closed when the body ends well).
        refused: oneshot::Receiver<RequestError>,
        /// The same fault, kept for the response once the upstream answered.
        fault: Fault,
    },
}

/// Where a streaming body records why it was refused.
pub type Fault = Arc<OnceLock<RequestError>>;

/// Reads the body's first data (waiting up to `deadline` for it) and
/// whatever else has already arrived. A complete body is checked whole; an
/// open one is checked so far and continues as a [`WebRequestBody`].
///
/// With `may_stream` false (HTTP/1.1, where no grpc-web client streams a
/// request) the whole body is read within the deadline, as before: a body
/// left partly unread would cost the client its keep-alive connection when
/// the upstream answers without reading it all.
pub async fn begin(
    mut body: Body,
    encoding: Encoding,
    max: usize,
    deadline: Duration,
    may_stream: bool,
) -> Result<Begun, RequestError> {
    let until = tokio::time::Instant::now() + deadline;
    let limit = body_limit(encoding, max);
    let mut chunks: Vec<Bytes> = Vec::with_capacity(1);
    let mut received = 0usize;
    let mut take = |data: Bytes, chunks: &mut Vec<Bytes>| {
        received = received.saturating_add(data.len());
        if received > limit {
            return Err(RequestError::BodyTooLarge { max });
        }
        if !data.is_empty() {
            chunks.push(data);
        }
        Ok(())
    };
    // The first data, or the end.
    let waited = tokio::time::timeout_at(until, async {
        loop {
            match body.frame().await {
                None => return Ok(None),
                Some(Err(_)) => return Err(RequestError::Unreadable),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Ok(Some(data));
                    }
                }
            }
        }
    })
    .await
    .map_err(|_| RequestError::Timeout)??;
    let mut ended = match waited {
        None => true,
        Some(data) => {
            take(data, &mut chunks)?;
            body.is_end_stream()
        }
    };
    // Then whatever is already here, without waiting (or all of it).
    while !ended {
        let next = if may_stream {
            body.frame().now_or_never()
        } else {
            Some(
                tokio::time::timeout_at(until, body.frame())
                    .await
                    .map_err(|_| RequestError::Timeout)?,
            )
        };
        match next {
            None => break,
            Some(None) => ended = true,
            Some(Some(Err(_))) => return Err(RequestError::Unreadable),
            Some(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    take(data, &mut chunks)?;
                }
                ended = body.is_end_stream();
            }
        }
    }
    if ended {
        let whole = match chunks.len() {
            0 => Bytes::new(),
            1 => chunks.swap_remove(0),
            _ => {
                let mut all = BytesMut::with_capacity(received);
                for c in &chunks {
                    all.extend_from_slice(c);
                }
                all.freeze()
            }
        };
        return Ok(Begun::Whole(grpc_web::decode_request(encoding, whole)?));
    }
    let mut decoder = RequestDecoder::new(encoding, max);
    let mut ready = BytesMut::new();
    for chunk in chunks {
        ready.extend_from_slice(&decoder.push(chunk)?);
    }
    let (refusal, refused) = oneshot::channel();
    let fault = Fault::default();
    Ok(Begun::Streaming {
        body: WebRequestBody {
            inner: body,
            decoder,
            ready: Some(ready.freeze()),
            refusal: Some(refusal),
            fault: fault.clone(),
            done: false,
        },
        refused,
        fault,
    })
}

/// A grpc-web request body still arriving, forwarded as gRPC frames.
pub struct WebRequestBody {
    inner: Body,
    decoder: RequestDecoder,
    ready: Option<Bytes>,
    refusal: Option<oneshot::Sender<RequestError>>,
    fault: Fault,
    done: bool,
}

impl std::fmt::Debug for WebRequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRequestBody")
            .field("decoder", &self.decoder)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl WebRequestBody {
    fn fail(&mut self, e: RequestError) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
        tracing::debug!(error = %e, "grpc-web request refused mid-stream");
        self.done = true;
        self.ready = None;
        let _ = self.fault.set(e.clone());
        if let Some(refusal) = self.refusal.take() {
            let _ = refusal.send(e.clone());
        }
        Poll::Ready(Some(Err(e)))
    }
}

impl HttpBody for WebRequestBody {
    type Data = Bytes;
    type Error = RequestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(ready) = this.ready.take()
                && !ready.is_empty()
            {
                return Poll::Ready(Some(Ok(Frame::data(ready))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    if let Err(e) = this.decoder.finish() {
                        return this.fail(e);
                    }
                    this.done = true;
                    this.refusal = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(_))) => return this.fail(RequestError::Unreadable),
                Poll::Ready(Some(Ok(frame))) => {
                    // Request trailers have no meaning in grpc-web: dropped.
                    if let Ok(data) = frame.into_data() {
                        match this.decoder.push(data) {
                            Ok(released) => this.ready = Some(released),
                            Err(e) => return this.fail(e),
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.ready.as_ref().is_none_or(Bytes::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc_web::{encode_text, message_frame};

    fn feed(encoding: Encoding, max: usize, chunks: &[&[u8]]) -> Result<Vec<u8>, RequestError> {
        let mut d = RequestDecoder::new(encoding, max);
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&d.push(Bytes::copy_from_slice(c))?);
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn frames_are_released_once_whole() {
        let a = message_frame(b"hello");
        let mut d = RequestDecoder::new(Encoding::Binary, 100);
        assert_eq!(d.push(a.slice(..3)), Ok(Bytes::new()));
        assert_eq!(d.push(a.slice(3..7)), Ok(Bytes::new()));
        assert_eq!(d.push(a.slice(7..)), Ok(a.clone()));
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn text_groups_split_across_chunks_decode() {
        let a = message_frame(b"a");
        let b = message_frame(b"hello");
        let body = format!("{}{}", encode_text(&a), encode_text(&b));
        let bytes = body.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(3).collect();
        let mut want = a.to_vec();
        want.extend_from_slice(&b);
        assert_eq!(feed(Encoding::Text, 100, &chunks), Ok(want));
    }

    #[test]
    fn limits_apply_per_message_and_in_total() {
        let big = message_frame(&[0; 50]);
        assert_eq!(
            feed(Encoding::Binary, 40, &[&big[..5]]),
            Err(RequestError::MessageTooLarge {
                declared: 50,
                max: 40
            })
        );
        let small = message_frame(&[0; 20]);
        assert_eq!(
            feed(Encoding::Binary, 40, &[&small, &small]),
            Err(RequestError::BodyTooLarge { max: 40 })
        );
    }

    #[test]
    fn incomplete_endings_are_named() {
        assert_eq!(
            feed(Encoding::Binary, 40, &[&[0, 0, 0]]),
            Err(FramingError::TruncatedHeader.into())
        );
        assert_eq!(
            feed(Encoding::Binary, 40, &[&[0, 0, 0, 0, 9, 1]]),
            Err(FramingError::LengthPastEnd {
                declared: 9,
                available: 1
            }
            .into())
        );
        assert_eq!(
            feed(Encoding::Text, 40, &[b"AAA"]),
            Err(FramingError::BadBase64.into())
        );
        assert_eq!(
            feed(Encoding::Binary, 40, &[&[2, 0, 0, 0, 0]]),
            Err(FramingError::BadFlag(2).into())
        );
    }
}
