//! gRPC statuses the gateway produces itself: trailers-only responses, the
//! HTTP-to-gRPC mapping Envoy applies to non-gRPC upstream replies, and
//! `grpc-timeout` parsing.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use tonic::{Code, body::Body};

/// The gRPC code Envoy maps a non-gRPC HTTP status to
/// (`Grpc::Utility::httpToGrpcStatus`).
pub fn code_for_http(status: StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// Percent-encodes a `grpc-message` value as the gRPC spec asks (bytes
/// outside printable ASCII, and `%`).
pub fn encode_message(message: &str) -> HeaderValue {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static("error"))
}

/// A trailers-only gRPC response: HTTP 200, `grpc-status` and
/// `grpc-message` as headers, no body. `content_type` is the caller's
/// protocol (`application/grpc`, or a grpc-web type).
pub fn trailers_only(code: Code, message: &str, content_type: HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert("grpc-status", HeaderValue::from(code as i32));
    if !message.is_empty() {
        headers.insert("grpc-message", encode_message(message));
    }
    response
}

/// The `grpc-status` carried in `headers`, if any.
pub fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Parses a `grpc-timeout` value: up to 8 digits and a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`).
pub fn parse_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Formats a duration as a `grpc-timeout` value (milliseconds, or seconds
/// when the millisecond count would not fit 8 digits).
pub fn format_timeout(d: Duration) -> HeaderValue {
    let ms = d.as_millis();
    let text = if ms < 100_000_000 {
        format!("{ms}m")
    } else {
        format!("{}S", d.as_secs().min(99_999_999))
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("99999999S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_http_mapping() {
        for (http, code) in [
            (503, Code::Unavailable),
            (502, Code::Unavailable),
            (504, Code::Unavailable),
            (429, Code::Unavailable),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (500, Code::Unknown),
            (418, Code::Unknown),
        ] {
            let status = StatusCode::from_u16(http).unwrap_or(StatusCode::OK);
            assert_eq!(code_for_http(status), code, "{http}");
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("5x"), None);
        assert_eq!(parse_timeout("123456789m"), None);
        assert_eq!(format_timeout(Duration::from_millis(1500)), "1500m");
        assert_eq!(
            parse_timeout(
                format_timeout(Duration::from_secs(86_400 * 365))
                    .to_str()
                    .unwrap_or("")
            ),
            Some(Duration::from_secs(86_400 * 365))
        );
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(encode_message("100% über"), "100%25 %C3%BCber");
    }
}
