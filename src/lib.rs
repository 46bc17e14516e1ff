//! The MAP platform's contracts: messages, gRPC clients (feature `client`) and
//! servers (feature `server`) generated from `proto/`, and the descriptor set
//! that serves reflection and lets the gateway route by service name.
#![forbid(unsafe_code)]
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Encoded `google.protobuf.FileDescriptorSet` of every file under `proto/map`
/// (and the well-known types they import).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/map_descriptor.bin"));

/// `package!(auth, "map.auth.v1", "docs")` → `pub mod auth { pub mod v1 { … } }`.
macro_rules! package {
    ($name:ident, $proto:literal, $doc:literal) => {
        #[doc = $doc]
        pub mod $name {
            #[doc = concat!("Generated from `", $proto, "`.")]
            pub mod v1 {
                tonic::include_proto!($proto);
            }
        }
    };
}

/// Google's common types vendored from googleapis (`proto/google/type`).
pub mod google {
    /// Generated from `google.type`: `Date` for calendar dates without a time.
    pub mod r#type {
        include!(concat!(env!("OUT_DIR"), "/google.r#type.rs"));
    }
}

package!(common, "map.common.v1", "Shared value types (money).");
package!(
    auth,
    "map.auth.v1",
    "Identity backbone: users, roles per system, tokens, API keys."
);
package!(ams, "map.ams.v1", "Asset management.");
package!(bms, "map.bms.v1", "Budget management.");
package!(
    tts,
    "map.tts.v1",
    "Ticket tracking: tickets, workflows, SLAs."
);
package!(hdts, "map.hdts.v1", "Employee help desk.");
package!(
    events,
    "map.events.v1",
    "The event envelope and one payload message per event type."
);
