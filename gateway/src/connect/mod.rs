//! The Connect protocol through the gateway, translated to gRPC for the
//! services: for people with only `curl`, and for browsers and Node
//! programs using `@connectrpc/connect`'s Connect transport.
//!
//! - **Unary**: `POST /<package>.<Service>/<Method>` (or with a system
//!   prefix, `/tts/…`) with `Content-Type: application/json` or
//!   `application/proto`, optionally `Connect-Protocol-Version: 1` and
//!   `Connect-Timeout-Ms`. A JSON body is read as the method's request
//!   message from the contracts' descriptors (see [`json`]); the call then
//!   goes on as gRPC through the same routing, balancing, limits, deadline
//!   and access log as every other call ([`crate::dispatch`]). The response
//!   is the message (JSON or binary, as asked) with status 200, or a
//!   Connect error object with the HTTP status Connect gives its code;
//!   response headers carry the service's metadata, its trailers prefixed
//!   `trailer-`.
//! - **Server streaming**: `Content-Type: application/connect+json` (or
//!   `+proto`), the request one envelope, the response the service's
//!   messages as envelopes and a last end-of-stream envelope with the
//!   status and trailers ([`stream`]).
//! - A body that is not a valid request message is refused with
//!   `invalid_argument` and a `google.rpc.BadRequest` naming the field,
//!   and the service is never called; an unknown method is
//!   `unimplemented`; errors from services keep their `google.rpc` details
//!   (from `grpc-status-details-bin`).
//!
//! Not done: client and bidirectional streaming (refused with
//! `unimplemented`: use gRPC or grpc-web), Connect's GET form of
//! side-effect-free calls, and compressed requests (`Content-Encoding`
//! other than `identity`, refused with `unimplemented`; responses are never
//! compressed).

pub mod errors;
pub mod json;
pub mod stream;

use std::{net::SocketAddr, time::Duration, time::Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use tokio::sync::OwnedSemaphorePermit;
use tonic::{Code, body::Body};

pub use errors::ConnectError;

use crate::{
    access_log::{CallLog, LoggedBody},
    config::Limits,
    status,
    upstream::InFlight,
};

/// The largest unary response the gateway buffers to translate.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// How messages are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Proto3 JSON.
    Json,
    /// Protobuf binary.
    Proto,
}

/// A Connect call: its codec, whether it uses the streaming protocol, and
/// its deadline once [`prepare`] has read `Connect-Timeout-Ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The codec of the request, and so of the response.
    pub codec: Codec,
    /// `application/connect+…`: enveloped messages, errors at the end.
    pub stream: bool,
    /// The caller's timeout, capped; the cap when none.
    pub deadline: Duration,
}

impl Call {
    /// The Connect call `request` is, when it is one: a `POST` with one of
    /// Connect's content types.
    pub fn of<B>(request: &Request<B>) -> Option<Call> {
        if request.method() != Method::POST {
            return None;
        }
        let ct = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
        let ct = ct.split(';').next().unwrap_or("").trim();
        let (codec, stream) = match ct.to_ascii_lowercase().as_str() {
            "application/json" => (Codec::Json, false),
            "application/proto" => (Codec::Proto, false),
            "application/connect+json" => (Codec::Json, true),
            "application/connect+proto" => (Codec::Proto, true),
            _ => return None,
        };
        Some(Call {
            codec,
            stream,
            deadline: Duration::ZERO,
        })
    }

    /// The access log's name of the protocol.
    pub fn name(self) -> &'static str {
        match (self.stream, self.codec) {
            (false, Codec::Json) => "connect-json",
            (false, Codec::Proto) => "connect-proto",
            (true, Codec::Json) => "connect-stream-json",
            (true, Codec::Proto) => "connect-stream-proto",
        }
    }

    /// The `content-type` of a successful response.
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match (self.stream, self.codec) {
            (false, Codec::Json) => "application/json",
            (false, Codec::Proto) => "application/proto",
            (true, Codec::Json) => "application/connect+json",
            (true, Codec::Proto) => "application/connect+proto",
        })
    }
}

/// Request headers Connect uses that are not the call's metadata.
const CONNECT_REQUEST_HEADERS: [&str; 6] = [
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
    "grpc-encoding",
    "grpc-accept-encoding",
];

