//! NextAssignee: fair round robin over the active holders of a role, in
//! user id order, with the position kept in the database.
//!
//! The cursor row of a role remembers the user picked last. One conditional
//! `UPDATE … RETURNING` moves it to the next active holder after it (or the
//! first, wrapping around) and returns that user, so every call gets its own
//! turn: on PostgreSQL concurrent updates of the row queue on its row lock
//! and each re-evaluates against the committed position; on SQLite writers
//! are serial. 200 concurrent calls over 4 holders give exactly 50 each,
//! across restarts and replicas. Holders joining or leaving simply take or
//! lose their place in id order.

use map_kit::{Violations, authn::RoleRef};
use sea_orm::{ConnectionTrait as _, Statement};

use crate::{
    Auth, AuthError,
    users::{
        checks::finish,
        ensure_roles_exist,
        model::{self, User},
    },
};

const ENSURE_CURSOR: &str = "INSERT INTO round_robin_cursors (system, role, last_user_id, turns) \
     VALUES ($1, $2, '', 0) ON CONFLICT (system, role) DO NOTHING";

const ADVANCE: &str = "UPDATE round_robin_cursors SET \
       last_user_id = COALESCE( \
         (SELECT MIN(u.id) FROM users u JOIN user_roles r ON r.user_id = u.id \
           WHERE r.system = $1 AND r.role = $2 AND u.active = TRUE \
             AND u.id > round_robin_cursors.last_user_id), \
         (SELECT MIN(u.id) FROM users u JOIN user_roles r ON r.user_id = u.id \
           WHERE r.system = $1 AND r.role = $2 AND u.active = TRUE)), \
       turns = turns + 1 \
     WHERE system = $1 AND role = $2 \
       AND EXISTS (SELECT 1 FROM users u JOIN user_roles r ON r.user_id = u.id \
           WHERE r.system = $1 AND r.role = $2 AND u.active = TRUE) \
     RETURNING last_user_id";

impl Auth {
    /// The next assignee for `role` (AuthService.NextAssignee).
    pub async fn next_assignee(&self, role: RoleRef) -> Result<User, AuthError> {
        let mut v = Violations::default();
        v.text("system", &role.system, 32)
            .text("role", &role.role, 63);
        finish(v)?;
        let conn = self.db.conn();
        ensure_roles_exist(conn, std::slice::from_ref(&role)).await?;
        let backend = conn.get_database_backend();
        let args = || [role.system.clone().into(), role.role.clone().into()];
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            ENSURE_CURSOR,
            args(),
        ))
        .await?;
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(backend, ADVANCE, args()))
            .await?;
        let Some(row) = row else {
            return Err(AuthError::NoEligibleAssignee {
                system: role.system,
                role: role.role,
            });
        };
        let id: String = row.try_get_by_index(0)?;
        model::get_user(conn, &id).await
    }
}
