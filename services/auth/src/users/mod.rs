//! Users: the administrator's changes (create, update, deactivate,
//! reactivate, grant and revoke roles) and the directory reads other systems
//! use (get, batch get, list).
//!
//! Every change increments the user's version and enqueues its
//! `auth.user.*` / `auth.role.*` event through the outbox in the same write
//! transaction, with that version as `subject_version`: the event exists if
//! and only if the change committed. A request that changes nothing
//! (idempotent repeats) leaves the version alone and enqueues nothing.

use chrono::{DateTime, Utc};
use map_contracts::events::v1 as ev;
use map_kit::{
    Violations,
    authn::{Principal, RoleRef},
    outbox::NewEvent,
    paging::PageSize,
};
use sea_orm::{
    ActiveModelTrait as _,
    ActiveValue::Set,
    ColumnTrait as _, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Statement,
    sea_query::{Expr, ExprTrait as _, Query},
};
use secrecy::SecretString;

use crate::{
    Auth, AuthError, departments,
    entity::{roles, sessions, user_roles, users},
    error::taken_or_db,
    secrets,
};

pub mod checks;
pub mod model;

use checks::{
    MAX_DEPARTMENT, MAX_DISPLAY_NAME, MAX_EMAIL, check_new_password, check_role_ref, finish,
    normalize_email,
};
use model::{User, event_role};

/// The role every new user gets when none is given.
pub const DEFAULT_ROLE: (&str, &str) = ("hdts", "employee");
/// The administrator role.
pub const ADMIN_ROLE: (&str, &str) = ("auth", "admin");
/// Most ids in one BatchGetUserInfo.
pub const MAX_BATCH: usize = 500;

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in email.
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// Department code; may be empty.
    pub department: String,
    /// Initial password; `None` to generate one.
    pub password: Option<SecretString>,
    /// Initial roles; empty for `hdts:employee`.
    pub roles: Vec<RoleRef>,
}

/// A created user, and its generated password when none was given.
#[derive(Debug)]
pub struct CreatedUser {
    /// The user, version 1.
    pub user: User,
    /// Shown once; never stored in clear or logged.
    pub generated_password: Option<SecretString>,
}

/// Fields to change; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New email.
    pub email: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// New department.
    pub department: Option<String>,
}

/// Filters of ListUsers.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only holders of a role of this system.
    pub system: String,
    /// Only holders of this role of `system`.
    pub role: String,
    /// Only active (true) or only deactivated (false) users.
    pub active: Option<bool>,
}

fn check_display_name(v: &mut Violations, name: &str) {
    v.text("display_name", name, MAX_DISPLAY_NAME);
}

fn check_department(v: &mut Violations, department: &str) {
    v.check(
        department.chars().count() <= MAX_DEPARTMENT,
        "department",
        format!("must be at most {MAX_DEPARTMENT} characters"),
    );
}

/// NOT_FOUND unless every role exists.
pub(crate) async fn ensure_roles_exist<C: ConnectionTrait>(
    conn: &C,
    wanted: &[RoleRef],
) -> Result<(), AuthError> {
    for r in wanted {
        let found = roles::Entity::find_by_id((r.system.clone(), r.role.clone()))
            .one(conn)
            .await?;
        if found.is_none() {
            return Err(AuthError::NotFound("role"));
        }
    }
    Ok(())
}

/// On PostgreSQL, serialises changes that could remove the last active
/// administrator by locking the `auth:admin` role row (SQLite's write
/// transactions are serial already).
async fn lock_admin_role(txn: &DatabaseTransaction) -> Result<(), AuthError> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT 1 FROM roles WHERE system = 'auth' AND role = 'admin' FOR UPDATE",
        ))
        .await?;
    }
    Ok(())
}