/// Turns a Connect request into the gRPC request it stands for: the body
/// read (bounded in size and time), checked against the method's request
/// type and framed; `grpc-timeout` from `Connect-Timeout-Ms`. A request that
/// cannot be one is answered here, in Connect's form, with its access log
/// line, and never reaches a service.
pub async fn prepare(
    request: Request<Body>,
    call: Call,
    limits: &Limits,
    peer: SocketAddr,
) -> Result<(Request<Body>, Call), Response<Body>> {
    let start = Instant::now();
    let path = request.uri().path().to_owned();
    let refuse = |call: Call, error: ConnectError| {
        let log = CallLog {
            method: path.clone(),
            protocol: call.name(),
            peer,
            upstream: "-".to_owned(),
            http_status: 200,
            grpc_status: Some(error.code as i32),
            start,
        };
        logged(error_response(call, &error, None, None), log, None, None)
    };
    let mut call = call;
    let headers = request.headers();

    let max = limits.max_grpc_timeout;
    let timeout = match headers.get("connect-timeout-ms") {
        None => None,
        Some(v) => match parse_timeout_ms(v.as_bytes()) {
            Some(d) => Some(d),
            None => {
                return Err(refuse(
                    call,
                    ConnectError::new(
                        Code::InvalidArgument,
                        "connect-timeout-ms must be a positive integer of at most 10 digits",
                    ),
                ));
            }
        },
    };
    call.deadline = timeout.filter(|d| !d.is_zero()).map_or(max, |d| d.min(max));

    if let Some(v) = headers.get("connect-protocol-version")
        && v.as_bytes() != b"1"
    {
        return Err(refuse(
            call,
            ConnectError::new(
                Code::InvalidArgument,
                "connect-protocol-version must be \"1\"",
            ),
        ));
    }
    let encoding = if call.stream {
        headers.get("connect-content-encoding")
    } else {
        headers.get(header::CONTENT_ENCODING)
    };
    if let Some(e) = encoding.filter(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity")) {
        return Err(refuse(
            call,
            ConnectError::new(
                Code::Unimplemented,
                format!(
                    "request compression {:?} is not supported; send identity",
                    String::from_utf8_lossy(e.as_bytes())
                ),
            ),
        ));
    }

    let method = match json::pool() {
        Err(e) => {
            return Err(refuse(
                call,
                ConnectError::new(Code::Internal, format!("descriptors: {e}")),
            ));
        }
        Ok(_) => match json::method(&path) {
            Some(m) => m,
            None => {
                return Err(refuse(
                    call,
                    ConnectError::new(Code::Unimplemented, format!("unknown method {path}")),
                ));
            }
        },
    };
    if method.is_client_streaming() {
        return Err(refuse(
            call,
            ConnectError::new(
                Code::Unimplemented,
                format!(
                    "{} is client or bidirectional streaming, which the gateway does not \
                     translate from Connect; use gRPC or grpc-web",
                    method.full_name()
                ),
            ),
        ));
    }
    if method.is_server_streaming() && !call.stream {
        return Err(refuse(
            call,
            ConnectError::new(
                Code::Unimplemented,
                format!(
                    "{} is server-streaming: call it with content-type application/connect+json \
                     or application/connect+proto",
                    method.full_name()
                ),
            ),
        ));
    }

    let (mut parts, body) = request.into_parts();
    let max_body = limits.max_body_bytes;
    let collected =
        tokio::time::timeout(call.deadline, Limited::new(body, max_body).collect()).await;
    let bytes = match collected {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(refuse(
                call,
                ConnectError::new(
                    Code::ResourceExhausted,
                    format!("request body exceeds {max_body} bytes"),
                ),
            ));
        }
        Ok(Err(_)) => {
            return Err(refuse(
                call,
                ConnectError::new(Code::InvalidArgument, "cannot read the request body"),
            ));
        }
        Err(_) => {
            return Err(refuse(
                call,
                ConnectError::new(
                    Code::DeadlineExceeded,
                    "request body not received before the deadline",
                ),
            ));
        }
    };
    let payload = if call.stream {
        match single_envelope(bytes) {
            Ok(p) => p,
            Err(message) => {
                return Err(refuse(
                    call,
                    ConnectError::new(Code::InvalidArgument, message),
                ));
            }
        }
    } else {
        bytes
    };
    let input = method.input();
    let message = match call.codec {
        Codec::Json => json::json_to_proto(&input, &payload).map(Bytes::from),
        Codec::Proto => json::check_proto(&input, &payload).map(|()| payload),
    };
    let message = match message {
        Ok(m) => m,
        Err(bad) => {
            return Err(refuse(
                call,
                ConnectError::bad_field(input.full_name(), &bad),
            ));
        }
    };

    let headers = &mut parts.headers;
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::ACCEPT_ENCODING,
        header::ACCEPT,
        HeaderName::from_static("grpc-timeout"),
    ] {
        headers.remove(name);
    }
    for name in CONNECT_REQUEST_HEADERS {
        headers.remove(name);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    if let Some(t) = timeout.filter(|d| !d.is_zero()) {
        headers.insert("grpc-timeout", status::format_timeout(t));
    }
    let frame = stream::envelope(0, &message);
    Ok((
        Request::from_parts(parts, Body::new(Full::new(frame))),
        call,
    ))
}

