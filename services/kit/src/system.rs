//! The five systems of the platform: names, default ports and the gRPC
//! services each one owns, read from the contracts' descriptor set so the
//! list can never drift from `proto/`.

use std::{fmt, str::FromStr};

use prost::Message as _;

/// One system of the platform. Each owns a database and a gRPC port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum System {
    /// Identity backbone: users, roles, tokens, API keys.
    Auth,
    /// Asset management.
    Ams,
    /// Budget management.
    Bms,
    /// Ticket tracking.
    Tts,
    /// Employee help desk.
    Hdts,
}

impl System {
    /// Every system, in port order.
    pub const ALL: [System; 5] = [
        System::Auth,
        System::Ams,
        System::Bms,
        System::Tts,
        System::Hdts,
    ];

    /// The lower-case name used in CLI arguments, roles (`tts:agent`),
    /// routing keys and database names.
    pub const fn name(self) -> &'static str {
        match self {
            System::Auth => "auth",
            System::Ams => "ams",
            System::Bms => "bms",
            System::Tts => "tts",
            System::Hdts => "hdts",
        }
    }

    /// The `ErrorInfo.domain` of this system's errors, e.g. `map.auth`.
    pub const fn error_domain(self) -> &'static str {
        match self {
            System::Auth => "map.auth",
            System::Ams => "map.ams",
            System::Bms => "map.bms",
            System::Tts => "map.tts",
            System::Hdts => "map.hdts",
        }
    }

    /// The port of ARCHITECTURE.md's table.
    pub const fn default_port(self) -> u16 {
        match self {
            System::Auth => 8000,
            System::Ams => 8001,
            System::Bms => 8002,
            System::Tts => 8003,
            System::Hdts => 8004,
        }
    }

    /// The protobuf package of the system's API, e.g. `map.tts.v1`.
    pub fn package(self) -> String {
        format!("map.{}.v1", self.name())
    }

    /// Fully-qualified names of the gRPC services in the system's package,
    /// e.g. `map.tts.v1.TicketService`, sorted.
    pub fn service_names(self) -> Vec<String> {
        let package = self.package();
        let mut names: Vec<String> = descriptor_set()
            .file
            .iter()
            .filter(|f| f.package() == package)
            .flat_map(|f| f.service.iter().map(|s| format!("{package}.{}", s.name())))
            .collect();
        names.sort();
        names
    }

    /// The system that owns a fully-qualified service name, if any.
    pub fn owning(service: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| {
            service
                .strip_prefix(&s.package())
                .is_some_and(|rest| rest.starts_with('.'))
        })
    }
}

fn descriptor_set() -> prost_types::FileDescriptorSet {
    // The set is compiled into the binary by the contracts' build script; a
    // decode failure would be a build defect, and an empty set makes every
    // test that lists services fail loudly.
    prost_types::FileDescriptorSet::decode(map_contracts::FILE_DESCRIPTOR_SET).unwrap_or_default()
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown system name.
#[derive(Debug, thiserror::Error)]
#[error("unknown system '{0}' (expected one of auth, ams, bms, tts, hdts)")]
pub struct UnknownSystem(pub String);

impl FromStr for System {
    type Err = UnknownSystem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        System::ALL
            .into_iter()
            .find(|sys| sys.name() == s)
            .ok_or_else(|| UnknownSystem(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for sys in System::ALL {
            assert_eq!(sys.name().parse::<System>().ok(), Some(sys));
        }
        assert!("payroll".parse::<System>().is_err());
    }

    #[test]
    fn every_system_owns_services_from_the_descriptor_set() {
        for sys in System::ALL {
            let names = sys.service_names();
            assert!(
                !names.is_empty(),
                "{sys} has no services in the descriptor set"
            );
            for name in &names {
                assert_eq!(System::owning(name), Some(sys));
            }
        }
        assert_eq!(System::owning("map.tts.v1x.Foo"), None);
    }
}
