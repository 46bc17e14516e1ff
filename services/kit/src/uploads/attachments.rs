//! A row's attachments as one column: the files' metadata and references
//! (`map.events.v1.Attachment`, the platform's one shape of it) encoded as
//! a protobuf list. A ticket, reply or comment keeps what it was given —
//! its own system's files or references to another system's (a mirrored
//! comment's) — alike, in order; `NULL` for none.
//!
//! ```
//! use map_contracts::{common::v1::FileRef, events::v1::Attachment};
//! use map_kit::uploads::attachments;
//! let files = vec![Attachment {
//!     file_name: "screen.png".into(),
//!     content_type: "image/png".into(),
//!     size_bytes: 2048,
//!     file: Some(FileRef { system: "hdts".into(), id: "0190".into() }),
//! }];
//! let column = attachments::encode(&files);
//! assert_eq!(attachments::decode(column.as_deref()), files);
//! assert_eq!(attachments::encode(&[]), None);
//! ```

use map_contracts::events::v1::Attachment;
use prost::Message as _;

/// The column's message: the attachments in order.
#[derive(Clone, PartialEq, prost::Message)]
struct Stored {
    #[prost(message, repeated, tag = "1")]
    attachments: Vec<Attachment>,
}

/// The column's value for `attachments`; `None` when there are none.
pub fn encode(attachments: &[Attachment]) -> Option<Vec<u8>> {
    (!attachments.is_empty()).then(|| {
        Stored {
            attachments: attachments.to_vec(),
        }
        .encode_to_vec()
    })
}

/// The attachments of a column's value. The column is only ever written by
/// [`encode`]; a value that does not decode (a defect) is logged and read
/// as none rather than failing every read of its row.
pub fn decode(column: Option<&[u8]>) -> Vec<Attachment> {
    let Some(bytes) = column else {
        return Vec::new();
    };
    match Stored::decode(bytes) {
        Ok(stored) => stored.attachments,
        Err(error) => {
            tracing::error!(%error, "stored attachments do not decode");
            Vec::new()
        }
    }
}
