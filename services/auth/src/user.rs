//! The user as the domain sees it (with its roles), how it is loaded, and
//! the checks every user-facing input goes through.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use map_contracts::events::v1 as ev;
use map_kit::{Violations, authn::RoleRef};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _, QueryOrder as _,
};

use crate::{
    AuthError,
    entity::{user_roles, users},
};

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

/// A user with every role it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// UUIDv7.
    pub id: String,
    /// As entered.
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// Department code.
    pub department: String,
    /// False once deactivated.
    pub active: bool,
    /// Roles, ordered by system then role.
    pub roles: Vec<RoleRef>,
    /// Version, incremented on every change.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub(crate) fn from_row(row: users::Model, roles: Vec<RoleRef>) -> User {
        User {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            department: row.department,
            active: row.active,
            roles,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    /// Whether the user holds `system:role`.
    pub fn holds(&self, system: &str, role: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.system == system && r.role == role)
    }

    /// The event payload's snapshot of the user.
    pub fn snapshot(&self) -> ev::UserSnapshot {
        ev::UserSnapshot {
            id: self.id.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            department: self.department.clone(),
            active: self.active,
            roles: self.roles.iter().map(event_role).collect(),
            version: self.version,
            create_time: Some(timestamp(self.created_at)),
            update_time: Some(timestamp(self.updated_at)),
        }
    }
}

/// A protobuf timestamp.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Case-insensitive form of an email, as stored in `email_normalized`.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an email's presence, length and shape (one `@`, a dot in the
/// domain, no spaces). Never quotes the value.
pub fn check_email(v: &mut Violations, field: &str, email: &str) {
    let e = email.trim();
    if e.is_empty() {
        v.add(field, "is required");
    } else if e.chars().count() > MAX_EMAIL {
        v.add(field, format!("must be at most {MAX_EMAIL} characters"));
    } else {
        let shaped = e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }) && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        if !shaped {
            v.add(field, "is not an email address");
        }
    }
}

/// Checks a new password's length (12 to 128 characters).
pub fn check_new_password(v: &mut Violations, field: &str, password: &str) {
    if password.len() > MAX_LOGIN_PASSWORD_BYTES
        || !PASSWORD_CHARS.contains(&password.chars().count())
    {
        v.add(field, "must be 12 to 128 characters");
    }
}

/// Checks a UUID argument.
pub fn check_uuid(v: &mut Violations, field: &str, id: &str) {
    if uuid::Uuid::try_parse(id).is_err() {
        v.add(field, "is not a UUID");
    }
}

/// A role as events carry it.
pub(crate) fn event_role(role: &RoleRef) -> ev::RoleRef {
    ev::RoleRef {
        system: role.system.clone(),
        role: role.role.clone(),
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

/// Roles of the given users, ordered by system then role.
pub(crate) async fn roles_of<C: ConnectionTrait>(
    conn: &C,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<RoleRef>>, AuthError> {
    let mut out: HashMap<String, Vec<RoleRef>> = HashMap::new();
    for chunk in user_ids.chunks(500) {
        let rows = user_roles::Entity::find()
            .filter(user_roles::Column::UserId.is_in(chunk.iter().cloned()))
            .order_by_asc(user_roles::Column::System)
            .order_by_asc(user_roles::Column::Role)
            .all(conn)
            .await?;
        for r in rows {
            out.entry(r.user_id).or_default().push(RoleRef {
                system: r.system,
                role: r.role,
            });
        }
    }
    Ok(out)
}

/// Users with their roles, in the order of `rows`.
pub(crate) async fn with_roles<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<users::Model>,
) -> Result<Vec<User>, AuthError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut roles = roles_of(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let held = roles.remove(&r.id).unwrap_or_default();
            User::from_row(r, held)
        })
        .collect())
}

/// One user with roles, or `None`.
pub(crate) async fn find_user<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<User>, AuthError> {
    match users::Entity::find_by_id(id.to_owned()).one(conn).await? {
        Some(row) => Ok(with_roles(conn, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// One user with roles, or NOT_FOUND.
pub(crate) async fn get_user<C: ConnectionTrait>(conn: &C, id: &str) -> Result<User, AuthError> {
    find_user(conn, id)
        .await?
        .ok_or(AuthError::NotFound("user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_without_echoing_them() {
        let check = |e: &str| {
            let mut v = Violations::default();
            check_email(&mut v, "email", e);
            v.finish().err().map(|e| e.to_string())
        };
        assert_eq!(check("Maria.Santos@example.com"), None);
        for bad in ["", "no-at", "a@b", "a@@b.c", "a b@c.d", "@b.c", "a@.c"] {
            assert!(check(bad).is_some(), "{bad}");
        }
        let huge = format!("{}@example.com", "x".repeat(10_000));
        let msg = check(&huge).unwrap_or_default();
        assert!(
            msg.contains("at most 254") && !msg.contains("xxxx"),
            "{msg}"
        );
        assert_eq!(normalize_email(" Maria@Example.COM "), "maria@example.com");
    }
}
