//! NextAssignee: fair round robin over the active holders of a role, in
//! user id order, with the position kept in the database.
//!
//! Each call takes the role's next **turn** and gets the holder at that
//! turn's place in id order, so every call gets its own turn and, with the
//! holders unchanged, every holder is within one pick of the others over
//! any window — across restarts and replicas. Holders joining or leaving
//! simply take or lose their place in id order.
//!
//! - On PostgreSQL the turn comes from a sequence per role (created on first
//!   use): `nextval` takes no row lock and is not undone by a rollback, so
//!   concurrent calls never queue behind each other's commit (a cursor row
//!   updated per call serialised them on its lock: ≈ 1 commit at a time).
//! - On SQLite (one writer at a time anyway) one conditional
//!   `UPDATE … RETURNING` moves the role's cursor row to the next active
//!   holder after the last pick.
//!
//! A call with a **request key** records its pick (`round_robin_picks`); a
//! retry with the same key returns the same user while they are still an
//! active holder, instead of taking another turn.

use chrono::Utc;
use map_kit::{Violations, authn::RoleRef};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

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

/// Most characters of a request key.
pub const MAX_REQUEST_KEY: usize = 200;

// `$n` parameters on both databases: SQLite reads `$1` as a named
// parameter, so a repeated `$1` is one value.
const HOLDERS: &str = "SELECT u.id FROM users u JOIN user_roles r ON r.user_id = u.id \
     WHERE r.system = $1 AND r.role = $2 AND u.active = TRUE ORDER BY u.id";

const FIND_PICK: &str =
    "SELECT system, role, user_id FROM round_robin_picks WHERE request_key = $1";

const RECORD_PICK: &str = "INSERT INTO round_robin_picks (request_key, system, role, user_id, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_key) DO NOTHING";

/// The PostgreSQL sequence of a role's turns. System and role names are
/// lower-case letters, digits and underscores (checked when the role was
/// created; the role exists when this is called).
fn sequence_name(role: &RoleRef) -> Option<String> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    (plain(&role.system) && plain(&role.role))
        .then(|| format!("\"round_robin_{}__{}\"", role.system, role.role))
}

impl Auth {
    /// The next assignee for `role` (AuthService.NextAssignee); a repeated
    /// non-empty `request_key` returns the same pick (see the module docs).
    pub async fn next_assignee(&self, role: RoleRef, request_key: &str) -> Result<User, AuthError> {
        let mut v = Violations::default();
        v.text("system", &role.system, 32)
            .text("role", &role.role, 63)
            .optional_text("request_key", request_key, MAX_REQUEST_KEY);
        finish(v)?;
        let conn = self.db.conn();
        if !request_key.is_empty()
            && let Some(user) = self.earlier_pick(&role, request_key).await?
        {
            return Ok(user);
        }
        let picked = match conn.get_database_backend() {
            DatabaseBackend::Postgres => self.next_by_sequence(&role).await?,
            _ => self.next_by_cursor(&role).await?,
        };
        let Some(id) = picked else {
            // Nobody to pick: an unknown role is NOT_FOUND (checked only
            // here, off the path of every successful call).
            ensure_roles_exist(conn, std::slice::from_ref(&role)).await?;
            return Err(AuthError::NoEligibleAssignee {
                system: role.system,
                role: role.role,
            });
        };
        if !request_key.is_empty() {
            let backend = conn.get_database_backend();
            let recorded = conn
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    RECORD_PICK,
                    [
                        request_key.into(),
                        role.system.clone().into(),
                        role.role.clone().into(),
                        id.clone().into(),
                        Utc::now().into(),
                    ],
                ))
                .await?;
            // A concurrent call with the same key recorded its pick first:
            // both answer with that one (the turn taken here is skipped).
            if recorded.rows_affected() == 0
                && let Some(user) = self.earlier_pick(&role, request_key).await?
            {
                return Ok(user);
            }
        }
        model::get_user(conn, &id).await
    }

    /// The user an earlier call with `request_key` got, while still an
    /// active holder of `role`.
    async fn earlier_pick(
        &self,
        role: &RoleRef,
        request_key: &str,
    ) -> Result<Option<User>, AuthError> {
        let conn = self.db.conn();
        let backend = conn.get_database_backend();
        let Some(row) = conn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                FIND_PICK,
                [request_key.into()],
            ))
            .await?
        else {
            return Ok(None);
        };
        let (system, name, user_id): (String, String, String) = (
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
        );
        if system != role.system || name != role.role {
            return Err(AuthError::invalid(
                "request_key",
                "was already used to pick for another role",
            ));
        }
        let user = model::find_user(conn, &user_id).await?;
        Ok(user.filter(|u| u.active && u.holds(&role.system, &role.role)))
    }

    /// PostgreSQL: the holder at the place of the role's next turn.
    async fn next_by_sequence(&self, role: &RoleRef) -> Result<Option<String>, AuthError> {
        let conn = self.db.conn();
        // Holders first: a role nobody holds (or that does not exist) takes
        // no turn and gets no sequence.
        let holders = conn
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                HOLDERS,
                [role.system.clone().into(), role.role.clone().into()],
            ))
            .await?;
        if holders.is_empty() {
            return Ok(None);
        }
        let sequence = sequence_name(role)
            .ok_or_else(|| AuthError::invalid("role", "is not a valid role name"))?;
        let turn = match next_turn(conn, &sequence).await {
            Ok(turn) => turn,
            // The role's first turn ever: make its sequence (racing callers
            // both succeed with IF NOT EXISTS, or one retries below).
            Err(_) => {
                let create = format!("CREATE SEQUENCE IF NOT EXISTS {sequence} MINVALUE 0 START 0");
                if let Err(e) = conn.execute_unprepared(&create).await {
                    tracing::debug!(error = %e, "sequence made concurrently");
                }
                next_turn(conn, &sequence).await?
            }
        };
        let len = i64::try_from(holders.len()).unwrap_or(i64::MAX);
        let place = usize::try_from(turn.rem_euclid(len)).unwrap_or(0);
        Ok(Some(holders[place].try_get_by_index(0)?))
    }

    /// SQLite: the cursor row moved to the next active holder.
    async fn next_by_cursor(&self, role: &RoleRef) -> Result<Option<String>, AuthError> {
        let conn = self.db.conn();
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
        row.map(|r| r.try_get_by_index(0))
            .transpose()
            .map_err(Into::into)
    }
}

async fn next_turn<C: ConnectionTrait>(conn: &C, sequence: &str) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT nextval($1::regclass)",
            [Value::from(sequence.to_owned())],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("nextval".into()))?;
    row.try_get_by_index(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_names_are_plain_identifiers() {
        let role = |s: &str, r: &str| RoleRef {
            system: s.into(),
            role: r.into(),
        };
        assert_eq!(
            sequence_name(&role("tts", "agent")).as_deref(),
            Some("\"round_robin_tts__agent\"")
        );
        assert_eq!(sequence_name(&role("tts", "a\"; DROP")), None);
    }
}
