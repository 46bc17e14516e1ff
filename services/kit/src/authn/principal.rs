//! Who the caller is: the principal, its kind and roles.

use std::{fmt, sync::Arc};

use map_contracts::auth::v1 as pb;

use super::missing_credentials;
use crate::{ApiError, Reason, System, authz, error::ERROR_DOMAIN};

/// A role of one system, e.g. `tts:agent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleRef {
    /// System name, e.g. `tts`.
    pub system: String,
    /// Role name within the system, e.g. `agent`.
    pub role: String,
}

impl fmt::Display for RoleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.role)
    }
}

/// Whether a principal is a person or a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person signed in with an access token.
    User,
    /// A machine calling with an API key.
    ApiKey,
}

/// The authenticated caller of a request, with the roles held at validation
/// time. Never carries the credential itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's id, or the API key's id.
    pub id: String,
    /// Person or machine.
    pub kind: PrincipalKind,
    /// The user's email; empty for an API key.
    pub email: String,
    /// The user's display name, or the API key's name.
    pub display_name: String,
    /// The user's department code; empty for an API key.
    pub department: String,
    /// Roles held, across systems.
    pub roles: Vec<RoleRef>,
}

impl Principal {
    /// Whether the principal holds `system:role`.
    pub fn has_role(&self, system: System, role: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.system == system.name() && r.role == role)
    }

    /// `Ok` when the principal holds `system:role`, else PERMISSION_DENIED.
    pub fn require(&self, system: System, role: &str) -> Result<(), ApiError> {
        self.require_any(&[(system, role)])
    }

    /// `Ok` when the principal holds at least one of `roles`, else
    /// PERMISSION_DENIED naming them.
    pub fn require_any(&self, roles: &[(System, &str)]) -> Result<(), ApiError> {
        if roles.iter().any(|(s, r)| self.has_role(*s, r)) {
            return Ok(());
        }
        let wanted: Vec<String> = roles.iter().map(|(s, r)| format!("{s}:{r}")).collect();
        Err(ApiError::PermissionDenied(
            Reason::in_domain(
                ERROR_DOMAIN,
                authz::ROLE_REQUIRED,
                format!("requires the role {}", wanted.join(" or ")),
            )
            .with_metadata("roles", wanted.join(",")),
        ))
    }

    /// `Ok` for a person, PERMISSION_DENIED for an API key.
    pub fn require_user(&self) -> Result<(), ApiError> {
        match self.kind {
            PrincipalKind::User => Ok(()),
            PrincipalKind::ApiKey => Err(ApiError::PermissionDenied(Reason::in_domain(
                ERROR_DOMAIN,
                authz::USER_REQUIRED,
                "only a signed-in user may do this, not an API key",
            ))),
        }
    }

    /// From the contract's message; `None` for an unspecified kind.
    pub fn from_proto(p: pb::Principal) -> Option<Principal> {
        let kind = match pb::PrincipalKind::try_from(p.kind).ok()? {
            pb::PrincipalKind::User => PrincipalKind::User,
            pb::PrincipalKind::ApiKey => PrincipalKind::ApiKey,
            pb::PrincipalKind::Unspecified => return None,
        };
        Some(Principal {
            id: p.user_id,
            kind,
            email: p.email,
            display_name: p.display_name,
            department: p.department,
            roles: p
                .roles
                .into_iter()
                .map(|r| RoleRef {
                    system: r.system,
                    role: r.role,
                })
                .collect(),
        })
    }

    /// To the contract's message.
    pub fn to_proto(&self) -> pb::Principal {
        pb::Principal {
            user_id: self.id.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            department: self.department.clone(),
            roles: self
                .roles
                .iter()
                .map(|r| pb::RoleRef {
                    system: r.system.clone(),
                    role: r.role.clone(),
                })
                .collect(),
            kind: match self.kind {
                PrincipalKind::User => pb::PrincipalKind::User,
                PrincipalKind::ApiKey => pb::PrincipalKind::ApiKey,
            } as i32,
        }
    }
}

/// The principal that [`Authenticated`] put in the request, or
/// UNAUTHENTICATED when there is none (an anonymous path).
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Arc<Principal>, ApiError> {
    request
        .extensions()
        .get::<Arc<Principal>>()
        .cloned()
        .ok_or_else(missing_credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[(&str, &str)]) -> Principal {
        Principal {
            id: "0190".into(),
            kind: PrincipalKind::User,
            email: "a@example.com".into(),
            display_name: "A".into(),
            department: String::new(),
            roles: roles
                .iter()
                .map(|(s, r)| RoleRef {
                    system: (*s).into(),
                    role: (*r).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn require_checks_system_and_role() {
        let p = principal(&[("tts", "agent"), ("hdts", "employee")]);
        assert!(p.require(System::Tts, "agent").is_ok());
        let denied = p.require(System::Hdts, "agent");
        assert!(
            matches!(&denied, Err(ApiError::PermissionDenied(r)) if r.message.contains("hdts:agent")),
            "{denied:?}"
        );
        assert!(p.require(System::Auth, "agent").is_err());
        assert!(
            p.require_any(&[(System::Auth, "admin"), (System::Tts, "agent")])
                .is_ok()
        );
    }

    #[test]
    fn principal_round_trips_through_proto() {
        let p = principal(&[("tts", "agent")]);
        assert_eq!(Principal::from_proto(p.to_proto()), Some(p));
        let unspecified = pb::Principal::default();
        assert_eq!(Principal::from_proto(unspecified), None);
    }
}
