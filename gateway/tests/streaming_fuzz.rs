//! Property tests of the streaming grpc-web request decoder: however a
//! body is cut into chunks, it releases exactly what the whole-body decoder
//! accepts, refuses what that refuses (apart from limits, which only it
//! checks), never panics on arbitrary input, and releases whole frames only.

use bytes::Bytes;
use map_gateway::{
    grpc_web::{Encoding, check_frames, decode_request, encode_text, message_frame},
    web_stream::{RequestDecoder, RequestError},
};
use proptest::prelude::*;

/// Feeds `body` cut at `cuts`; the released bytes, or the first error.
fn streamed(
    encoding: Encoding,
    max: usize,
    body: &[u8],
    cuts: &[usize],
) -> Result<Vec<u8>, RequestError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| (*c).min(body.len())).collect();
    cuts.sort_unstable();
    let mut decoder = RequestDecoder::new(encoding, max);
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(body.len())) {
        let released = decoder.push(Bytes::copy_from_slice(&body[start..cut]))?;
        assert!(
            check_frames(&released).is_ok(),
            "released bytes that are not whole frames"
        );
        out.extend_from_slice(&released);
        start = cut;
    }
    decoder.finish()?;
    Ok(out)
}

fn framed(messages: &[Vec<u8>]) -> Vec<u8> {
    messages
        .iter()
        .flat_map(|m| message_frame(m).to_vec())
        .collect()
}

const NO_LIMIT: usize = 1 << 30;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn chunked_well_formed_bodies_stream_through(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..5),
        cuts in proptest::collection::vec(0usize..1200, 0..10),
    ) {
        let raw = framed(&messages);
        prop_assert_eq!(streamed(Encoding::Binary, NO_LIMIT, &raw, &cuts), Ok(raw.clone()));
        // Text: one padded chunk per message, as clients stream it, cut anywhere.
        let text: String = messages.iter().map(|m| encode_text(&message_frame(m))).collect();
        prop_assert_eq!(streamed(Encoding::Text, NO_LIMIT, text.as_bytes(), &cuts), Ok(raw));
    }

    #[test]
    fn streaming_agrees_with_the_whole_body_decoder(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(0usize..300, 0..6),
    ) {
        let whole = decode_request(Encoding::Binary, Bytes::from(body.clone()));
        let stream = streamed(Encoding::Binary, NO_LIMIT, &body, &cuts);
        prop_assert_eq!(whole.is_ok(), stream.is_ok(), "{:?} vs {:?}", whole, stream);
        if let (Ok(w), Ok(s)) = (&whole, &stream) {
            prop_assert_eq!(&w[..], &s[..]);
        }
    }

    #[test]
    fn streaming_text_agrees_with_the_whole_body_decoder(
        body in "[A-Za-z0-9+/=\\s!-]{0,200}",
        cuts in proptest::collection::vec(0usize..200, 0..6),
    ) {
        let whole = decode_request(Encoding::Text, Bytes::from(body.clone()));
        let stream = streamed(Encoding::Text, NO_LIMIT, body.as_bytes(), &cuts);
        prop_assert_eq!(whole.is_ok(), stream.is_ok(), "{:?} vs {:?}", whole, stream);
        if let (Ok(w), Ok(s)) = (&whole, &stream) {
            prop_assert_eq!(&w[..], &s[..]);
        }
    }

    #[test]
    fn the_limits_hold_however_the_body_is_cut(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..6),
        cuts in proptest::collection::vec(0usize..800, 0..8),
        max in 1usize..400,
    ) {
        let raw = framed(&messages);
        match streamed(Encoding::Binary, max, &raw, &cuts) {
            Ok(out) => {
                prop_assert!(raw.len() <= max);
                prop_assert_eq!(out, raw);
            }
            Err(RequestError::MessageTooLarge { declared, .. }) => prop_assert!(declared > max),
            Err(RequestError::BodyTooLarge { .. }) => prop_assert!(raw.len() > max),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }
}
