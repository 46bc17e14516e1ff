//! `approval_policies`: the approval policy of a proposal kind once it
//! was first changed (until then the default applies).

use sea_orm::entity::prelude::*;

/// A policy.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_policies")]
pub struct Model {
    /// The proposal kind it governs.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// Its levels, JSON.
    pub levels: String,
    /// Grows by one with every change; the default is version 1.
    pub version: i64,
    /// Who last changed it.
    pub updated_by_user_id: String,
    /// When last changed.
    pub updated_at: Option<ChronoDateTimeUtc>,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
