//! The directory's tables (the `directory` migration of every system but
//! Auth).

/// `directory_users`: one row per Auth user, as of its `version`.
pub mod users {
    use sea_orm::entity::prelude::*;

    /// A user as Auth last described it to this system.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_users")]
    pub struct Model {
        /// The Auth user id (UUIDv7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Sign-in email, as entered in Auth.
        pub email: String,
        /// Name shown to people.
        pub display_name: String,
        /// The user's department code; empty for none.
        pub department_code: String,
        /// False once deactivated in Auth (or, after a reconcile, unknown to it).
        pub active: bool,
        /// Auth's version of the user that this row holds.
        pub version: i64,
        /// Auth's `update_time` of that version.
        pub updated_at: ChronoDateTimeUtc,
    }

    /// No relations are declared: roles are read by id in one query.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_user_roles`: the roles a user holds, replaced as a whole with
/// each newer version of the user.
pub mod user_roles {
    use sea_orm::entity::prelude::*;

    /// One role of one user.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_user_roles")]
    pub struct Model {
        /// The user.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        /// The role's system, e.g. `tts`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub system: String,
        /// The role within the system, e.g. `agent`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub role: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_departments`: one row per Auth department.
pub mod departments {
    use sea_orm::entity::prelude::*;

    /// A department as Auth last described it to this system.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_departments")]
    pub struct Model {
        /// Immutable code, e.g. `IT`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        /// Name shown to people.
        pub name: String,
        /// False once deactivated: kept for history, not for new records.
        pub active: bool,
        /// Auth's version of the department that this row holds.
        pub version: i64,
        /// Auth's `update_time` of that version.
        pub updated_at: ChronoDateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_state`: when the directory last matched Auth as a whole.
pub mod state {
    use sea_orm::entity::prelude::*;

    /// One named milestone.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_state")]
    pub struct Model {
        /// The milestone; [`FULL_SYNC`](super::FULL_SYNC) is the only one.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// When it was last reached.
        pub completed_at: ChronoDateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The milestone of a complete pass through Auth's listings (a backfill or
/// a reconcile): after it, [`Directory::backfill_if_empty`](super::Directory::backfill_if_empty)
/// has nothing to do.
pub const FULL_SYNC: &str = "full_sync";
