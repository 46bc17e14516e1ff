//! The authorization matrix of a service, generated from its policy table:
//! every method, called by every caller, is admitted or refused exactly as
//! the table says.

use std::time::Duration;

use prost::bytes::{Buf as _, BufMut as _, Bytes};
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};
use tonic_types::StatusExt as _;

use super::Caller;
use crate::{authz::Policy, error::ERROR_DOMAIN};

/// Calls every method of `policy`'s service as each of `callers`, with an
/// empty request message (valid for every message type), and checks the
/// answer against the table:
/// - a caller the table admits is not refused by the authentication layer
///   (the handler may still refuse the empty request: INVALID_ARGUMENT,
///   NOT_FOUND, a refused login, … — anything but the kit's own
///   UNAUTHENTICATED or PERMISSION_DENIED);
/// - a caller without a credential, or with one no validator knows, gets
///   UNAUTHENTICATED from the kit where a credential is needed;
/// - a known caller without the table's role or kind gets the kit's
///   PERMISSION_DENIED.
///
/// # Panics
/// Listing every cell that differs from the table.
pub async fn check_policy_matrix(channel: Channel, policy: &Policy, callers: &[Caller]) {
    let mut wrong = Vec::new();
    for (method, access) in policy.methods {
        for caller in callers {
            let expected = match (&caller.credential, &caller.principal) {
                _ if !access.needs_credential() => None,
                (None, _) | (Some(_), None) => Some(Code::Unauthenticated),
                (Some(_), Some(p)) => access.admit(p).err().map(|_| Code::PermissionDenied),
            };
            let path = format!("/{}/{method}", policy.service);
            let got = call_raw(channel.clone(), &path, caller).await;
            let refused_by_kit = got.as_ref().err().and_then(|s| {
                let from_kit = s
                    .get_details_error_info()
                    .is_some_and(|i| i.domain == ERROR_DOMAIN);
                (from_kit && matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied))
                    .then_some(s.code())
            });
            if refused_by_kit != expected {
                let answer = match &got {
                    Ok(()) => "OK".to_owned(),
                    Err(s) => format!("{:?} {:?}", s.code(), s.message()),
                };
                let want = expected.map_or("admitted".to_owned(), |c| format!("{c:?}"));
                wrong.push(format!(
                    "{method} ({access}) as {}: expected {want}, got {answer}",
                    caller.name
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells of {}'s matrix differ from its policy:\n{}",
        wrong.len(),
        policy.service,
        wrong.join("\n")
    );
}

/// One call of `path` with an empty message as `caller`: its status (for a
/// stream, the status before or with the first message).
pub async fn call_raw(channel: Channel, path: &str, caller: &Caller) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = caller.request(tokio_stream::once(Bytes::new()));
    request.set_timeout(Duration::from_secs(10));
    let path = http::uri::PathAndQuery::try_from(path)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let response = grpc.streaming(request, path, RawCodec).await?;
    response.into_inner().message().await.map(|_| ())
}

/// Messages as the bytes they are: any method, no generated types.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
