//! The directory's writes: a user or department replaced by a description
//! only when that is newer (events) or at least as new (reconcile), the
//! sweep of what Auth no longer lists, and the full-sync milestone.
//!
//! The version check is in the statement itself (`INSERT … ON CONFLICT DO
//! UPDATE … WHERE held.version < new.version`), so two consumers applying
//! versions of one user at once cannot let the older one win: on PostgreSQL
//! the second waits for the first's row lock and re-checks, on SQLite write
//! transactions are serial.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _,
    sea_query::{Expr, ExprTrait as _, OnConflict, Query},
};

use super::{
    entity::{FULL_SYNC, departments, state, user_roles, users},
    model::{Department, DirectoryUser},
};

/// Most values in one `IN (…)` list or multi-row insert, well inside both
/// databases' bind-parameter limits.
pub(crate) const CHUNK: usize = 500;

/// Which held versions a write may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    /// Only older ones: an event's snapshot.
    Older,
    /// Older ones and the same version (whose row drifted): a reconcile.
    OlderOrSame,
}

impl Replace {
    fn condition(self, held: Expr) -> Expr {
        let incoming = Expr::cust("excluded.version");
        match self {
            Replace::Older => held.lt(incoming),
            Replace::OlderOrSame => held.lte(incoming),
        }
    }
}

/// Writes `user` (and replaces its roles) unless the directory holds a
/// version `rule` keeps. Returns whether it was written.
pub(crate) async fn put_user<C: ConnectionTrait>(
    conn: &C,
    user: &DirectoryUser,
    rule: Replace,
) -> Result<bool, DbErr> {
    use users::Column as C;
    let mut upsert = Query::insert();
    upsert
        .into_table(users::Entity)
        .columns([
            C::Id,
            C::Email,
            C::DisplayName,
            C::DepartmentCode,
            C::Active,
            C::Version,
            C::UpdatedAt,
        ])
        .values_panic([
            user.id.clone().into(),
            user.email.clone().into(),
            user.display_name.clone().into(),
            user.department_code.clone().into(),
            user.active.into(),
            user.version.into(),
            user.updated_at.into(),
        ])
        .on_conflict(
            OnConflict::column(C::Id)
                .update_columns([
                    C::Email,
                    C::DisplayName,
                    C::DepartmentCode,
                    C::Active,
                    C::Version,
                    C::UpdatedAt,
                ])
                .action_and_where(rule.condition(Expr::col((users::Entity, C::Version))))
                .to_owned(),
        )
        .returning_col(C::Id);
    if conn.query_all(&upsert).await?.is_empty() {
        return Ok(false);
    }
    user_roles::Entity::delete_many()
        .filter(user_roles::Column::UserId.eq(user.id.clone()))
        .exec(conn)
        .await?;
    if !user.roles.is_empty() {
        let mut insert = Query::insert();
        insert.into_table(user_roles::Entity).columns([
            user_roles::Column::UserId,
            user_roles::Column::System,
            user_roles::Column::Role,
        ]);
        for r in &user.roles {
            insert.values_panic([
                user.id.clone().into(),
                r.system.clone().into(),
                r.role.clone().into(),
            ]);
        }
        conn.execute(&insert).await?;
    }
    Ok(true)
}

/// Writes `department` unless the directory holds a version `rule` keeps.
/// Returns whether it was written.
pub(crate) async fn put_department<C: ConnectionTrait>(
    conn: &C,
    department: &Department,
    rule: Replace,
) -> Result<bool, DbErr> {
    use departments::Column as C;
    let mut upsert = Query::insert();
    upsert
        .into_table(departments::Entity)
        .columns([C::Code, C::Name, C::Active, C::Version, C::UpdatedAt])
        .values_panic([
            department.code.clone().into(),
            department.name.clone().into(),
            department.active.into(),
            department.version.into(),
            department.updated_at.into(),
        ])
        .on_conflict(
            OnConflict::column(C::Code)
                .update_columns([C::Name, C::Active, C::Version, C::UpdatedAt])
                .action_and_where(rule.condition(Expr::col((departments::Entity, C::Version))))
                .to_owned(),
        )
        .returning_col(C::Code);
    Ok(!conn.query_all(&upsert).await?.is_empty())
}

/// Marks the users `ids` inactive, their version unchanged (so Auth's next
/// description of them, even at that version, repairs the row). Returns how
/// many were active.
pub(crate) async fn deactivate_users<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<u64, DbErr> {
    let mut changed = 0;
    for chunk in ids.chunks(CHUNK) {
        changed += users::Entity::update_many()
            .col_expr(users::Column::Active, Expr::value(false))
            .filter(users::Column::Id.is_in(chunk.iter().cloned()))
            .filter(users::Column::Active.eq(true))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(changed)
}

/// Like [`deactivate_users`] for departments.
pub(crate) async fn deactivate_departments<C: ConnectionTrait>(
    conn: &C,
    codes: &[String],
) -> Result<u64, DbErr> {
    let mut changed = 0;
    for chunk in codes.chunks(CHUNK) {
        changed += departments::Entity::update_many()
            .col_expr(departments::Column::Active, Expr::value(false))
            .filter(departments::Column::Code.is_in(chunk.iter().cloned()))
            .filter(departments::Column::Active.eq(true))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(changed)
}

/// Records that the directory matched Auth completely at `at`.
pub(crate) async fn record_full_sync<C: ConnectionTrait>(
    conn: &C,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut upsert = Query::insert();
    upsert
        .into_table(state::Entity)
        .columns([state::Column::Name, state::Column::CompletedAt])
        .values_panic([FULL_SYNC.into(), at.into()])
        .on_conflict(
            OnConflict::column(state::Column::Name)
                .update_column(state::Column::CompletedAt)
                .to_owned(),
        );
    conn.execute(&upsert).await?;
    Ok(())
}

/// When the directory last matched Auth completely, if ever.
pub(crate) async fn last_full_sync<C: ConnectionTrait>(
    conn: &C,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(state::Entity::find_by_id(FULL_SYNC.to_owned())
        .one(conn)
        .await?
        .map(|s| s.completed_at))
}
