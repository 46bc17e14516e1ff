//! The first administrator, without default passwords: `map admin
//! bootstrap` (password from a file or the environment) and `map dev`
//! (a random password printed once).

use map_kit::authn::RoleRef;
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _, sea_query::Query,
};
use secrecy::SecretString;

use crate::{
    Auth, AuthError,
    entity::{user_roles, users},
    users::{ADMIN_ROLE, CreatedUser, DEFAULT_ROLE, NewUser},
};

impl Auth {
    /// Whether some active user holds `auth:admin`.
    pub async fn has_admin(&self) -> Result<bool, AuthError> {
        let holders = Query::select()
            .column(user_roles::Column::UserId)
            .from(user_roles::Entity)
            .and_where(user_roles::Column::System.eq(ADMIN_ROLE.0))
            .and_where(user_roles::Column::Role.eq(ADMIN_ROLE.1))
            .to_owned();
        let n = users::Entity::find()
            .filter(users::Column::Active.eq(true))
            .filter(users::Column::Id.in_subquery(holders))
            .count(self.db.conn())
            .await?;
        Ok(n > 0)
    }

    /// Creates the first administrator (`auth:admin` and `hdts:employee`).
    /// `password` `None` generates one, returned once. Refuses with
    /// [`AuthError::AlreadyBootstrapped`] when an active administrator exists.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        display_name: &str,
        password: Option<SecretString>,
    ) -> Result<CreatedUser, AuthError> {
        if self.has_admin().await? {
            return Err(AuthError::AlreadyBootstrapped);
        }
        let roles = [ADMIN_ROLE, DEFAULT_ROLE]
            .into_iter()
            .map(|(s, r)| RoleRef {
                system: s.into(),
                role: r.into(),
            })
            .collect();
        self.create_user(
            None,
            NewUser {
                email: email.to_owned(),
                display_name: display_name.to_owned(),
                department: String::new(),
                password,
                roles,
            },
        )
        .await
    }
}
