//! The checks Auth's user-facing input goes through, beyond the kit's
//! (`map_kit::Violations`: required, length, email, UUID).

use map_kit::{Violations, authn::RoleRef};

use crate::AuthError;

/// Longest email accepted (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;
/// Longest display name.
pub const MAX_DISPLAY_NAME: usize = 200;
/// Longest department code.
pub const MAX_DEPARTMENT: usize = 100;
/// Password length bounds for new passwords, in characters.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 12..=128;
/// Longest password even looked at on login, in bytes.
pub const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

/// Case-insensitive form of an email, as stored in `email_normalized`.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks a new password's length (12 to 128 characters).
pub fn check_new_password(v: &mut Violations, field: &str, password: &str) {
    if password.len() > MAX_LOGIN_PASSWORD_BYTES
        || !PASSWORD_CHARS.contains(&password.chars().count())
    {
        v.add(field, "must be 12 to 128 characters");
    }
}

/// Checks a role reference's parts are present and plausibly sized.
pub fn check_role_ref(v: &mut Violations, field: &str, role: &RoleRef) {
    if role.system.is_empty() || role.system.len() > 32 {
        v.add(
            format!("{field}.system"),
            "is required (at most 32 characters)",
        );
    }
    if role.role.is_empty() || role.role.len() > 63 {
        v.add(
            format!("{field}.role"),
            "is required (at most 63 characters)",
        );
    }
}

/// Finishes collected violations into the domain error.
pub fn finish(v: Violations) -> Result<(), AuthError> {
    v.finish().map_err(AuthError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked_without_echoing_them() {
        let check = |e: &str| {
            let mut v = Violations::default();
            v.email("email", e, MAX_EMAIL);
            v.finish().err().map(|e| e.to_string())
        };
        assert_eq!(check("Maria.Santos@example.com"), None);
        let huge = format!("{}@example.com", "x".repeat(10_000));
        let msg = check(&huge).unwrap_or_default();
        assert!(
            msg.contains("at most 254") && !msg.contains("xxxx"),
            "{msg}"
        );
        assert_eq!(normalize_email(" Maria@Example.COM "), "maria@example.com");
    }
}
