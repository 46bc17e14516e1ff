//! The contracts' descriptors and the proto3 JSON mapping over them.
//!
//! One descriptor pool for the process: the platform's contracts, gRPC
//! health, and the `google.rpc` error details (so an error's details can be
//! shown as JSON too). [`prost_reflect`] does the mapping: lowerCamel names
//! out, lowerCamel or original names in, well-known types in their JSON
//! forms, 64-bit integers as strings, enums by name, unknown fields refused.
//! A refusal names the field by its JSON path (`user.email`, `roles[0].role`).

use std::sync::LazyLock;

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, MethodDescriptor,
    SerializeOptions,
};

/// Every descriptor the gateway knows, or why they could not be read.
static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    let mut pool = DescriptorPool::new();
    for set in [
        map_contracts::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_types::pb::FILE_DESCRIPTOR_SET,
    ] {
        pool.decode_file_descriptor_set(set)
            .map_err(|e| e.to_string())?;
    }
    Ok(pool)
});

/// The pool, or why it could not be built (a build-time defect).
pub fn pool() -> Result<&'static DescriptorPool, &'static str> {
    POOL.as_ref().map_err(String::as_str)
}

/// The method a request path names: `/package.Service/Method`, or with a
/// system prefix, `/tts/package.Service/Method`.
pub fn method(path: &str) -> Option<MethodDescriptor> {
    let mut segments = path.rsplitn(3, '/');
    let method = segments.next().filter(|m| !m.is_empty())?;
    let service = segments.next().filter(|s| !s.is_empty())?;
    pool()
        .ok()?
        .get_service_by_name(service)?
        .methods()
        .find(|m| m.name() == method)
}

/// Why a request body is not a valid message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadField {
    /// The field at fault as a JSON path (`token`, `user.email`,
    /// `roles[0]`), empty when the body as a whole is.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl std::fmt::Display for BadField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.description)
        } else {
            write!(f, "{}: {}", self.field, self.description)
        }
    }
}

/// Reads a JSON request body as `desc` and encodes it as protobuf. An empty
/// body is the empty message (`curl -X POST` without `-d`).
pub fn json_to_proto(desc: &MessageDescriptor, json: &[u8]) -> Result<Vec<u8>, BadField> {
    let json = if json.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        json
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let mut track = serde_path_to_error::Track::new();
    let parsed = DynamicMessage::deserialize_with_options(
        desc.clone(),
        serde_path_to_error::Deserializer::new(&mut de, &mut track),
        &DeserializeOptions::new(),
    );
    let message = match parsed {
        Ok(m) => m,
        Err(e) => return Err(bad_field(&track.path().to_string(), &e.to_string())),
    };
    // Nothing but whitespace may follow the object.
    de.end().map_err(|e| BadField {
        field: String::new(),
        description: e.to_string(),
    })?;
    Ok(message.encode_to_vec())
}

/// Names the field of a deserialisation error: the path where it happened,
/// and for an unknown field its own name under that path.
fn bad_field(path: &str, description: &str) -> BadField {
    let base = if path == "." { "" } else { path };
    let field = match description
        .strip_prefix("unrecognized field name '")
        .and_then(|rest| rest.split_once('\''))
    {
        Some((name, _)) if base.is_empty() => name.to_owned(),
        Some((name, _)) => format!("{base}.{name}"),
        None => base.to_owned(),
    };
    BadField {
        field,
        description: description.to_owned(),
    }
}

/// Checks that a binary request body is a valid `desc`.
pub fn check_proto(desc: &MessageDescriptor, bytes: &[u8]) -> Result<(), BadField> {
    DynamicMessage::decode(desc.clone(), bytes)
        .map(|_| ())
        .map_err(|e| BadField {
            field: String::new(),
            description: format!("not a valid {}: {e}", desc.full_name()),
        })
}

/// Writes a protobuf message of type `desc` as JSON.
pub fn proto_to_json(desc: &MessageDescriptor, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let message = DynamicMessage::decode(desc.clone(), bytes)
        .map_err(|e| format!("the upstream's {} does not decode: {e}", desc.full_name()))?;
    to_json(&message)
}

/// A message as JSON (the canonical mapping; default values left out).
pub fn to_json(message: &DynamicMessage) -> Result<Vec<u8>, String> {
    let mut out = serde_json::Serializer::new(Vec::with_capacity(64));
    message
        .serialize_with_options(&mut out, &SerializeOptions::new())
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// An error detail (`google.protobuf.Any`'s type and value) as JSON, when
/// its type is known.
pub fn detail_json(type_name: &str, value: &[u8]) -> Option<serde_json::Value> {
    let desc = pool().ok()?.get_message_by_name(type_name)?;
    let message = DynamicMessage::decode(desc, value).ok()?;
    serde_json::from_slice(&to_json(&message).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &str) -> MessageDescriptor {
        method(path).map(|m| m.input()).expect("method")
    }

    #[test]
    fn the_pool_has_the_contracts_health_and_error_details() {
        let pool = pool().expect("pool");
        assert!(
            pool.get_service_by_name("map.auth.v1.AuthService")
                .is_some()
        );
        assert!(pool.get_service_by_name("grpc.health.v1.Health").is_some());
        assert!(pool.get_message_by_name("google.rpc.BadRequest").is_some());
        assert!(method("/map.auth.v1.AuthService/ValidateToken").is_some());
        assert!(method("/tts/grpc.health.v1.Health/Check").is_some());
        assert!(method("/map.auth.v1.AuthService/Nope").is_none());
        assert!(method("/map.auth.v1.Nope/Login").is_none());
        assert!(method("/").is_none());
    }

    #[test]
    fn json_both_ways() {
        let desc = input("/map.auth.v1.AuthService/Login");
        let proto = json_to_proto(&desc, br#"{"email":"a@b.c","password":"p"}"#).expect("json");
        let back = proto_to_json(&desc, &proto).expect("back");
        assert_eq!(back, br#"{"email":"a@b.c","password":"p"}"#);
        // original (snake_case) names are accepted as well as lowerCamel
        let desc = input("/map.auth.v1.AdminService/DeactivateUser");
        let a = json_to_proto(&desc, br#"{"user_id":"x"}"#).expect("snake");
        let b = json_to_proto(&desc, br#"{"userId":"x"}"#).expect("camel");
        assert_eq!(a, b);
        assert_eq!(json_to_proto(&desc, b"").expect("empty"), Vec::<u8>::new());
    }

    #[test]
    fn refusals_name_the_field() {
        let desc = input("/map.auth.v1.AuthService/ValidateToken");
        let e = json_to_proto(&desc, br#"{"tokn":"x"}"#).expect_err("unknown");
        assert_eq!(e.field, "tokn");
        let e = json_to_proto(&desc, br#"{"token":5}"#).expect_err("type");
        assert_eq!(e.field, "token");
        assert!(e.description.contains("expected a string"), "{e}");
        let e = json_to_proto(&desc, br#"{"token":"#).expect_err("malformed");
        assert_eq!(e.field, "token");
        let e = json_to_proto(&desc, br#"{"token":"x"} junk"#).expect_err("trailing");
        assert_eq!(e.field, "");
        let e = json_to_proto(&desc, b"[1]").expect_err("not an object");
        assert_eq!(e.field, "");
        let desc = input("/map.auth.v1.AdminService/CreateUser");
        let e = json_to_proto(&desc, br#"{"roles":[{"system":"tts","bogus":1}]}"#)
            .expect_err("nested unknown");
        assert_eq!(e.field, "roles[0].bogus", "{e}");
    }
}
