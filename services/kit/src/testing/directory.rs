//! A system's local directory filled by hand, for its own suites: the
//! departments and people a test needs, as if Auth's events had brought them.

use sea_orm::{ActiveModelTrait as _, ActiveValue::Set};

use super::Caller;
use crate::{
    db::Db,
    directory::entity::{departments, user_roles, users},
};

/// An active department `code` (named as its code), version 1.
///
/// # Panics
/// When the row cannot be written.
pub async fn add_department(db: &Db, code: &str) {
    departments::ActiveModel {
        code: Set(code.into()),
        name: Set(code.into()),
        active: Set(true),
        version: Set(1),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(db.conn())
    .await
    .expect("a directory department");
}

/// `caller`'s person, active, in `department`, named `name`, holding the
/// roles of the caller's principal, version 1.
///
/// # Panics
/// When the caller has no principal or the rows cannot be written.
pub async fn add_person(db: &Db, caller: &Caller, department: &str, name: &str) {
    let p = caller
        .principal
        .as_ref()
        .expect("a caller with a principal");
    users::ActiveModel {
        id: Set(p.id.clone()),
        email: Set(format!("{}@example.com", p.id)),
        display_name: Set(name.into()),
        department_code: Set(department.into()),
        active: Set(true),
        version: Set(1),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(db.conn())
    .await
    .expect("a directory user");
    for r in &p.roles {
        user_roles::ActiveModel {
            user_id: Set(p.id.clone()),
            system: Set(r.system.clone()),
            role: Set(r.role.clone()),
        }
        .insert(db.conn())
        .await
        .expect("a directory role");
    }
}
