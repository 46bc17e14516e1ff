//! What the systems read from their directory. Every function takes any
//! connection, so a handler can read inside its transaction.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    sea_query::Query,
};

use super::{
    entity::{departments, user_roles, users},
    model::{Department, DirectoryUser},
    store::CHUNK,
};
use crate::authn::RoleRef;

/// The user `id`, active or not; `None` when the directory does not know it.
pub async fn user<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Option<DirectoryUser>, DbErr> {
    Ok(users_by_ids(conn, &[id.to_owned()]).await?.pop())
}

/// The known users among `ids`, active or not, in the order of `ids` (a
/// repeated id once, an unknown one left out: compare lengths to find out).
pub async fn users_by_ids<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<Vec<DirectoryUser>, DbErr> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            users::Entity::find()
                .filter(users::Column::Id.is_in(chunk.iter().cloned()))
                .all(conn)
                .await?,
        );
    }
    let mut found: HashMap<String, DirectoryUser> = with_roles(conn, rows)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// The users holding `system:role`, ordered by id; only active ones when
/// `active_only`.
pub async fn holders<C: ConnectionTrait>(
    conn: &C,
    system: &str,
    role: &str,
    active_only: bool,
) -> Result<Vec<DirectoryUser>, DbErr> {
    let holding = Query::select()
        .column(user_roles::Column::UserId)
        .from(user_roles::Entity)
        .and_where(user_roles::Column::System.eq(system))
        .and_where(user_roles::Column::Role.eq(role))
        .to_owned();
    let mut q = users::Entity::find()
        .filter(users::Column::Id.in_subquery(holding))
        .order_by_asc(users::Column::Id);
    if active_only {
        q = q.filter(users::Column::Active.eq(true));
    }
    with_roles(conn, q.all(conn).await?).await
}

/// A user as events name them (`map.events.v1.UserRef`): from the
/// directory, or the id alone when it does not know them.
pub async fn user_ref<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<map_contracts::events::v1::UserRef, DbErr> {
    Ok(match user(conn, id).await? {
        Some(u) => map_contracts::events::v1::UserRef {
            user_id: u.id,
            display_name: u.display_name,
            email: u.email,
        },
        None => map_contracts::events::v1::UserRef {
            user_id: id.to_owned(),
            ..Default::default()
        },
    })
}

/// The department `code`, active or not.
pub async fn department<C: ConnectionTrait>(
    conn: &C,
    code: &str,
) -> Result<Option<Department>, DbErr> {
    departments::Entity::find_by_id(code.to_owned())
        .one(conn)
        .await
}

/// Whether `code` names a department that exists and is active: the check
/// before a new record is filed under it.
pub async fn department_is_active<C: ConnectionTrait>(conn: &C, code: &str) -> Result<bool, DbErr> {
    Ok(department(conn, code).await?.is_some_and(|d| d.active))
}

/// Every department, active or not, ordered by code.
pub async fn departments<C: ConnectionTrait>(conn: &C) -> Result<Vec<Department>, DbErr> {
    departments::Entity::find()
        .order_by_asc(departments::Column::Code)
        .all(conn)
        .await
}

/// `rows` with their roles, in the same order.
pub(crate) async fn with_roles<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<users::Model>,
) -> Result<Vec<DirectoryUser>, DbErr> {
    let mut roles: HashMap<String, Vec<RoleRef>> = HashMap::new();
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    for chunk in ids.chunks(CHUNK) {
        let held = user_roles::Entity::find()
            .filter(user_roles::Column::UserId.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        for r in held {
            roles.entry(r.user_id).or_default().push(RoleRef {
                system: r.system,
                role: r.role,
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let held = roles.remove(&row.id).unwrap_or_default();
            DirectoryUser::from_row(row, held)
        })
        .collect())
}