/// Active holders of `auth:admin` other than `except`.
async fn other_active_admins(txn: &DatabaseTransaction, except: &str) -> Result<u64, AuthError> {
    let holders = Query::select()
        .column(user_roles::Column::UserId)
        .from(user_roles::Entity)
        .and_where(user_roles::Column::System.eq(ADMIN_ROLE.0))
        .and_where(user_roles::Column::Role.eq(ADMIN_ROLE.1))
        .to_owned();
    Ok(users::Entity::find()
        .filter(users::Column::Active.eq(true))
        .filter(users::Column::Id.ne(except))
        .filter(users::Column::Id.in_subquery(holders))
        .count(txn)
        .await?)
}

/// Increments the user's version if it is still `version`; ABORTED
/// (VERSION_MISMATCH) when a concurrent change won.
async fn bump_version(
    txn: &DatabaseTransaction,
    id: &str,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let done = users::Entity::update_many()
        .col_expr(
            users::Column::Version,
            Expr::col(users::Column::Version).add(1),
        )
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id))
        .filter(users::Column::Version.eq(version))
        .exec(txn)
        .await?;
    if done.rows_affected == 1 {
        Ok(())
    } else {
        Err(AuthError::VersionMismatch)
    }
}

/// Revokes every open session of a user, optionally but one, as of `now`.
pub(crate) async fn revoke_sessions<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    except: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64, AuthError> {
    let mut q = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Some(now)))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(keep) = except {
        q = q.filter(sessions::Column::Id.ne(keep));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// The acting user's id for events; empty when the system itself acts
/// (bootstrap, tests).
fn actor_id(actor: Option<&Principal>) -> String {
    actor.map(|p| p.id.clone()).unwrap_or_default()
}

impl Auth {
    async fn enqueue(
        &self,
        txn: &DatabaseTransaction,
        event_type: &'static str,
        user: &User,
        payload: &impl prost::Name,
    ) -> Result<(), AuthError> {
        self.outbox
            .enqueue(
                txn,
                NewEvent::new(event_type, user.id.clone(), user.version, payload),
            )
            .await?;
        Ok(())
    }

    /// The end of every change to an existing user: the user as it now is,
    /// its event (built from that snapshot) in the outbox, the commit.
    async fn commit_user_change<P: prost::Name>(
        &self,
        txn: DatabaseTransaction,
        id: &str,
        event_type: &'static str,
        payload: impl FnOnce(ev::UserSnapshot) -> P,
    ) -> Result<User, AuthError> {
        let user = model::get_user(&txn, id).await?;
        let payload = payload(user.snapshot());
        self.enqueue(&txn, event_type, &user, &payload).await?;
        txn.commit().await?;
        Ok(user)
    }

    /// Creates a user (AdminService.CreateUser, `map admin bootstrap`).
    /// Emits `auth.user.created`.
    pub async fn create_user(
        &self,
        actor: Option<&Principal>,
        new: NewUser,
    ) -> Result<CreatedUser, AuthError> {
        let mut v = Violations::default();
        v.email("email", &new.email, MAX_EMAIL);
        check_display_name(&mut v, &new.display_name);
        check_department(&mut v, &new.department);
        if let Some(p) = &new.password {
            check_new_password(&mut v, "password", secrecy::ExposeSecret::expose_secret(p));
        }
        for (i, r) in new.roles.iter().enumerate() {
            check_role_ref(&mut v, &format!("roles[{i}]"), r);
        }
        finish(v)?;
        let mut wanted = new.roles.clone();
        if wanted.is_empty() {
            wanted.push(RoleRef {
                system: DEFAULT_ROLE.0.into(),
                role: DEFAULT_ROLE.1.into(),
            });
        }
        wanted.sort();
        wanted.dedup();
        let (password, generated) = match new.password {
            Some(p) => (p, None),
            None => {
                let p = SecretString::from(secrets::generate_password());
                (p.clone(), Some(p))
            }
        };
        let hash = self.passwords.hash(&password).await?;

        let txn = self.db.begin_write().await?;
        ensure_roles_exist(&txn, &wanted).await?;
        departments::ensure_usable(&txn, "department", new.department.trim()).await?;
        let email = new.email.trim().to_owned();
        let normalized = normalize_email(&email);
        let taken = users::Entity::find()
            .filter(users::Column::EmailNormalized.eq(normalized.clone()))
            .count(&txn)
            .await?;
        if taken > 0 {
            return Err(AuthError::EmailTaken);
        }
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let row = users::ActiveModel {
            id: Set(id.clone()),
            email: Set(email),
            email_normalized: Set(normalized),
            display_name: Set(new.display_name.trim().to_owned()),
            department: Set(new.department.trim().to_owned()),
            active: Set(true),
            password_hash: Set(hash),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(taken_or_db(AuthError::EmailTaken))?;
        for r in &wanted {
            user_roles::ActiveModel {
                user_id: Set(id.clone()),
                system: Set(r.system.clone()),
                role: Set(r.role.clone()),
                granted_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        let user = User::from_row(row, wanted);
        let payload = ev::AuthUserCreated {
            user: Some(user.snapshot()),
            actor_user_id: actor_id(actor),
        };
        self.enqueue(&txn, "auth.user.created", &user, &payload)
            .await?;
        txn.commit().await?;
        tracing::info!(user_id = %user.id, "user created");
        Ok(CreatedUser {
            user,
            generated_password: generated,
        })
    }

    /// Changes a user's email, display name or department
    /// (AdminService.UpdateUser). `expected_version` 0 means any.
    /// Emits `auth.user.updated` when something changed.
    pub async fn update_user(
        &self,
        actor: Option<&Principal>,
        id: &str,
        expected_version: i64,
        patch: UserPatch,
    ) -> Result<User, AuthError> {
        let mut v = Violations::default();
        v.uuid("user.id", id);
        if let Some(e) = &patch.email {
            v.email("user.email", e, MAX_EMAIL);
        }
        if let Some(n) = &patch.display_name {
            v.text("user.display_name", n, MAX_DISPLAY_NAME);
        }
        if let Some(d) = &patch.department {
            v.check(
                d.chars().count() <= MAX_DEPARTMENT,
                "user.department",
                format!("must be at most {MAX_DEPARTMENT} characters"),
            );
        }
        finish(v)?;

        let txn = self.db.begin_write().await?;
        let row = users::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or(AuthError::NotFound("user"))?;
        if expected_version != 0 && expected_version != row.version {
            return Err(AuthError::VersionMismatch);
        }
        let mut changed = Vec::new();
        let mut update = users::ActiveModel {
            id: Set(row.id.clone()),
            ..Default::default()
        };
        if let Some(email) = patch.email.map(|e| e.trim().to_owned())
            && email != row.email
        {
            let normalized = normalize_email(&email);
            if normalized != row.email_normalized {
                let taken = users::Entity::find()
                    .filter(users::Column::EmailNormalized.eq(normalized.clone()))
                    .count(&txn)
                    .await?;
                if taken > 0 {
                    return Err(AuthError::EmailTaken);
                }
            }
            update.email = Set(email);
            update.email_normalized = Set(normalized);
            changed.push("email");
        }
        if let Some(name) = patch.display_name.map(|n| n.trim().to_owned())
            && name != row.display_name
        {
            update.display_name = Set(name);
            changed.push("display_name");
        }
        if let Some(dept) = patch.department.map(|d| d.trim().to_owned())
            && dept != row.department
        {
            departments::ensure_usable(&txn, "user.department", &dept).await?;
            update.department = Set(dept);
            changed.push("department");
        }
        if changed.is_empty() {
            return model::get_user(&txn, id).await;
        }
        bump_version(&txn, id, row.version, self.now()).await?;
        update
            .update(&txn)
            .await
            .map_err(taken_or_db(AuthError::EmailTaken))?;
        self.commit_user_change(txn, id, "auth.user.updated", |user| ev::AuthUserUpdated {
            user: Some(user),
            changed_fields: changed.iter().map(|s| (*s).to_owned()).collect(),
            actor_user_id: actor_id(actor),
        })
        .await
    }

    /// Deactivates a user and revokes all their sessions
    /// (AdminService.DeactivateUser). Emits `auth.user.deactivated`.
    pub async fn deactivate_user(
        &self,
        actor: Option<&Principal>,
        id: &str,
    ) -> Result<User, AuthError> {
        let mut v = Violations::default();
        v.uuid("user_id", id);
        finish(v)?;
        let txn = self.db.begin_write().await?;
        lock_admin_role(&txn).await?;
        let user = model::get_user(&txn, id).await?;
        if !user.active {
            return Ok(user);
        }
        if user.holds(ADMIN_ROLE.0, ADMIN_ROLE.1) && other_active_admins(&txn, id).await? == 0 {
            return Err(AuthError::LastAdmin);
        }
        bump_version(&txn, id, user.version, self.now()).await?;
        users::ActiveModel {
            id: Set(id.to_owned()),
            active: Set(false),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let revoked = revoke_sessions(&txn, id, None, self.now()).await?;
        let user = self
            .commit_user_change(txn, id, "auth.user.deactivated", |user| {
                ev::AuthUserDeactivated {
                    user: Some(user),
                    actor_user_id: actor_id(actor),
                }
            })
            .await?;
        self.cache.invalidate_all();
        tracing::info!(user_id = %id, sessions = revoked, "user deactivated");
        Ok(user)
    }

    /// Reactivates a user with their roles (AdminService.ReactivateUser).
    /// Emits `auth.user.updated` with changed field `active`.
    pub async fn reactivate_user(
        &self,
        actor: Option<&Principal>,
        id: &str,
    ) -> Result<User, AuthError> {
        let mut v = Violations::default();
        v.uuid("user_id", id);
        finish(v)?;
        let txn = self.db.begin_write().await?;
        let user = model::get_user(&txn, id).await?;
        if user.active {
            return Ok(user);
        }
        bump_version(&txn, id, user.version, self.now()).await?;
        users::ActiveModel {
            id: Set(id.to_owned()),
            active: Set(true),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        self.commit_user_change(txn, id, "auth.user.updated", |user| ev::AuthUserUpdated {
            user: Some(user),
            changed_fields: vec!["active".into()],
            actor_user_id: actor_id(actor),
        })
        .await
    }

    /// Grants a role (AdminService.GrantRole). Emits `auth.role.granted`.
    pub async fn grant_role(
        &self,
        actor: Option<&Principal>,
        id: &str,
        role: RoleRef,
    ) -> Result<User, AuthError> {
        let mut v = Violations::default();
        v.uuid("user_id", id);
        check_role_ref(&mut v, "role", &role);
        finish(v)?;
        let txn = self.db.begin_write().await?;
        let user = model::get_user(&txn, id).await?;
        ensure_roles_exist(&txn, std::slice::from_ref(&role)).await?;
        if user.holds(&role.system, &role.role) {
            return Ok(user);
        }
        bump_version(&txn, id, user.version, self.now()).await?;
        user_roles::ActiveModel {
            user_id: Set(id.to_owned()),
            system: Set(role.system.clone()),
            role: Set(role.role.clone()),
            granted_at: Set(self.now()),
        }
        .insert(&txn)
        .await?;
        let user = self
            .commit_user_change(txn, id, "auth.role.granted", |user| ev::AuthRoleGranted {
                user: Some(user),
                role: Some(event_role(&role)),
                actor_user_id: actor_id(actor),
            })
            .await?;
        self.cache.invalidate_all();
        Ok(user)
    }

    /// Revokes a role (AdminService.RevokeRole). Emits `auth.role.revoked`.
    pub async fn revoke_role(
        &self,
        actor: Option<&Principal>,
        id: &str,
        role: RoleRef,
    ) -> Result<User, AuthError> {
        let mut v = Violations::default();
        v.uuid("user_id", id);
        check_role_ref(&mut v, "role", &role);
        finish(v)?;
        let txn = self.db.begin_write().await?;
        lock_admin_role(&txn).await?;
        let user = model::get_user(&txn, id).await?;
        ensure_roles_exist(&txn, std::slice::from_ref(&role)).await?;
        if !user.holds(&role.system, &role.role) {
            return Ok(user);
        }
        let is_admin_role = role.system == ADMIN_ROLE.0 && role.role == ADMIN_ROLE.1;
        if is_admin_role && user.active && other_active_admins(&txn, id).await? == 0 {
            return Err(AuthError::LastAdmin);
        }
        bump_version(&txn, id, user.version, self.now()).await?;
        user_roles::Entity::delete_by_id((id.to_owned(), role.system.clone(), role.role.clone()))
            .exec(&txn)
            .await?;
        let user = self
            .commit_user_change(txn, id, "auth.role.revoked", |user| ev::AuthRoleRevoked {
                user: Some(user),
                role: Some(event_role(&role)),
                actor_user_id: actor_id(actor),
            })
            .await?;
        self.cache.invalidate_all();
        Ok(user)
    }

    /// One user, active or not (AuthService.GetUserInfo).
    pub async fn get_user(&self, id: &str) -> Result<User, AuthError> {
        let mut v = Violations::default();
        v.uuid("user_id", id);
        finish(v)?;
        model::get_user(self.db.conn(), id).await
    }

    /// Several users in request order (AuthService.BatchGetUserInfo); all or
    /// nothing.
    pub async fn batch_get_users(&self, ids: &[String]) -> Result<Vec<User>, AuthError> {
        let mut v = Violations::default();
        if ids.len() > MAX_BATCH {
            v.add("user_ids", format!("at most {MAX_BATCH} ids"));
        } else {
            for (i, id) in ids.iter().enumerate() {
                v.uuid(&format!("user_ids[{i}]"), id);
            }
        }
        finish(v)?;
        let mut distinct: Vec<String> = ids.to_vec();
        distinct.sort();
        distinct.dedup();
        let rows = users::Entity::find()
            .filter(users::Column::Id.is_in(distinct.clone()))
            .all(self.db.conn())
            .await?;
        let found: std::collections::HashMap<String, User> =
            model::with_roles(self.db.conn(), rows)
                .await?
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect();
        let missing: Vec<String> = distinct
            .into_iter()
            .filter(|id| !found.contains_key(id))
            .collect();
        if !missing.is_empty() {
            return Err(AuthError::UsersNotFound(missing));
        }
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }

    /// One page of users by id (AuthService.ListUsers); returns the page and
    /// the next page token (empty on the last page).
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<User>, String), AuthError> {
        let size = PageSize::parse(page_size)?;
        if !filter.role.is_empty() && filter.system.is_empty() {
            return Err(AuthError::invalid("role", "requires system"));
        }
        let filters = (&filter.system, &filter.role, filter.active);
        let after: Option<String> = self.pager().open("users", &filters, page_token)?;
        let mut q = users::Entity::find().order_by_asc(users::Column::Id);
        if let Some(last) = &after {
            q = q.filter(users::Column::Id.gt(last.clone()));
        }
        if let Some(active) = filter.active {
            q = q.filter(users::Column::Active.eq(active));
        }
        if !filter.system.is_empty() {
            let mut holders = Query::select()
                .column(user_roles::Column::UserId)
                .from(user_roles::Entity)
                .and_where(user_roles::Column::System.eq(filter.system.clone()))
                .to_owned();
            if !filter.role.is_empty() {
                holders.and_where(user_roles::Column::Role.eq(filter.role.clone()));
            }
            q = q.filter(users::Column::Id.in_subquery(holders));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        let (rows, next) = self
            .pager()
            .page("users", &filters, rows, size, |r| r.id.clone());
        Ok((model::with_roles(self.db.conn(), rows).await?, next))
    }
}
