//! Who may call what, declared once per service: a [`Policy`] maps every
//! method of a gRPC service to its [`Access`]. [`authn::Authenticated`]
//! enforces it in front of the handlers, so no handler checks roles by hand,
//! and [`GrpcServer::serve`] refuses to start when a method of a registered
//! service has no entry (deny by default).
//!
//! ```
//! use map_kit::{System, authz::{Access, Policy}};
//!
//! static TICKETS: Policy = Policy {
//!     service: "map.tts.v1.TicketService",
//!     methods: &[
//!         ("GetTicket", Access::SignedIn),
//!         ("AssignTicket", Access::AnyRole(&[(System::Tts, "agent"), (System::Tts, "admin")])),
//!     ],
//! };
//! assert_eq!(TICKETS.access("/map.tts.v1.TicketService/GetTicket"), Some(&Access::SignedIn));
//! assert_eq!(TICKETS.access("/map.tts.v1.TicketService/DeleteEverything"), None);
//! ```
//!
//! Resource rules ("an employee sees only their own tickets") are not the
//! table's business: the table says `SignedIn`, the handler passes the
//! [`Principal`] to the domain, and the domain answers NOT_FOUND.
//!
//! [`authn::Authenticated`]: crate::authn::Authenticated
//! [`GrpcServer::serve`]: crate::server::GrpcServer::serve
//! [`Principal`]: crate::authn::Principal

use std::fmt;

use crate::{ApiError, Reason, System, authn::Principal, error::ERROR_DOMAIN};

/// `ErrorInfo.reason` of a call refused because the caller lacks a role.
pub const ROLE_REQUIRED: &str = "ROLE_REQUIRED";
/// `ErrorInfo.reason` of a call refused because API keys may not make it.
pub const USER_REQUIRED: &str = "USER_REQUIRED";
/// `ErrorInfo.reason` of a call to a method its service's policy does not list.
pub const METHOD_NOT_DECLARED: &str = "METHOD_NOT_DECLARED";

/// Who may call one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials; credentials sent are ignored (Login).
    Anonymous,
    /// Any authenticated caller: a person or an API key.
    SignedIn,
    /// A signed-in person; API keys are refused (ChangePassword).
    User,
    /// A caller holding at least one of these roles.
    AnyRole(&'static [(System, &'static str)]),
}

impl Access {
    /// `Ok` when `principal` may call; PERMISSION_DENIED (domain `map.kit`,
    /// reason [`ROLE_REQUIRED`] or [`USER_REQUIRED`]) otherwise.
    pub fn admit(&self, principal: &Principal) -> Result<(), ApiError> {
        match self {
            Access::Anonymous | Access::SignedIn => Ok(()),
            Access::User => principal.require_user(),
            Access::AnyRole(roles) => principal.require_any(roles),
        }
    }

    /// Whether the call needs a credential at all.
    pub fn needs_credential(&self) -> bool {
        !matches!(self, Access::Anonymous)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Anonymous => f.write_str("anonymous"),
            Access::SignedIn => f.write_str("signed in"),
            Access::User => f.write_str("signed-in person"),
            Access::AnyRole(roles) => {
                let names: Vec<String> = roles.iter().map(|(s, r)| format!("{s}:{r}")).collect();
                write!(f, "any of {}", names.join(", "))
            }
        }
    }
}

/// The access rules of one gRPC service: every method, by its short name.
#[derive(Debug)]
pub struct Policy {
    /// Fully-qualified service name, e.g. `map.auth.v1.AdminService`.
    pub service: &'static str,
    /// Method name (e.g. `CreateUser`) → who may call it.
    pub methods: &'static [(&'static str, Access)],
}

impl Policy {
    /// The rule for a full method path (`/map.auth.v1.AuthService/Login`);
    /// `None` for a path of another service or a method without an entry.
    pub fn access(&self, path: &str) -> Option<&Access> {
        let method = path
            .strip_prefix('/')?
            .strip_prefix(self.service)?
            .strip_prefix('/')?;
        self.methods
            .iter()
            .find(|(name, _)| *name == method)
            .map(|(_, access)| access)
    }

