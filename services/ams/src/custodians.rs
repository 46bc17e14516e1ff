//! Custodians Auth deactivates: the directory's reaction flags every asset
//! checked out to them (`holder_deactivated`) in the transaction that
//! applies the change, so ListAssets' `holder_deactivated_only` finds what
//! to recover. Each flagged asset's version moves; a reactivated user's
//! assets stay flagged until they are checked in (someone must look).

use map_kit::{
    bus::{Event, HandlerError},
    directory::{Reaction, UserChange},
};
use sea_orm::{
    ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _,
    sea_query::{Expr, ExprTrait as _},
};

use crate::{assets::Status, entity::assets};

/// The reaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlagDeactivatedHolders;

#[async_trait::async_trait]
impl Reaction for FlagDeactivatedHolders {
    async fn user_changed(
        &self,
        _event: &Event,
        change: &UserChange,
        txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError> {
        if !change.deactivated() {
            return Ok(());
        }
        let flagged = assets::Entity::update_many()
            .col_expr(assets::Column::HolderDeactivated, Expr::value(true))
            .col_expr(
                assets::Column::Version,
                Expr::col(assets::Column::Version).add(1),
            )
            .filter(assets::Column::HolderUserId.eq(change.after.id.clone()))
            .filter(assets::Column::Status.eq(Status::CheckedOut.as_str()))
            .filter(assets::Column::HolderDeactivated.eq(false))
            .exec(txn)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        if flagged.rows_affected > 0 {
            tracing::warn!(
                user_id = %change.after.id,
                assets = flagged.rows_affected,
                "assets held by a deactivated user flagged for recovery"
            );
        }
        Ok(())
    }
}
