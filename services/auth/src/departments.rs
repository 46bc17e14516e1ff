//! Departments: the organisation's units that users belong to (a user's
//! `department` is a department's code). Auth owns them; other systems
//! mirror them from `auth.department.*` events (each carries the whole
//! department and its version) and validate codes against their copy.
//!
//! Every change increments the department's version and enqueues its event
//! in the same write transaction; a request that changes nothing enqueues
//! nothing.

use map_contracts::events::v1 as ev;
use map_kit::{
    System, Violations,
    authn::Principal,
    outbox::NewEvent,
    paging::PageSize,
    wire::{
        etag::{self, check_etag},
        time::timestamp,
    },
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait,
    DatabaseTransaction, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use crate::{Auth, AuthError, entity::departments, error::taken_or_db, users::checks::finish};

/// Longest department name.
pub const MAX_NAME: usize = 200;
/// Longest code of a new department.
pub const MAX_CODE: usize = 32;

/// A department.
pub type Department = departments::Model;

/// What UpdateDepartment may change.
#[derive(Debug, Clone, Default)]
pub struct DepartmentPatch {
    /// New name.
    pub name: Option<String>,
    /// New active flag.
    pub active: Option<bool>,
}

/// Whether `code` is a valid code for a new department: 1 to 32 upper-case
/// letters, digits and underscores, starting with a letter (`IT`, `HR_OPS`).
pub fn valid_code(code: &str) -> bool {
    (1..=MAX_CODE).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The event payload's snapshot of a department.
pub fn snapshot(d: &Department) -> ev::DepartmentSnapshot {
    ev::DepartmentSnapshot {
        code: d.code.clone(),
        name: d.name.clone(),
        active: d.active,
        version: d.version,
        create_time: Some(timestamp(d.created_at)),
        update_time: Some(timestamp(d.updated_at)),
    }
}

/// INVALID_ARGUMENT naming `field` unless `code` is empty (no department)
/// or an active department's code: users are only put in departments that
/// exist and are in use.
pub(crate) async fn ensure_usable<C: ConnectionTrait>(
    conn: &C,
    field: &str,
    code: &str,
) -> Result<(), AuthError> {
    if code.is_empty() {
        return Ok(());
    }
    match departments::Entity::find_by_id(code.to_owned())
        .one(conn)
        .await?
    {
        Some(d) if d.active => Ok(()),
        Some(_) => Err(AuthError::invalid(field, "names a deactivated department")),
        None => Err(AuthError::invalid(field, "is not a known department code")),
    }
}

fn actor_id(actor: Option<&Principal>) -> String {
    actor.map(|p| p.id.clone()).unwrap_or_default()
}

impl Auth {
    /// Creates a department (DepartmentService.CreateDepartment). Emits
    /// `auth.department.created`.
    pub async fn create_department(
        &self,
        actor: Option<&Principal>,
        code: &str,
        name: &str,
    ) -> Result<Department, AuthError> {
        let mut v = Violations::default();
        v.check(
            valid_code(code),
            "department.code",
            "must be 1 to 32 upper-case letters, digits or underscores, starting with a letter",
        );
        v.text("department.name", name, MAX_NAME);
        finish(v)?;
        let txn = self.db.begin_write().await?;
        if departments::Entity::find_by_id(code.to_owned())
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(AuthError::DepartmentExists);
        }
        let now = self.now();
        let row = departments::ActiveModel {
            code: Set(code.to_owned()),
            name: Set(name.trim().to_owned()),
            active: Set(true),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(taken_or_db(AuthError::DepartmentExists))?;
        let payload = ev::AuthDepartmentCreated {
            department: Some(snapshot(&row)),
            actor_user_id: actor_id(actor),
        };
        self.enqueue_department(&txn, "auth.department.created", &row, &payload)
            .await?;
        txn.commit().await?;
        tracing::info!(department = %row.code, "department created");
        Ok(row)
    }

    /// One department by code (DepartmentService.GetDepartment).
    pub async fn get_department(&self, code: &str) -> Result<Department, AuthError> {
        let mut v = Violations::default();
        v.text("code", code, departments_code_width());
        finish(v)?;
        departments::Entity::find_by_id(code.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or(AuthError::NotFound("department"))
    }

    /// One page of departments by code (DepartmentService.ListDepartments).
    pub async fn list_departments(
        &self,
        show_inactive: bool,
        order_by: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Department>, String), AuthError> {
        let size = PageSize::parse(page_size)?;
        if !matches!(order_by.trim(), "" | "code" | "code asc") {
            return Err(AuthError::invalid("order_by", "only \"code\" is supported"));
        }
        let filters = show_inactive;
        let after: Option<String> = self.pager().open("departments", &filters, page_token)?;
        let mut q = departments::Entity::find().order_by_asc(departments::Column::Code);
        if let Some(last) = after {
            q = q.filter(departments::Column::Code.gt(last));
        }
        if !show_inactive {
            q = q.filter(departments::Column::Active.eq(true));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        Ok(self
            .pager()
            .page("departments", &filters, rows, size, |d| d.code.clone()))
    }

    /// Renames, deactivates or reactivates a department
    /// (DepartmentService.UpdateDepartment). `etag` must be the department's
    /// current one. Emits `auth.department.updated` when something changed.
    pub async fn update_department(
        &self,
        actor: Option<&Principal>,
        code: &str,
        etag: &str,
        patch: DepartmentPatch,
    ) -> Result<Department, AuthError> {
        let mut v = Violations::default();
        v.text("department.code", code, departments_code_width());
        if let Some(name) = &patch.name {
            v.text("department.name", name, MAX_NAME);
        }
        if etag.is_empty() {
            v.add("department.etag", "is required (the etag you read)");
        }
        finish(v)?;
        let txn = self.db.begin_write().await?;
        let row = departments::Entity::find_by_id(code.to_owned())
            .one(&txn)
            .await?
            .ok_or(AuthError::NotFound("department"))?;
        check_etag(System::Auth, "department.etag", etag, row.version)?;
        let mut changed = Vec::new();
        let mut update = departments::ActiveModel {
            code: Set(row.code.clone()),
            ..Default::default()
        };
        if let Some(name) = patch.name.map(|n| n.trim().to_owned())
            && name != row.name
        {
            update.name = Set(name);
            changed.push("name");
        }
        if let Some(active) = patch.active
            && active != row.active
        {
            update.active = Set(active);
            changed.push("active");
        }
        if changed.is_empty() {
            return Ok(row);
        }
        update.version = Set(row.version + 1);
        update.updated_at = Set(self.now());
        // Only the version read above may be replaced: a concurrent writer
        // that got there first makes this match nothing.
        let result = departments::Entity::update_many()
            .set(update)
            .filter(departments::Column::Code.eq(row.code.clone()))
            .filter(departments::Column::Version.eq(row.version))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            return Err(etag::mismatch(System::Auth).into());
        }
        let updated = departments::Entity::find_by_id(row.code.clone())
            .one(&txn)
            .await?
            .ok_or(AuthError::NotFound("department"))?;
        let payload = ev::AuthDepartmentUpdated {
            department: Some(snapshot(&updated)),
            changed_fields: changed.iter().map(|f| (*f).to_owned()).collect(),
            actor_user_id: actor_id(actor),
        };
        self.enqueue_department(&txn, "auth.department.updated", &updated, &payload)
            .await?;
        txn.commit().await?;
        tracing::info!(department = %updated.code, ?changed, "department updated");
        Ok(updated)
    }

    async fn enqueue_department(
        &self,
        txn: &DatabaseTransaction,
        event_type: &'static str,
        department: &Department,
        payload: &impl prost::Name,
    ) -> Result<(), AuthError> {
        self.outbox
            .enqueue(
                txn,
                NewEvent::new(
                    event_type,
                    department.code.clone(),
                    department.version,
                    payload,
                ),
            )
            .await?;
        Ok(())
    }
}

/// The widest code stored (backfilled codes may be as wide as a user's
/// department field).
fn departments_code_width() -> usize {
    crate::users::checks::MAX_DEPARTMENT
}

#[cfg(test)]
mod tests {
    use super::valid_code;

    #[test]
    fn codes_follow_the_pattern() {
        for ok in ["IT", "HR_OPS", "D2"] {
            assert!(valid_code(ok), "{ok}");
        }
        for bad in ["", "it", "2D", "_IT", "I-T", "I T", &"A".repeat(33)] {
            assert!(!valid_code(bad), "{bad}");
        }
    }
}
