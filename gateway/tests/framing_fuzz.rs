//! Property tests of the grpc-web framing: arbitrary bytes never panic the
//! request decoder, well-formed bodies round-trip in both encodings however
//! they are chunked, and the streaming base64 encoder equals one-shot base64.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use map_gateway::grpc_web::{
    Encoding, FramingError, TextEncoder, decode_request, decode_text_response, encode_text,
    message_frame, parse_response, trailers_frame,
};
use proptest::prelude::*;

fn framed(messages: &[Vec<u8>]) -> Vec<u8> {
    messages
        .iter()
        .flat_map(|m| message_frame(m).to_vec())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_request(Encoding::Binary, Bytes::from(body.clone()));
        let _ = decode_request(Encoding::Text, Bytes::from(body.clone()));
        let _ = parse_response(&body);
    }

    #[test]
    fn arbitrary_text_never_panics(body in "[A-Za-z0-9+/=\\s!-]{0,256}") {
        let _ = decode_request(Encoding::Text, Bytes::from(body));
    }

    #[test]
    fn well_formed_bodies_round_trip(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..5)
    ) {
        let raw = framed(&messages);
        let binary = decode_request(Encoding::Binary, Bytes::from(raw.clone()));
        prop_assert_eq!(binary.as_deref().ok(), Some(&raw[..]));
        let text = decode_request(Encoding::Text, Bytes::from(encode_text(&raw)));
        prop_assert_eq!(text.as_deref().ok(), Some(&raw[..]));
        let (back, trailers) = parse_response(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(trailers.is_empty());
        prop_assert_eq!(back.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), messages);
    }

    #[test]
    fn truncation_is_detected(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..100), 1..4),
        cut in 1usize..50,
    ) {
        let raw = framed(&messages);
        let cut = cut.min(raw.len());
        let truncated = &raw[..raw.len() - cut];
        let result = decode_request(Encoding::Binary, Bytes::copy_from_slice(truncated));
        // Cutting inside the last frame can never leave whole frames, unless
        // it removed exactly whole frames.
        let whole_prefix = {
            let mut offset = 0;
            let mut ends = vec![0];
            for m in &messages {
                offset += 5 + m.len();
                ends.push(offset);
            }
            ends.contains(&truncated.len())
        };
        prop_assert_eq!(result.is_ok(), whole_prefix);
        if let Err(e) = result {
            let expected = matches!(
                e,
                FramingError::TruncatedHeader | FramingError::LengthPastEnd { .. }
            );
            prop_assert!(expected, "unexpected error {:?}", e);
        }
    }

    #[test]
    fn streamed_base64_decodes_to_the_stream(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        splits in proptest::collection::vec(0usize..600, 0..8),
    ) {
        let mut cuts: Vec<usize> = splits.into_iter().map(|s| s.min(data.len())).collect();
        cuts.sort_unstable();
        let mut encoder = TextEncoder::default();
        let mut out = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain(std::iter::once(data.len())) {
            let chunk = encoder.push(&data[start..cut]);
            // Every chunk is whole base64 on its own: nothing is held back.
            prop_assert_eq!(chunk.len() % 4, 0);
            out.extend_from_slice(&chunk);
            start = cut;
        }
        out.extend_from_slice(&encoder.finish());
        let decoded = decode_text_response(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded[..], &data[..]);
    }

    #[test]
    fn trailers_round_trip(code in 0i32..17, message in "[ -~]{0,40}") {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from(code));
        if let Ok(v) = HeaderValue::from_str(message.trim())
            && !v.is_empty()
        {
            trailers.insert("grpc-message", v);
        }
        let frame = trailers_frame(&trailers);
        let (messages, back) = parse_response(&frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(messages.is_empty());
        prop_assert_eq!(back, trailers);
    }
}