/// `Connect-Timeout-Ms`: a positive integer of at most 10 digits.
fn parse_timeout_ms(value: &[u8]) -> Option<Duration> {
    if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let ms: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    Some(Duration::from_millis(ms))
}

/// The one message of a server-streaming request.
fn single_envelope(bytes: Bytes) -> Result<Bytes, String> {
    let mut buf = BytesMut::from(&bytes[..]);
    let Some((flags, payload)) = stream::take_envelope(&mut buf) else {
        return Err("the request body is not one whole Connect envelope".to_owned());
    };
    if flags != 0 {
        return Err(format!(
            "unexpected envelope flags {flags:#04x} (compression is not supported)"
        ));
    }
    if !buf.is_empty() {
        return Err("a server-streaming request carries exactly one message".to_owned());
    }
    Ok(payload)
}

/// Answers an error the gateway produced before or instead of the
/// upstream (a trailers-only gRPC response of [`crate::dispatch`]) in
/// Connect's form.
pub fn early(response: Response<Body>, call: Call) -> Response<Body> {
    let error = ConnectError::from_grpc(response.headers())
        .unwrap_or_else(|| ConnectError::new(Code::Unknown, "the call ended without a status"));
    error_response(call, &error, None, None)
}

/// An error in Connect's form: for a unary call, the JSON error object with
/// the code's HTTP status (the metadata as headers, trailers prefixed
/// `trailer-`); for a stream, HTTP 200 and the end-of-stream envelope.
pub fn error_response(
    call: Call,
    error: &ConnectError,
    leading: Option<&HeaderMap>,
    trailers: Option<&HeaderMap>,
) -> Response<Body> {
    let (status, content_type, body) = if call.stream {
        (
            StatusCode::OK,
            call.content_type(),
            stream::end_stream(Some(error), trailers),
        )
    } else {
        (
            errors::http_status(error.code),
            HeaderValue::from_static("application/json"),
            Bytes::from(serde_json::to_vec(&error.to_json()).unwrap_or_default()),
        )
    };
    let mut response = Response::new(Body::new(Full::new(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(leading) = leading {
        copy_metadata(leading, headers, "");
    }
    if let (false, Some(trailers)) = (call.stream, trailers) {
        copy_metadata(trailers, headers, "trailer-");
    }
    headers.insert(header::CONTENT_TYPE, content_type);
    response
}

/// Whether a header is the protocol's rather than the call's metadata.
fn is_reserved(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("grpc-")
        || matches!(
            name,
            "content-type"
                | "content-length"
                | "content-encoding"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "te"
                | "trailer"
                | "upgrade"
                | "host"
                | "date"
        )
}

/// Copies the call's metadata of `from` into `to`, names prefixed.
fn copy_metadata(from: &HeaderMap, to: &mut HeaderMap, prefix: &str) {
    for (name, value) in from {
        if is_reserved(name) {
            continue;
        }
        let name = if prefix.is_empty() {
            Some(name.clone())
        } else {
            HeaderName::from_bytes(format!("{prefix}{}", name.as_str()).as_bytes()).ok()
        };
        if let Some(name) = name {
            to.append(name, value.clone());
        }
    }
}

/// The call's metadata of `headers` as Connect's end-of-stream `metadata`.
fn metadata_json(headers: &HeaderMap) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for name in headers.keys() {
        if is_reserved(name) {
            continue;
        }
        let values = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
            .collect();
        out.insert(name.as_str().to_owned(), serde_json::Value::Array(values));
    }
    out
}

/// Writes the access log line when the response body ends; holds the
/// call's resources until then.
fn logged(
    response: Response<Body>,
    mut log: CallLog,
    guard: Option<InFlight>,
    permit: Option<OwnedSemaphorePermit>,
) -> Response<Body> {
    log.http_status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(LoggedBody::new(body, log, guard, permit)))
}

/// Turns the upstream's gRPC response into Connect's. A unary response is
/// read whole (bounded by [`MAX_RESPONSE_BYTES`] and the deadline) since
/// its HTTP status depends on the trailers; a stream is re-framed as it
/// arrives. A response that is not gRPC becomes an error with Envoy's
/// HTTP-to-gRPC mapping, as for the other protocols.
pub async fn respond(
    response: Response<Body>,
    call: Call,
    mut log: CallLog,
    guard: Option<InFlight>,
    permit: OwnedSemaphorePermit,
) -> Response<Body> {
    let permit = Some(permit);
    let is_grpc = response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"));
    if !is_grpc {
        let http = response.status();
        let code = if http == StatusCode::OK {
            Code::Unknown
        } else {
            status::code_for_http(http)
        };
        let error = ConnectError::new(
            code,
            format!("upstream answered HTTP {} without gRPC", http.as_u16()),
        );
        log.grpc_status = Some(code as i32);
        return logged(error_response(call, &error, None, None), log, guard, permit);
    }
    let (parts, body) = response.into_parts();
    let output = json::method(&log.method).map(|m| m.output());
    let json_output = match (call.codec, output) {
        (Codec::Json, Some(desc)) => Some(desc),
        (Codec::Json, None) => {
            let error = ConnectError::new(Code::Internal, "the method's descriptor is gone");
            log.grpc_status = Some(Code::Internal as i32);
            return logged(error_response(call, &error, None, None), log, guard, permit);
        }
        (Codec::Proto, _) => None,
    };

    // Trailers-only: the status is in the headers, there is no message.
    if let Some(code) = status::grpc_status(&parts.headers) {
        log.grpc_status = Some(code);
        let error = ConnectError::from_grpc(&parts.headers).unwrap_or_else(|| {
            ConnectError::new(Code::Internal, "the upstream answered OK without a message")
        });
        if call.stream && code == 0 {
            let mut response = Response::new(Body::new(Full::new(stream::end_stream(
                None,
                Some(&parts.headers),
            ))));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, call.content_type());
            return logged(response, log, guard, permit);
        }
        return logged(
            error_response(call, &error, Some(&parts.headers), None),
            log,
            guard,
            permit,
        );
    }

    if call.stream {
        let mut response = Response::new(Body::empty());
        copy_metadata(&parts.headers, response.headers_mut(), "");
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, call.content_type());
        let logged = LoggedBody::new(body, log, guard, permit);
        *response.body_mut() = Body::new(stream::StreamBody::new(logged, json_output));
        return response;
    }

    let collected = tokio::time::timeout(
        call.deadline,
        Limited::new(body, MAX_RESPONSE_BYTES).collect(),
    )
    .await;
    let (data, trailers) = match collected {
        Ok(Ok(c)) => {
            let trailers = c.trailers().cloned();
            (c.to_bytes(), trailers)
        }
        Ok(Err(e)) => {
            let error = if e.is::<http_body_util::LengthLimitError>() {
                ConnectError::new(
                    Code::ResourceExhausted,
                    format!("the response exceeds {MAX_RESPONSE_BYTES} bytes"),
                )
            } else {
                tracing::debug!(error = %e, "upstream response failed");
                ConnectError::new(Code::Unavailable, "upstream connection lost")
            };
            log.grpc_status = Some(error.code as i32);
            return logged(error_response(call, &error, None, None), log, guard, permit);
        }
        Err(_) => {
            let error = ConnectError::new(
                Code::DeadlineExceeded,
                "deadline exceeded before the upstream's response ended",
            );
            log.grpc_status = Some(error.code as i32);
            return logged(error_response(call, &error, None, None), log, guard, permit);
        }
    };
    let code = trailers.as_ref().and_then(status::grpc_status);
    log.grpc_status = code.or(Some(Code::Internal as i32));
    let failure = match (code, trailers.as_ref()) {
        (Some(0), _) => None,
        (Some(_), Some(t)) => ConnectError::from_grpc(t),
        _ => Some(ConnectError::new(
            Code::Internal,
            "the upstream ended the call without a status",
        )),
    };
    if let Some(error) = failure {
        return logged(
            error_response(call, &error, Some(&parts.headers), trailers.as_ref()),
            log,
            guard,
            permit,
        );
    }
    let message = unary_message(data).and_then(|payload| match &json_output {
        Some(desc) => json::proto_to_json(desc, &payload)
            .map(Bytes::from)
            .map_err(|e| ConnectError::new(Code::Internal, e)),
        None => Ok(payload),
    });
    match message {
        Ok(body) => {
            let mut response = Response::new(Body::new(Full::new(body)));
            let headers = response.headers_mut();
            copy_metadata(&parts.headers, headers, "");
            if let Some(t) = &trailers {
                copy_metadata(t, headers, "trailer-");
            }
            headers.insert(header::CONTENT_TYPE, call.content_type());
            logged(response, log, guard, permit)
        }
        Err(error) => {
            log.grpc_status = Some(error.code as i32);
            logged(error_response(call, &error, None, None), log, guard, permit)
        }
    }
}

