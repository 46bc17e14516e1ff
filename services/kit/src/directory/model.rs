//! The directory's view of a user and a department, and how Auth's two
//! descriptions of them (event snapshots, ListUsers/ListDepartments rows)
//! become one.

use chrono::{DateTime, SubsecRound as _, Utc};
use map_contracts::{auth::v1 as pb, events::v1 as ev};

use super::entity::{departments, users};
use crate::authn::RoleRef;

/// A department of the directory.
pub type Department = departments::Model;

/// A user of the directory: Auth's user at `version`, with its roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The Auth user id (UUIDv7).
    pub id: String,
    /// Sign-in email.
    pub email: String,
    /// Name shown to people.
    pub display_name: String,
    /// Department code; empty for none.
    pub department_code: String,
    /// False once deactivated.
    pub active: bool,
    /// Every role held, ordered by system then role.
    pub roles: Vec<RoleRef>,
    /// Auth's version of the user.
    pub version: i64,
    /// Auth's `update_time` of that version.
    pub updated_at: DateTime<Utc>,
}

impl DirectoryUser {
    /// Whether the user holds `system:role`.
    pub fn holds(&self, system: &str, role: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.system == system && r.role == role)
    }

    /// The user of an event's snapshot.
    pub(crate) fn from_snapshot(s: ev::UserSnapshot) -> Result<DirectoryUser, String> {
        let roles = s.roles.into_iter().map(|r| (r.system, r.role));
        DirectoryUser::checked(
            s.id,
            s.email,
            s.display_name,
            s.department,
            s.active,
            roles,
            s.version,
            s.update_time.as_ref(),
        )
    }

    /// The user of a ListUsers row.
    pub(crate) fn from_auth(u: pb::User) -> Result<DirectoryUser, String> {
        let roles = u.roles.into_iter().map(|r| (r.system, r.role));
        DirectoryUser::checked(
            u.id,
            u.email,
            u.display_name,
            u.department,
            u.active,
            roles,
            u.version,
            u.update_time.as_ref(),
        )
    }

    #[allow(clippy::too_many_arguments)] // the fields of both descriptions
    fn checked(
        id: String,
        email: String,
        display_name: String,
        department_code: String,
        active: bool,
        roles: impl Iterator<Item = (String, String)>,
        version: i64,
        update_time: Option<&prost_types::Timestamp>,
    ) -> Result<DirectoryUser, String> {
        if uuid::Uuid::parse_str(&id).is_err() {
            return Err(format!("user id '{id}' is not a UUID"));
        }
        if version < 1 {
            return Err(format!("user {id} has version {version}"));
        }
        let mut roles: Vec<RoleRef> = roles
            .map(|(system, role)| RoleRef { system, role })
            .collect();
        roles.sort();
        roles.dedup();
        Ok(DirectoryUser {
            id,
            email,
            display_name,
            department_code,
            active,
            roles,
            version,
            updated_at: instant(update_time),
        })
    }

    /// The user of a row and its roles.
    pub(crate) fn from_row(row: users::Model, mut roles: Vec<RoleRef>) -> DirectoryUser {
        roles.sort();
        DirectoryUser {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            department_code: row.department_code,
            active: row.active,
            roles,
            version: row.version,
            updated_at: row.updated_at,
        }
    }

    /// Whether `other` says something else about the user (its `updated_at`
    /// aside: a timestamp is no fact a system acts on).
    pub(crate) fn differs_from(&self, other: &DirectoryUser) -> bool {
        self.email != other.email
            || self.display_name != other.display_name
            || self.department_code != other.department_code
            || self.active != other.active
            || self.roles != other.roles
            || self.version != other.version
    }
}

/// The department of an event's snapshot.
pub(crate) fn department_from_snapshot(d: ev::DepartmentSnapshot) -> Result<Department, String> {
    checked_department(d.code, d.name, d.active, d.version, d.update_time.as_ref())
}

/// The department of a ListDepartments row.
pub(crate) fn department_from_auth(d: pb::Department) -> Result<Department, String> {
    checked_department(d.code, d.name, d.active, d.version, d.update_time.as_ref())
}

fn checked_department(
    code: String,
    name: String,
    active: bool,
    version: i64,
    update_time: Option<&prost_types::Timestamp>,
) -> Result<Department, String> {
    if code.is_empty() {
        return Err("department without a code".into());
    }
    if version < 1 {
        return Err(format!("department {code} has version {version}"));
    }
    Ok(Department {
        code,
        name,
        active,
        version,
        updated_at: instant(update_time),
    })
}

/// Whether two descriptions of a department differ (`updated_at` aside).
pub(crate) fn department_differs(a: &Department, b: &Department) -> bool {
    a.name != b.name || a.active != b.active || a.version != b.version
}

/// The instant of a wire timestamp at the microsecond precision both
/// databases keep; now when Auth sent none (or an invalid one).
fn instant(t: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    t.and_then(|t| {
        let nanos = u32::try_from(t.nanos).ok()?;
        DateTime::from_timestamp(t.seconds, nanos)
    })
    .unwrap_or_else(Utc::now)
    .trunc_subsecs(6)
}
