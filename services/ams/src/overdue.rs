//! `ams.asset.overdue`, once per overdue checkout: a checkout with an
//! expected return time schedules map-kit's timer (kind [`KIND`], subject
//! the asset, payload the checkout's ledger entry); a check-in, a loss or a
//! new checkout replaces or cancels it. When it fires, in the timer's own
//! transaction, the asset is read again: if that same checkout is still
//! open the event is enqueued with a new occurrence id, and the timer is
//! done — so two workers, a crash or a restart never emit it twice.

use map_contracts::events::v1 as ev;
use map_kit::{
    System,
    clock::Clock,
    outbox::{NewEvent, Outbox},
    timers::{FireError, Timer, TimerHandler},
    wire::time::timestamp,
};
use sea_orm::{ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _};

use crate::{
    assets::{Status, snapshot, user_ref},
    entity::{asset_transactions, assets},
};

/// The timers' kind.
pub const KIND: &str = "ams.asset.overdue";

/// The timer handler.
#[derive(Debug, Clone)]
pub struct Overdue {
    outbox: Outbox,
    clock: Clock,
}

impl Overdue {
    /// Stamping events with `clock`.
    pub fn new(clock: Clock) -> Overdue {
        Overdue {
            outbox: Outbox::new(System::Ams).with_clock(clock.clone()),
            clock,
        }
    }
}

#[async_trait::async_trait]
impl TimerHandler for Overdue {
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
        let checkout_id = String::from_utf8_lossy(&timer.payload).into_owned();
        let Some(asset) = assets::Entity::find_by_id(timer.subject.clone())
            .one(txn)
            .await?
        else {
            return Ok(());
        };
        let still_out = Status::parse(&asset.status) == Status::CheckedOut
            && asset.checkout_transaction_id.as_deref() == Some(checkout_id.as_str());
        let (Some(due), true) = (asset.expected_return_at, still_out) else {
            return Ok(());
        };
        let checkout = asset_transactions::Entity::find()
            .filter(asset_transactions::Column::Id.eq(checkout_id.clone()))
            .one(txn)
            .await?;
        let category = crate::categories::by_code(txn, &asset.category_code)
            .await
            .map(|c| c.name)
            .unwrap_or_default();
        let holder = match &asset.holder_user_id {
            Some(h) => Some(
                user_ref(txn, h)
                    .await
                    .map_err(|e| FireError::Retry(e.to_string()))?,
            ),
            None => None,
        };
        let payload = ev::AmsAssetOverdue {
            occurrence_id: uuid::Uuid::now_v7().to_string(),
            asset: Some(snapshot(&asset, &category, holder)),
            checkout_transaction_id: checkout_id,
            checkout_time: checkout.map(|c| timestamp(c.at)),
            due_time: Some(timestamp(due)),
            detect_time: Some(timestamp(self.clock.now())),
        };
        self.outbox
            .enqueue(
                txn,
                NewEvent::new(
                    "ams.asset.overdue",
                    asset.id.clone(),
                    asset.version,
                    &payload,
                ),
            )
            .await
            .map_err(|e| FireError::Retry(e.to_string()))?;
        tracing::info!(asset = %asset.number, "asset overdue");
        Ok(())
    }
}
