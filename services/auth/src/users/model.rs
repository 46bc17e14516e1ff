//! The user as the domain sees it (with its roles) and how it is loaded.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use map_contracts::events::v1 as ev;
use map_kit::{authn::RoleRef, wire::time::timestamp};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, FromQueryResult as _, QueryFilter as _,
    QueryOrder as _, Statement,
};

use crate::{
    AuthError,
    entity::{user_roles, users},
};

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

/// A role as events carry it.
pub(crate) fn event_role(role: &RoleRef) -> ev::RoleRef {
    ev::RoleRef {
        system: role.system.clone(),
        role: role.role.clone(),
    }
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
    // One round trip: the user's row once per role it holds (once with
    // NULL roles when it holds none), roles in order.
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT u.*, r.system AS held_system, r.role AS held_role \
             FROM users u LEFT JOIN user_roles r ON r.user_id = u.id \
             WHERE u.id = $1 ORDER BY r.system, r.role",
            [id.into()],
        ))
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let row = users::Model::from_query_result(first, "")?;
    let mut roles = Vec::new();
    for r in &rows {
        let system: Option<String> = r.try_get("", "held_system")?;
        let role: Option<String> = r.try_get("", "held_role")?;
        if let (Some(system), Some(role)) = (system, role) {
            roles.push(RoleRef { system, role });
        }
    }
    Ok(Some(User::from_row(row, roles)))
}

/// One user with roles, or NOT_FOUND.
pub(crate) async fn get_user<C: ConnectionTrait>(conn: &C, id: &str) -> Result<User, AuthError> {
    find_user(conn, id)
        .await?
        .ok_or(AuthError::NotFound("user"))
}