    /// Checks the table against the service's methods in the encoded
    /// descriptor set `fds`: the service exists, every method has exactly one
    /// entry, and no entry names a method the service lacks.
    pub fn check(&self, fds: &[u8]) -> Result<(), PolicyError> {
        use prost::Message as _;
        let set = prost_types::FileDescriptorSet::decode(fds)
            .map_err(|e| PolicyError::new(self.service, format!("bad descriptor set: {e}")))?;
        let service = set
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| (format!("{}.{}", f.package(), s.name()), s))
            })
            .find(|(name, _)| name == self.service)
            .map(|(_, s)| s)
            .ok_or_else(|| PolicyError::new(self.service, "no such service in the contracts"))?;
        let declared: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
        let mut problems = Vec::new();
        for method in &declared {
            match self.methods.iter().filter(|(n, _)| n == method).count() {
                0 => problems.push(format!("{method} has no access rule")),
                1 => {}
                n => problems.push(format!("{method} has {n} access rules")),
            }
        }
        for (name, _) in self.methods {
            if !declared.contains(name) {
                problems.push(format!("{name} is not a method of the service"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::new(self.service, problems.join("; ")))
        }
    }
}

/// A policy table that does not match its service's contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access policy of {service}: {problem}")]
pub struct PolicyError {
    /// The service whose table is wrong.
    pub service: String,
    /// What is wrong, e.g. `CreateUser has no access rule`.
    pub problem: String,
}

impl PolicyError {
    fn new(service: &str, problem: impl Into<String>) -> Self {
        PolicyError {
            service: service.to_owned(),
            problem: problem.into(),
        }
    }
}

/// PERMISSION_DENIED for a path its service's policy does not list.
pub(crate) fn not_declared(path: &str) -> ApiError {
    ApiError::PermissionDenied(
        Reason::in_domain(
            ERROR_DOMAIN,
            METHOD_NOT_DECLARED,
            "this method has no access rule and is refused",
        )
        .with_metadata("method", path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::{PrincipalKind, RoleRef};

    static ECHO: Policy = Policy {
        service: "grpc.health.v1.Health",
        methods: &[
            ("Check", Access::SignedIn),
            ("Watch", Access::AnyRole(&[(System::Auth, "admin")])),
        ],
    };

    fn health_fds() -> &'static [u8] {
        tonic_health::pb::FILE_DESCRIPTOR_SET
    }

    #[test]
    fn paths_resolve_to_their_rules() {
        assert_eq!(
            ECHO.access("/grpc.health.v1.Health/Check"),
            Some(&Access::SignedIn)
        );
        for other in [
            "/grpc.health.v1.Health/List",
            "/grpc.health.v1.HealthX/Check",
            "grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Check/x",
            "/",
        ] {
            assert_eq!(ECHO.access(other), None, "{other}");
        }
    }

    #[test]
    fn check_names_missing_extra_and_doubled_rules() {
        // grpc.health.v1.Health has Check and Watch.
        assert_eq!(ECHO.check(health_fds()), Ok(()));
        static SHORT: Policy = Policy {
            service: "grpc.health.v1.Health",
            methods: &[("Check", Access::SignedIn)],
        };
        let err = SHORT.check(health_fds()).err().map(|e| e.problem);
        assert_eq!(err.as_deref(), Some("Watch has no access rule"));
        static EXTRA: Policy = Policy {
            service: "grpc.health.v1.Health",
            methods: &[
                ("Check", Access::SignedIn),
                ("Check", Access::Anonymous),
                ("Watch", Access::SignedIn),
                ("Purge", Access::SignedIn),
            ],
        };
        let err = EXTRA.check(health_fds()).err().map(|e| e.problem);
        assert_eq!(
            err.as_deref(),
            Some("Check has 2 access rules; Purge is not a method of the service")
        );
        static MISSING: Policy = Policy {
            service: "grpc.health.v1.Nothing",
            methods: &[],
        };
        assert!(MISSING.check(health_fds()).is_err());
    }

    #[test]
    fn access_admits_by_kind_and_role() {
        let person = Principal {
            id: "u".into(),
            kind: PrincipalKind::User,
            email: "a@example.com".into(),
            display_name: "A".into(),
            department: String::new(),
            roles: vec![RoleRef {
                system: "tts".into(),
                role: "agent".into(),
            }],
        };
        let key = Principal {
            kind: PrincipalKind::ApiKey,
            ..person.clone()
        };
        let agent = Access::AnyRole(&[(System::Tts, "agent")]);
        let admin = Access::AnyRole(&[(System::Auth, "admin")]);
        assert!(agent.admit(&person).is_ok());
        assert!(agent.admit(&key).is_ok());
        assert!(Access::User.admit(&person).is_ok());
        for (access, who, reason) in [
            (admin, &person, ROLE_REQUIRED),
            (Access::User, &key, USER_REQUIRED),
        ] {
            match access.admit(who) {
                Err(ApiError::PermissionDenied(r)) => assert_eq!(r.reason, reason),
                other => panic!("{access} for {:?}: {other:?}", who.kind),
            }
        }
        assert_eq!(admin.to_string(), "any of auth:admin");
    }
}
