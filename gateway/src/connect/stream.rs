//! Connect's streaming framing and the server-streaming response body.
//!
//! A Connect stream is a sequence of envelopes — a flag byte, a big-endian
//! u32 length, the bytes — like gRPC's frames; the last one of a response
//! carries flag `0x02` and a JSON object with the call's `error` (if any)
//! and trailing `metadata`. The response body re-frames the upstream's
//! gRPC stream as it arrives (each message turned into JSON when the
//! caller asked for JSON) and turns its trailers into that last envelope.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame};
use prost_reflect::MessageDescriptor;
use tonic::Code;

use super::{errors::ConnectError, json};
use crate::access_log::LoggedBody;

/// Flag of a compressed envelope.
pub const COMPRESSED: u8 = 0x01;
/// Flag of the end-of-stream envelope.
pub const END_STREAM: u8 = 0x02;

/// One envelope (or gRPC frame: the layout is the same).
pub fn envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + payload.len());
    out.put_u8(flags);
    out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(payload);
    out.freeze()
}

/// Takes the first complete envelope off `buf`: its flags and payload.
pub fn take_envelope(buf: &mut BytesMut) -> Option<(u8, Bytes)> {
    if buf.len() < 5 {
        return None;
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if buf.len() < 5 + len {
        return None;
    }
    let flags = buf[0];
    buf.advance(5);
    Some((flags, buf.split_to(len).freeze()))
}

/// The end-of-stream envelope: `{"error": …, "metadata": {…}}`.
pub fn end_stream(error: Option<&ConnectError>, trailers: Option<&HeaderMap>) -> Bytes {
    let mut object = serde_json::Map::new();
    if let Some(error) = error {
        object.insert("error".into(), error.to_json());
    }
    let metadata = trailers.map(super::metadata_json).unwrap_or_default();
    if !metadata.is_empty() {
        object.insert("metadata".into(), serde_json::Value::Object(metadata));
    }
    let body = serde_json::to_vec(&serde_json::Value::Object(object)).unwrap_or_default();
    envelope(END_STREAM, &body)
}

pin_project_lite::pin_project! {
    /// See the module documentation.
    pub struct StreamBody {
        #[pin]
        inner: LoggedBody,
        // the response message type when the caller wants JSON
        json: Option<MessageDescriptor>,
        buf: BytesMut,
        done: bool,
    }
}

impl std::fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamBody")
            .field(
                "json",
                &self.json.as_ref().map(MessageDescriptor::full_name),
            )
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl StreamBody {
    /// Re-frames `inner`, a gRPC response body; messages become JSON of
    /// type `json` when given, else pass as they are.
    pub fn new(inner: LoggedBody, json: Option<MessageDescriptor>) -> StreamBody {
        StreamBody {
            inner,
            json,
            buf: BytesMut::new(),
            done: false,
        }
    }
}

/// Turns the complete gRPC frames in `buf` into envelopes.
fn convert(buf: &mut BytesMut, json: Option<&MessageDescriptor>) -> Result<Bytes, ConnectError> {
    let mut out = BytesMut::new();
    while let Some((flags, payload)) = take_envelope(buf) {
        if flags & COMPRESSED != 0 {
            return Err(ConnectError::new(
                Code::Internal,
                "the upstream sent a compressed message the gateway did not ask for",
            ));
        }
        match json {
            Some(desc) => {
                let text = json::proto_to_json(desc, &payload)
                    .map_err(|e| ConnectError::new(Code::Internal, e))?;
                out.extend_from_slice(&envelope(0, &text));
            }
            None => out.extend_from_slice(&envelope(0, &payload)),
        }
    }
    Ok(out.freeze())
}

impl HttpBody for StreamBody {
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
                    let error = ConnectError::new(
                        Code::Internal,
                        "the upstream ended the stream without a status",
                    );
                    return Poll::Ready(Some(Ok(Frame::data(end_stream(Some(&error), None)))));
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!(error = %e, "upstream stream failed; ending with UNAVAILABLE");
                    *this.done = true;
                    let error = ConnectError::new(Code::Unavailable, "upstream connection lost");
                    return Poll::Ready(Some(Ok(Frame::data(end_stream(Some(&error), None)))));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => {
                    this.buf.extend_from_slice(&data);
                    match convert(this.buf, this.json.as_ref()) {
                        Ok(out) if out.is_empty() => {}
                        Ok(out) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                        Err(error) => {
                            *this.done = true;
                            return Poll::Ready(Some(Ok(Frame::data(end_stream(
                                Some(&error),
                                None,
                            )))));
                        }
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        *this.done = true;
                        let error = ConnectError::from_grpc(&trailers).or_else(|| {
                            crate::status::grpc_status(&trailers).is_none().then(|| {
                                ConnectError::new(
                                    Code::Internal,
                                    "the upstream's trailers carry no grpc-status",
                                )
                            })
                        });
                        return Poll::Ready(Some(Ok(Frame::data(end_stream(
                            error.as_ref(),
                            Some(&trailers),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_wait_for_whole_frames() {
        let a = envelope(0, b"hello");
        let b = envelope(END_STREAM, b"{}");
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&a[..3]);
        assert_eq!(take_envelope(&mut buf), None);
        buf.extend_from_slice(&a[3..]);
        buf.extend_from_slice(&b);
        assert_eq!(
            take_envelope(&mut buf),
            Some((0, Bytes::from_static(b"hello")))
        );
        assert_eq!(
            take_envelope(&mut buf),
            Some((END_STREAM, Bytes::from_static(b"{}")))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn the_end_of_a_stream() {
        let ok = end_stream(None, None);
        assert_eq!(&ok[..], &envelope(END_STREAM, b"{}")[..]);
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("5"));
        trailers.insert("x-request-id", http::HeaderValue::from_static("r1"));
        let error = ConnectError::from_grpc(&trailers);
        let mut buf = BytesMut::from(&end_stream(error.as_ref(), Some(&trailers))[..]);
        let (flags, payload) = take_envelope(&mut buf).expect("envelope");
        assert_eq!(flags, END_STREAM);
        let v: serde_json::Value = serde_json::from_slice(&payload).expect("json");
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(v["metadata"]["x-request-id"], serde_json::json!(["r1"]));
        assert!(v["metadata"].get("grpc-status").is_none());
    }
}
