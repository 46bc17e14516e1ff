//! grpc-web wire format, as Envoy's `envoy.filters.http.grpc_web` filter
//! speaks it: which requests are grpc-web, how a request body becomes gRPC
//! frames (base64 in text mode), and how a gRPC response becomes grpc-web
//! (data frames as they arrive, the trailers as a final `0x80` frame, base64
//! when the client asked for text).
//!
//! Everything here is pure (no I/O) so the framing can be fuzzed.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::{BufMut as _, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, header};

/// Flag byte of a trailers frame.
pub const TRAILERS_FLAG: u8 = 0x80;
/// Length of a gRPC frame header: flag byte + big-endian u32 length.
pub const FRAME_HEADER: usize = 5;

/// The two grpc-web encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/grpc-web[+proto]`: frames as bytes.
    Binary,
    /// `application/grpc-web-text[+proto]`: frames in base64.
    Text,
}

impl Encoding {
    /// The encoding of a request, from its `content-type`; `None` when the
    /// request is not grpc-web.
    pub fn of_request(headers: &HeaderMap) -> Option<Encoding> {
        let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        // Parameters (`; charset=…`) are tolerated, as browsers add them.
        let ct = ct.split(';').next().unwrap_or("").trim();
        match ct.to_ascii_lowercase().as_str() {
            "application/grpc-web" | "application/grpc-web+proto" => Some(Encoding::Binary),
            "application/grpc-web-text" | "application/grpc-web-text+proto" => Some(Encoding::Text),
            _ => None,
        }
    }

    /// The encoding of the response: text when the request was text or its
    /// `Accept` asks for `application/grpc-web-text` (Envoy's rule).
    pub fn of_response(request: Encoding, headers: &HeaderMap) -> Encoding {
        let accepts_text = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/grpc-web-text"));
        if request == Encoding::Text || accepts_text {
            Encoding::Text
        } else {
            Encoding::Binary
        }
    }

    /// The response `content-type`.
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Encoding::Binary => "application/grpc-web+proto",
            Encoding::Text => "application/grpc-web-text+proto",
        })
    }
}

/// Why a grpc-web request body was refused. Each maps to HTTP 400, as Envoy
/// answers a body it cannot decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Text mode body is not valid base64.
    #[error("request body is not valid base64")]
    BadBase64,
    /// The body ends inside a frame header.
    #[error("request body ends inside a frame header")]
    TruncatedHeader,
    /// A frame's length prefix runs past the end of the body.
    #[error("frame length {declared} exceeds the {available} bytes left in the body")]
    LengthPastEnd {
        /// What the prefix says.
        declared: usize,
        /// What the body holds after the header.
        available: usize,
    },
    /// A request frame with a flag a client may not send (trailers, or
    /// undefined bits).
    #[error("request frame has invalid flag {0:#04x}")]
    BadFlag(u8),
}

/// Turns a complete grpc-web request body into the gRPC body to forward:
/// base64-decodes text mode (several base64 chunks, each padded, are
/// accepted, as some clients send them) and checks that the body is a
/// sequence of whole message frames.
pub fn decode_request(encoding: Encoding, body: Bytes) -> Result<Bytes, FramingError> {
    let raw = match encoding {
        Encoding::Binary => body,
        Encoding::Text => decode_text(&body)?,
    };
    check_frames(&raw)?;
    Ok(raw)
}

/// Decodes base64 that may be the concatenation of separately padded chunks
/// (`AAAA==AAAA` style), ignoring ASCII whitespace.
fn decode_text(body: &[u8]) -> Result<Bytes, FramingError> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    decode_padded_chunks(&clean, &mut out)?;
    Ok(Bytes::from(out))
}

