//! The MAP platform's contracts: messages, gRPC clients (feature `client`) and
//! servers (feature `server`) generated from `proto/`, and the descriptor set
//! that serves reflection and lets the gateway route by service name.
#![forbid(unsafe_code)]
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Encoded `google.protobuf.FileDescriptorSet` of every file under `proto/map`
/// (and the well-known types they import).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/map_descriptor.bin"));

/// Shared value types (money).
pub mod common {
    pub mod v1 {
        tonic::include_proto!("map.common.v1");
    }
}

/// Identity backbone: users, roles per system, tokens, API keys.
pub mod auth {
    pub mod v1 {
        tonic::include_proto!("map.auth.v1");
    }
}

/// Asset management.
pub mod ams {
    pub mod v1 {
        tonic::include_proto!("map.ams.v1");
    }
}

/// Budget management.
pub mod bms {
    pub mod v1 {
        tonic::include_proto!("map.bms.v1");
    }
}

/// Ticket tracking: tickets, workflows, SLAs.
pub mod tts {
    pub mod v1 {
        tonic::include_proto!("map.tts.v1");
    }
}

/// Employee help desk.
pub mod hdts {
    pub mod v1 {
        tonic::include_proto!("map.hdts.v1");
    }
}

/// The event envelope and one payload message per event type.
pub mod events {
    pub mod v1 {
        tonic::include_proto!("map.events.v1");
    }
}
