//! Systems and roles: listing both, creating custom roles.

use map_kit::{
    Violations,
    paging::{self, PageSize},
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};

use crate::{
    Auth, AuthError,
    entity::{roles, systems},
    error::taken_or_db,
    users::checks::finish,
};

/// Longest role description.
pub const MAX_DESCRIPTION: usize = 1000;

/// Whether `name` is a valid role name: lower-case letters, digits and
/// underscores, starting with a letter, at most 63 characters.
pub fn valid_role_name(name: &str) -> bool {
    name.len() <= 63
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Auth {
    /// One page of systems by name (AdminService.ListSystems).
    pub async fn list_systems(
        &self,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<systems::Model>, String), AuthError> {
        let size = PageSize::parse(page_size)?;
        let after: Option<String> = self.pager().open("systems", &(), page_token)?;
        let mut q = systems::Entity::find().order_by_asc(systems::Column::Name);
        if let Some(last) = after {
            q = q.filter(systems::Column::Name.gt(last));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        Ok(self
            .pager()
            .page("systems", &(), rows, size, |r| r.name.clone()))
    }

    /// One page of roles by system then role (AdminService.ListRoles).
    pub async fn list_roles(
        &self,
        system: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<roles::Model>, String), AuthError> {
        let size = PageSize::parse(page_size)?;
        let after: Option<(String, String)> = self.pager().open("roles", &system, page_token)?;
        if !system.is_empty()
            && systems::Entity::find_by_id(system.to_owned())
                .one(self.db.conn())
                .await?
                .is_none()
        {
            return Err(AuthError::NotFound("system"));
        }
        let mut q = roles::Entity::find()
            .order_by_asc(roles::Column::System)
            .order_by_asc(roles::Column::Role);
        if !system.is_empty() {
            q = q.filter(roles::Column::System.eq(system));
        }
        if let Some((system, role)) = after {
            q = q.filter(paging::after(vec![
                (roles::Column::System, system.into()),
                (roles::Column::Role, role.into()),
            ]));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        Ok(self.pager().page("roles", &system, rows, size, |r| {
            (r.system.clone(), r.role.clone())
        }))
    }

    /// Creates a custom role (AdminService.CreateRole).
    pub async fn create_role(
        &self,
        system: &str,
        role: &str,
        description: &str,
    ) -> Result<roles::Model, AuthError> {
        let mut v = Violations::default();
        v.check(!system.is_empty(), "system", "is required");
        v.check(
            valid_role_name(role),
            "role",
            "must be lower-case letters, digits and underscores, starting with a letter, at most 63 characters",
        );
        v.check(
            description.chars().count() <= MAX_DESCRIPTION,
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        );
        finish(v)?;
        let txn = self.db.begin_write().await?;
        if systems::Entity::find_by_id(system.to_owned())
            .one(&txn)
            .await?
            .is_none()
        {
            return Err(AuthError::NotFound("system"));
        }
        if roles::Entity::find_by_id((system.to_owned(), role.to_owned()))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(AuthError::RoleExists);
        }
        let row = roles::ActiveModel {
            system: Set(system.to_owned()),
            role: Set(role.to_owned()),
            description: Set(description.to_owned()),
            builtin: Set(false),
            created_at: Set(self.now()),
        }
        .insert(&txn)
        .await
        .map_err(taken_or_db(AuthError::RoleExists))?;
        txn.commit().await?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::valid_role_name;

    #[test]
    fn role_names_follow_the_pattern() {
        for ok in ["agent", "finance_head", "l2_support"] {
            assert!(valid_role_name(ok), "{ok}");
        }
        for bad in ["", "Agent", "2nd", "_x", "a-b", &"a".repeat(64)] {
            assert!(!valid_role_name(bad), "{bad}");
        }
    }
}