/// Decodes base64 without whitespace that may be the concatenation of
/// separately padded chunks, appending to `out`: it is split after each run
/// of padding, and every piece is then decoded as one padded chunk.
pub(crate) fn decode_padded_chunks(clean: &[u8], out: &mut Vec<u8>) -> Result<(), FramingError> {
    let mut start = 0;
    let mut i = 0;
    while i < clean.len() {
        if clean[i] == b'=' {
            let mut end = i;
            while end < clean.len() && clean[end] == b'=' {
                end += 1;
            }
            STANDARD
                .decode_vec(&clean[start..end], out)
                .map_err(|_| FramingError::BadBase64)?;
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < clean.len() {
        STANDARD
            .decode_vec(&clean[start..], out)
            .map_err(|_| FramingError::BadBase64)?;
    }
    Ok(())
}

/// Checks that `raw` is whole frames with flags a client may send
/// (0 = plain, 1 = compressed message).
pub fn check_frames(raw: &[u8]) -> Result<(), FramingError> {
    let mut rest = raw;
    while !rest.is_empty() {
        if rest.len() < FRAME_HEADER {
            return Err(FramingError::TruncatedHeader);
        }
        let flag = rest[0];
        if flag > 1 {
            return Err(FramingError::BadFlag(flag));
        }
        let declared = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let available = rest.len() - FRAME_HEADER;
        if declared > available {
            return Err(FramingError::LengthPastEnd {
                declared,
                available,
            });
        }
        rest = &rest[FRAME_HEADER + declared..];
    }
    Ok(())
}

/// Encodes gRPC trailers as grpc-web's final frame: flag `0x80`, length,
/// then `key:value\r\n` lines with lower-case keys.
pub fn trailers_frame(trailers: &HeaderMap) -> Bytes {
    let mut block = BytesMut::new();
    for (name, value) in trailers {
        block.put_slice(name.as_str().as_bytes());
        block.put_u8(b':');
        block.put_slice(value.as_bytes());
        block.put_slice(b"\r\n");
    }
    let mut frame = BytesMut::with_capacity(FRAME_HEADER + block.len());
    frame.put_u8(TRAILERS_FLAG);
    frame.put_u32(u32::try_from(block.len()).unwrap_or(u32::MAX));
    frame.put_slice(&block);
    frame.freeze()
}

/// Streams bytes out as base64, each chunk as it arrives and padded on its
/// own, so a streamed message is never held back waiting for the bytes
/// that would complete a 3-byte group. The grpc-web protocol allows padding
/// between chunks, and grpc-web clients decode 4-character groups
/// independently ([`decode_request`] accepts the same on the way in).
#[derive(Debug, Default)]
pub struct TextEncoder {
    _private: (),
}

impl TextEncoder {
    /// Encodes `chunk` (empty in, empty out).
    pub fn push(&mut self, chunk: &[u8]) -> Bytes {
        if chunk.is_empty() {
            return Bytes::new();
        }
        Bytes::from(STANDARD.encode(chunk))
    }

    /// Nothing is ever pending; kept so callers mark the end of the stream.
    pub fn finish(&mut self) -> Bytes {
        Bytes::new()
    }
}

/// Splits a grpc-web response body (binary, already base64-decoded) into its
/// message payloads and its trailers; used by tests and the benchmark client.
pub fn parse_response(raw: &[u8]) -> Result<(Vec<Bytes>, HeaderMap), FramingError> {
    let mut messages = Vec::new();
    let mut trailers = HeaderMap::new();
    let mut rest = raw;
    while !rest.is_empty() {
        if rest.len() < FRAME_HEADER {
            return Err(FramingError::TruncatedHeader);
        }
        let flag = rest[0];
        let declared = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let available = rest.len() - FRAME_HEADER;
        if declared > available {
            return Err(FramingError::LengthPastEnd {
                declared,
                available,
            });
        }
        let payload = &rest[FRAME_HEADER..FRAME_HEADER + declared];
        if flag & TRAILERS_FLAG != 0 {
            for line in payload.split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let Some(colon) = line.iter().position(|b| *b == b':') else {
                    continue;
                };
                if let (Ok(k), Ok(v)) = (
                    http::HeaderName::from_bytes(&line[..colon]),
                    HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
                ) {
                    trailers.append(k, v);
                }
            }
        } else {
            messages.push(Bytes::copy_from_slice(payload));
        }
        rest = &rest[FRAME_HEADER + declared..];
    }
    Ok((messages, trailers))
}

/// Frames one message payload (flag 0).
pub fn message_frame(payload: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(FRAME_HEADER + payload.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    frame.put_slice(payload);
    frame.freeze()
}

/// Base64 of `raw` (a client's text-mode request body).
pub fn encode_text(raw: &[u8]) -> String {
    STANDARD.encode(raw)
}

/// Decodes a text-mode response body (tests and clients).
pub fn decode_text_response(body: &[u8]) -> Result<Bytes, FramingError> {
    decode_text(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        for (ct, want) in [
            ("application/grpc-web", Some(Encoding::Binary)),
            ("application/grpc-web+proto", Some(Encoding::Binary)),
            ("application/grpc-web-text", Some(Encoding::Text)),
            (
                "application/grpc-web-text+proto; charset=utf-8",
                Some(Encoding::Text),
            ),
            ("application/grpc", None),
            ("text/html", None),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(Encoding::of_request(&h), want, "{ct}");
        }
    }

    #[test]
    fn accept_text_switches_the_response() {
        let mut h = HeaderMap::new();
        assert_eq!(
            Encoding::of_response(Encoding::Binary, &h),
            Encoding::Binary
        );
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/grpc-web-text"),
        );
        assert_eq!(Encoding::of_response(Encoding::Binary, &h), Encoding::Text);
    }

    #[test]
    fn malformed_bodies_are_named() {
        assert_eq!(
            decode_request(Encoding::Text, Bytes::from_static(b"!!!")),
            Err(FramingError::BadBase64)
        );
        assert_eq!(
            decode_request(Encoding::Binary, Bytes::from_static(&[0, 0, 0])),
            Err(FramingError::TruncatedHeader)
        );
        assert_eq!(
            decode_request(Encoding::Binary, Bytes::from_static(&[0, 0, 0, 0, 9, 1])),
            Err(FramingError::LengthPastEnd {
                declared: 9,
                available: 1
            })
        );
        assert_eq!(
            decode_request(Encoding::Binary, Bytes::from_static(&[0x80, 0, 0, 0, 0])),
            Err(FramingError::BadFlag(0x80))
        );
    }

    #[test]
    fn separately_padded_text_chunks_decode() {
        let a = message_frame(b"a");
        let b = message_frame(b"hello");
        let body = format!("{}{}", encode_text(&a), encode_text(&b));
        let raw = decode_request(Encoding::Text, Bytes::from(body)).map_err(|e| e.to_string());
        let mut want = a.to_vec();
        want.extend_from_slice(&b);
        assert_eq!(raw.as_deref().ok(), Some(&want[..]));
    }

    #[test]
    fn trailers_frame_round_trips() {
        let mut t = HeaderMap::new();
        t.insert("grpc-status", HeaderValue::from_static("5"));
        t.insert("grpc-message", HeaderValue::from_static("not%20found"));
        let frame = trailers_frame(&t);
        assert_eq!(frame[0], TRAILERS_FLAG);
        let (msgs, back) = parse_response(&frame)
            .map_err(|e| e.to_string())
            .unwrap_or_default();
        assert!(msgs.is_empty());
        assert_eq!(back, t);
    }
}