/// The one message of a unary gRPC response body.
fn unary_message(data: Bytes) -> Result<Bytes, ConnectError> {
    let mut buf = BytesMut::from(&data[..]);
    let bad = |what: &str| ConnectError::new(Code::Internal, format!("the upstream {what}"));
    let Some((flags, payload)) = stream::take_envelope(&mut buf) else {
        return Err(bad("answered OK without a message"));
    };
    if flags & stream::COMPRESSED != 0 {
        return Err(bad("sent a compressed message the gateway did not ask for"));
    }
    if !buf.is_empty() {
        return Err(bad("sent more than one message for a unary call"));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ct: &str) -> Request<()> {
        Request::post("/map.auth.v1.AuthService/Login")
            .header(header::CONTENT_TYPE, ct)
            .body(())
            .unwrap_or_default()
    }

    #[test]
    fn which_requests_are_connect() {
        let json = Call::of(&request("application/json; charset=utf-8"));
        assert_eq!(
            json.map(|c| (c.codec, c.stream)),
            Some((Codec::Json, false))
        );
        let proto = Call::of(&request("application/proto"));
        assert_eq!(
            proto.map(|c| (c.codec, c.stream)),
            Some((Codec::Proto, false))
        );
        let stream = Call::of(&request("application/connect+json"));
        assert_eq!(
            stream.map(|c| (c.codec, c.stream)),
            Some((Codec::Json, true))
        );
        for other in [
            "application/grpc",
            "application/grpc-web+proto",
            "text/plain",
        ] {
            assert_eq!(Call::of(&request(other)), None, "{other}");
        }
        let mut get = request("application/json");
        *get.method_mut() = Method::GET;
        assert_eq!(Call::of(&get), None);
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout_ms(b"1500"), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_timeout_ms(b"9999999999"),
            Some(Duration::from_millis(9_999_999_999))
        );
        assert_eq!(parse_timeout_ms(b"12345678901"), None);
        assert_eq!(parse_timeout_ms(b"-1"), None);
        assert_eq!(parse_timeout_ms(b""), None);
    }

    #[test]
    fn metadata_and_trailers_as_headers() {
        let mut leading = HeaderMap::new();
        leading.insert("x-request-id", HeaderValue::from_static("r1"));
        leading.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("16"));
        trailers.insert("x-cost", HeaderValue::from_static("3"));
        let call = Call {
            codec: Codec::Json,
            stream: false,
            deadline: Duration::from_secs(1),
        };
        let error = ConnectError::from_grpc(&trailers).expect("error");
        let r = error_response(call, &error, Some(&leading), Some(&trailers));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["x-request-id"], "r1");
        assert_eq!(r.headers()["trailer-x-cost"], "3");
        assert!(r.headers().get("trailer-grpc-status").is_none());
        assert!(r.headers().get("grpc-status").is_none());
    }
}
