//! Who may call each RPC of Auth: one table per service, enforced by
//! map-kit's authentication layer in front of the handlers.

use map_kit::{
    System,
    authz::{Access, Policy},
};

/// Administrators of Auth.
const ADMIN: Access = Access::AnyRole(&[(System::Auth, "admin")]);
/// The directory (users, round-robin assignment): other systems' API keys
/// with `auth:service`, and administrators.
const DIRECTORY: Access = Access::AnyRole(&[(System::Auth, "service"), (System::Auth, "admin")]);

/// `map.auth.v1.AuthService`.
pub static AUTH_SERVICE: Policy = Policy {
    service: "map.auth.v1.AuthService",
    methods: &[
        ("Login", Access::Anonymous),
        ("Refresh", Access::Anonymous),
        ("Logout", Access::Anonymous),
        // Any service validates its callers' tokens; the token is the credential.
        ("ValidateToken", Access::Anonymous),
        ("GetUserInfo", DIRECTORY),
        ("BatchGetUserInfo", DIRECTORY),
        ("ListUsers", DIRECTORY),
        ("NextAssignee", DIRECTORY),
        ("ChangePassword", Access::User),
    ],
};

/// `map.auth.v1.AdminService`: administrators only, but for listing roles,
/// which the systems' service keys may do too.
pub static ADMIN_SERVICE: Policy = Policy {
    service: "map.auth.v1.AdminService",
    methods: &[
        ("CreateUser", ADMIN),
        ("UpdateUser", ADMIN),
        ("DeactivateUser", ADMIN),
        ("ReactivateUser", ADMIN),
        ("GrantRole", ADMIN),
        ("RevokeRole", ADMIN),
        ("ListSystems", ADMIN),
        // Other systems check role names against it (a TTS workflow's step roles).
        ("ListRoles", DIRECTORY),
        ("CreateRole", ADMIN),
        ("CreateApiKey", ADMIN),
        ("ListApiKeys", ADMIN),
        ("RevokeApiKey", ADMIN),
    ],
};

/// `map.auth.v1.DepartmentService`: everyone signed in reads (other
/// systems backfill their directory with it), administrators change.
pub static DEPARTMENT_SERVICE: Policy = Policy {
    service: "map.auth.v1.DepartmentService",
    methods: &[
        ("CreateDepartment", ADMIN),
        ("GetDepartment", Access::SignedIn),
        ("ListDepartments", Access::SignedIn),
        ("UpdateDepartment", ADMIN),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_of_auth_has_one_rule() {
        for policy in [&AUTH_SERVICE, &ADMIN_SERVICE, &DEPARTMENT_SERVICE] {
            assert_eq!(policy.check(map_contracts::FILE_DESCRIPTOR_SET), Ok(()));
        }
        let services = System::Auth.service_names();
        assert_eq!(
            services,
            [
                ADMIN_SERVICE.service,
                AUTH_SERVICE.service,
                DEPARTMENT_SERVICE.service
            ],
            "a service of map.auth.v1 has no policy here"
        );
    }

    /// The table's intent, pinned: the matrix test proves the layer obeys
    /// the table; this proves the table opens only what it should.
    #[test]
    fn only_sign_in_and_password_change_are_open_without_a_role() {
        let mut open = Vec::new();
        for policy in [&AUTH_SERVICE, &ADMIN_SERVICE, &DEPARTMENT_SERVICE] {
            for (method, access) in policy.methods {
                match access {
                    Access::AnyRole(roles) => assert!(
                        roles.contains(&(System::Auth, "admin")),
                        "{method}: administrators are locked out"
                    ),
                    other => open.push(format!("{method}: {other}")),
                }
            }
        }
        assert_eq!(
            open,
            [
                "Login: anonymous",
                "Refresh: anonymous",
                "Logout: anonymous",
                "ValidateToken: anonymous",
                "ChangePassword: signed-in person",
                "GetDepartment: signed in",
                "ListDepartments: signed in",
            ]
        );
    }
}
