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
//!   One statement finds the key's earlier pick or takes the turn, picks the
//!   holder and records the pick.
//! - On SQLite (one writer at a time anyway) one conditional
//!   `UPDATE … RETURNING` moves the role's cursor row to the next active
//!   holder after the last pick.
//!
//! A call with a **request key** records its pick (`round_robin_picks`); a
//! retry with the same key returns the same user while they are still an
//! active holder, instead of taking another turn.

use map_kit::{Violations, authn::RoleRef};
use sea_orm::{ConnectionTrait as _, DatabaseBackend, Statement, Value};

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

/// PostgreSQL: the key's earlier pick while its user still holds the role
/// (`earlier`); else, when someone holds it, the next turn's holder, its
/// pick recorded (`recorded`) or not because the key was taken meanwhile
/// (`taken`). No row: nobody holds the role. `nextval` runs only when a
/// turn is taken. $1 system, $2 role, $3 request key ('' for none),
/// $4 the role's sequence, $5 now.
const PICK: &str = "WITH holders AS ( \
       SELECT u.id, row_number() OVER (ORDER BY u.id) - 1 AS place, count(*) OVER () AS n \
       FROM users u JOIN user_roles r ON r.user_id = u.id \
       WHERE r.system = $1 AND r.role = $2 AND u.active = TRUE), \
     earlier AS ( \
       SELECT h.id FROM round_robin_picks p JOIN holders h ON h.id = p.user_id \
       WHERE $3 <> '' AND p.request_key = $3 AND p.system = $1 AND p.role = $2), \
     turn AS ( \
       SELECT nextval($4::regclass) AS t \
       WHERE NOT EXISTS (SELECT 1 FROM earlier) AND EXISTS (SELECT 1 FROM holders)), \
     chosen AS ( \
       SELECT h.id FROM holders h, turn WHERE h.place = turn.t % h.n), \
     recorded AS ( \
       INSERT INTO round_robin_picks (request_key, system, role, user_id, created_at) \
       SELECT $3, $1, $2, id, $5 FROM chosen WHERE $3 <> '' \
       ON CONFLICT (request_key) DO NOTHING RETURNING user_id) \
     SELECT id, 'earlier' FROM earlier \
     UNION ALL \
     SELECT c.id, CASE WHEN EXISTS (SELECT 1 FROM recorded) THEN 'recorded' ELSE 'taken' END FROM chosen c";

/// What a call picked.
enum Pick {
    /// The user an earlier call with the same key got.
    Earlier(String),
    /// A new turn's holder; `recorded` when its pick is stored already.
    New { id: String, recorded: bool },
}

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
        let picked = match conn.get_database_backend() {
            DatabaseBackend::Postgres => self.pick_by_sequence(&role, request_key).await?,
            _ => {
                if !request_key.is_empty()
                    && let Some(user) = self.earlier_pick(&role, request_key).await?
                {
                    return Ok(user);
                }
                self.next_by_cursor(&role).await?.map(|id| Pick::New {
                    id,
                    recorded: false,
                })
            }
        };
        let id = match picked {
            Some(Pick::Earlier(id)) => id,
            Some(Pick::New { id, recorded }) => {
                if !request_key.is_empty()
                    && !recorded
                    && !self.record_pick(&role, request_key, &id).await?
                    && let Some(user) = self.earlier_pick(&role, request_key).await?
                {
                    // A concurrent call with the same key recorded its pick
                    // first: both answer with that one (this turn is skipped).
                    return Ok(user);
                }
                id
            }
            None => {
                // Nobody to pick. A key used before for another role is the
                // caller's mistake; an unknown role is NOT_FOUND (both
                // checked only here, off the path of every successful call).
                if !request_key.is_empty() {
                    self.earlier_pick(&role, request_key).await?;
                }
                ensure_roles_exist(conn, std::slice::from_ref(&role)).await?;
                return Err(AuthError::NoEligibleAssignee {
                    system: role.system,
                    role: role.role,
                });
            }
        };
        model::get_user(conn, &id).await
    }

    /// Records `id` as the pick of `request_key`; false when the key had a
    /// pick already.
    async fn record_pick(
        &self,
        role: &RoleRef,
        request_key: &str,
        id: &str,
    ) -> Result<bool, AuthError> {
        let conn = self.db.conn();
        let recorded = conn
            .execute_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                RECORD_PICK,
                [
                    request_key.into(),
                    role.system.clone().into(),
                    role.role.clone().into(),
                    id.into(),
                    self.now().into(),
                ],
            ))
            .await?;
        Ok(recorded.rows_affected() == 1)
    }

    /// PostgreSQL: one statement finds the key's earlier pick (if its user
    /// still holds the role), or takes the role's next turn, picks the
    /// holder at its place and records the pick — one round trip instead
    /// of four.
    async fn pick_by_sequence(
        &self,
        role: &RoleRef,
        request_key: &str,
    ) -> Result<Option<Pick>, AuthError> {
        let conn = self.db.conn();
        let Some(sequence) = sequence_name(role) else {
            // Not a name a role can have: nobody holds it.
            return Ok(None);
        };
        let args = || -> [Value; 5] {
            [
                role.system.clone().into(),
                role.role.clone().into(),
                request_key.into(),
                sequence.clone().into(),
                self.now().into(),
            ]
        };
        let run = || async {
            conn.query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                PICK,
                args(),
            ))
            .await
        };
        let row = match run().await {
            Ok(row) => row,
            // The role's first turn ever: make its sequence (racing callers
            // both succeed with IF NOT EXISTS, or one retries below).
            Err(_) => {
                let create = format!("CREATE SEQUENCE IF NOT EXISTS {sequence} MINVALUE 0 START 0");
                if let Err(e) = conn.execute_unprepared(&create).await {
                    tracing::debug!(error = %e, "sequence made concurrently");
                }
                run().await?
            }
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let id: String = row.try_get_by_index(0)?;
        let kind: String = row.try_get_by_index(1)?;
        Ok(Some(match kind.as_str() {
            "earlier" => Pick::Earlier(id),
            "recorded" => Pick::New { id, recorded: true },
            _ => Pick::New {
                id,
                recorded: false,
            },
        }))
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
