//! Connect's errors: the code names, the HTTP status of each code (the
//! table of the Connect protocol specification), the JSON error object, and
//! reading a gRPC status — `grpc-status`, `grpc-message` and the
//! `google.rpc.Status` of `grpc-status-details-bin` — into one.

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD},
};
use http::{HeaderMap, StatusCode};
use prost::Message as _;
use tonic::Code;

use super::json::{self, BadField};

/// Connect's name of a code (`invalid_argument`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a unary Connect error with `code`, as the Connect
/// protocol specification's table gives it.
pub fn http_status(code: Code) -> StatusCode {
    let status = match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// One `google.protobuf.Any` of an error's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The fully-qualified message name (`google.rpc.BadRequest`).
    pub type_name: String,
    /// The encoded message.
    pub value: Vec<u8>,
}

/// A Connect error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// Never [`Code::Ok`].
    pub code: Code,
    /// For the developer; may be empty.
    pub message: String,
    /// The `google.rpc` details, as the service sent them.
    pub details: Vec<Detail>,
}

impl ConnectError {
    /// An error without details.
    pub fn new(code: Code, message: impl Into<String>) -> ConnectError {
        ConnectError {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// `invalid_argument` for a request body that is not a valid message,
    /// with a `google.rpc.BadRequest` naming the field.
    pub fn bad_field(type_name: &str, bad: &BadField) -> ConnectError {
        let violation = tonic_types::pb::bad_request::FieldViolation {
            field: bad.field.clone(),
            description: bad.description.clone(),
            ..Default::default()
        };
        let detail = tonic_types::pb::BadRequest {
            field_violations: vec![violation],
        };
        ConnectError {
            code: Code::InvalidArgument,
            message: format!("invalid {type_name}: {bad}"),
            details: vec![Detail {
                type_name: "google.rpc.BadRequest".to_owned(),
                value: detail.encode_to_vec(),
            }],
        }
    }

    /// The error a gRPC status in `headers` (trailers, or the headers of a
    /// trailers-only response) stands for; `None` when it is OK or absent.
    pub fn from_grpc(headers: &HeaderMap) -> Option<ConnectError> {
        let code = Code::from_i32(crate::status::grpc_status(headers)?);
        if code == Code::Ok {
            return None;
        }
        let message = headers
            .get("grpc-message")
            .map(|v| percent_decode(v.as_bytes()))
            .unwrap_or_default();
        let status = headers
            .get("grpc-status-details-bin")
            .and_then(|v| decode_bin(v.as_bytes()))
            .and_then(|bytes| tonic_types::pb::Status::decode(bytes.as_slice()).ok());
        let details = status
            .map(|s| {
                s.details
                    .into_iter()
                    .map(|any| Detail {
                        type_name: any
                            .type_url
                            .rsplit_once('/')
                            .map_or(any.type_url.as_str(), |(_, name)| name)
                            .to_owned(),
                        value: any.value,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(ConnectError {
            code,
            message,
            details,
        })
    }

    /// Connect's JSON error object: `code`, `message` when not empty, and
    /// `details` (`type`, `value` in unpadded base64, and `debug`, the
    /// detail as JSON, when its type is known).
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("code".into(), code_name(self.code).into());
        if !self.message.is_empty() {
            object.insert("message".into(), self.message.clone().into());
        }
        if !self.details.is_empty() {
            let details = self
                .details
                .iter()
                .map(|d| {
                    let mut detail = serde_json::Map::new();
                    detail.insert("type".into(), d.type_name.clone().into());
                    detail.insert("value".into(), STANDARD_NO_PAD.encode(&d.value).into());
                    if let Some(debug) = json::detail_json(&d.type_name, &d.value) {
                        detail.insert("debug".into(), debug);
                    }
                    serde_json::Value::Object(detail)
                })
                .collect();
            object.insert("details".into(), serde_json::Value::Array(details));
        }
        serde_json::Value::Object(object)
    }
}

/// A `-bin` header value: base64, padded or not.
fn decode_bin(value: &[u8]) -> Option<Vec<u8>> {
    let trimmed = value
        .strip_suffix(b"==")
        .or_else(|| value.strip_suffix(b"="));
    STANDARD_NO_PAD
        .decode(trimmed.unwrap_or(value))
        .or_else(|_| STANDARD.decode(value))
        .ok()
}

/// Undoes gRPC's percent-encoding of `grpc-message`.
pub fn percent_decode(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'%' && i + 2 < value.len() {
            let hex = std::str::from_utf8(&value[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(decoded) = hex {
                out.push(decoded);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_specification_table() {
        for (code, name, status) in [
            (Code::Cancelled, "canceled", 499),
            (Code::Unknown, "unknown", 500),
            (Code::InvalidArgument, "invalid_argument", 400),
            (Code::DeadlineExceeded, "deadline_exceeded", 504),
            (Code::NotFound, "not_found", 404),
            (Code::AlreadyExists, "already_exists", 409),
            (Code::PermissionDenied, "permission_denied", 403),
            (Code::ResourceExhausted, "resource_exhausted", 429),
            (Code::FailedPrecondition, "failed_precondition", 400),
            (Code::Aborted, "aborted", 409),
            (Code::OutOfRange, "out_of_range", 400),
            (Code::Unimplemented, "unimplemented", 501),
            (Code::Internal, "internal", 500),
            (Code::Unavailable, "unavailable", 503),
            (Code::DataLoss, "data_loss", 500),
            (Code::Unauthenticated, "unauthenticated", 401),
        ] {
            assert_eq!(code_name(code), name);
            assert_eq!(http_status(code).as_u16(), status, "{name}");
        }
    }

    #[test]
    fn a_grpc_status_with_details() {
        let bad = tonic_types::pb::BadRequest {
            field_violations: vec![tonic_types::pb::bad_request::FieldViolation {
                field: "email".into(),
                description: "malformed".into(),
                ..Default::default()
            }],
        };
        let status = tonic_types::pb::Status {
            code: 3,
            message: "bad".into(),
            details: vec![prost_types_any(
                "type.googleapis.com/google.rpc.BadRequest",
                bad.encode_to_vec(),
            )],
        };
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from_static("3"));
        headers.insert("grpc-message", HeaderValue::from_static("100%25 %C3%BCber"));
        let bin = STANDARD_NO_PAD.encode(status.encode_to_vec());
        headers.insert(
            "grpc-status-details-bin",
            HeaderValue::from_str(&bin).expect("header"),
        );
        let e = ConnectError::from_grpc(&headers).expect("error");
        assert_eq!(e.code, Code::InvalidArgument);
        assert_eq!(e.message, "100% über");
        let json = e.to_json();
        assert_eq!(json["code"], "invalid_argument");
        assert_eq!(json["details"][0]["type"], "google.rpc.BadRequest");
        assert_eq!(
            json["details"][0]["debug"]["fieldViolations"][0]["field"],
            "email"
        );
        let value = json["details"][0]["value"].as_str().unwrap_or("");
        assert_eq!(
            STANDARD_NO_PAD.decode(value).ok(),
            Some(bad.encode_to_vec())
        );

        headers.insert("grpc-status", HeaderValue::from_static("0"));
        assert_eq!(ConnectError::from_grpc(&headers), None);
        assert_eq!(ConnectError::from_grpc(&HeaderMap::new()), None);
    }

    fn prost_types_any(type_url: &str, value: Vec<u8>) -> prost_types::Any {
        prost_types::Any {
            type_url: type_url.into(),
            value,
        }
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode(b"50%"), "50%");
        assert_eq!(percent_decode(b"a%2"), "a%2");
        assert_eq!(percent_decode(b"%zz%41"), "%zzA");
    }
}
