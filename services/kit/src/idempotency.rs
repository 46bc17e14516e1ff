//! Requests made safe to retry by their client-generated `request_id`
//! (`CreateTicket`, `AddComment`, `PublishWorkflow`, …): the first answer
//! is kept in the system's `idempotent_requests` table, written in the same
//! transaction as the change it answers, so a retry — after a timeout, a
//! lost connection, a client crash — gets that answer again and changes
//! nothing; the same id with a different request is INVALID_ARGUMENT naming
//! `request_id`.
//!
//! A request is recognised by its method and a SHA-256 of its encoded
//! message (protobuf encoding is deterministic for one message value within
//! one build, which is what a retry sends).
//!
//! ```no_run
//! # use map_kit::{ApiError, System, idempotency::Idempotent};
//! # async fn example(db: &map_kit::db::Db, request: prost_types::Duration) -> Result<(), ApiError> {
//! let key = Idempotent::new(System::Tts, "request_id", "00000000-0000-7000-8000-000000000000",
//!     "map.tts.v1.WorkflowService/CreateWorkflow", &request)?;
//! let txn = db.begin_write().await?;
//! if let Some(answer) = key.replay::<prost_types::Duration, _>(&txn).await? {
//!     return Ok(()); // the first answer, `answer`, is returned again
//! }
//! // … the change, in `txn` …
//! let response = prost_types::Duration::default();
//! key.record(&txn, &response, chrono::Utc::now()).await?;
//! txn.commit().await?;
//! # Ok(()) }
//! ```

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseTransaction, EntityTrait as _};
use sha2::{Digest as _, Sha256};

use crate::{ApiError, System, Violations};

/// The `idempotent_requests` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One answered request.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotent_requests")]
    pub struct Model {
        /// The client's request id (a UUID).
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        /// The full method name it was sent to.
        pub method: String,
        /// SHA-256 (hex) of the encoded request.
        pub fingerprint: String,
        /// The encoded response first sent.
        pub response: Vec<u8>,
        /// When it was answered.
        pub created_at: ChronoDateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A request with its `request_id`, checked for replay and recorded with
/// its answer.
#[derive(Debug, Clone)]
pub struct Idempotent {
    system: System,
    field: String,
    request_id: String,
    method: &'static str,
    fingerprint: String,
}

impl Idempotent {
    /// The request `message` sent to `system`'s `method` with `request_id`
    /// (a UUID, required; `field` names it in errors, e.g. `request_id`).
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field` when it is empty or not a UUID.
    pub fn new(
        system: System,
        field: &str,
        request_id: &str,
        method: &'static str,
        message: &impl prost::Message,
    ) -> Result<Idempotent, ApiError> {
        let mut v = Violations::default();
        v.uuid(field, request_id);
        v.finish()?;
        Ok(Idempotent {
            system,
            field: field.to_owned(),
            // One spelling per UUID (hyphenated, lower case), whatever the client sent.
            request_id: uuid::Uuid::try_parse(request_id)
                .map(|u| u.hyphenated().to_string())
                .unwrap_or_default(),
            method,
            fingerprint: hex::encode(Sha256::digest(message.encode_to_vec())),
        })
    }

    /// The answer given to this request before, if it was answered.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming the field when the id answered a different
    /// request; a database error.
    pub async fn replay<R: prost::Message + Default, C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<Option<R>, ApiError> {
        let Some(row) = entity::Entity::find_by_id(self.request_id.clone())
            .one(conn)
            .await?
        else {
            return Ok(None);
        };
        if row.method != self.method || row.fingerprint != self.fingerprint {
            return Err(ApiError::invalid(
                self.field.clone(),
                "was already used for a different request; use a new UUID for each request",
            ));
        }
        R::decode(row.response.as_slice())
            .map(Some)
            .map_err(|e| ApiError::Internal(Box::new(e)))
    }

    /// Records `response` as this request's answer, in the transaction of
    /// the change it answers.
    ///
    /// # Errors
    /// A database error; a concurrent request with the same id makes the
    /// later commit fail (unique key), which the caller reports as ABORTED.
    pub async fn record(
        &self,
        txn: &DatabaseTransaction,
        response: &impl prost::Message,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let inserted = entity::Entity::insert(entity::ActiveModel {
            request_id: Set(self.request_id.clone()),
            method: Set(self.method.to_owned()),
            fingerprint: Set(self.fingerprint.clone()),
            response: Set(response.encode_to_vec()),
            created_at: Set(now),
        })
        .exec_without_returning(txn)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if crate::db::is_unique_violation(&e) => {
                Err(ApiError::Aborted(crate::error::Reason::new(
                    self.system,
                    "REQUEST_IN_FLIGHT",
                    "a request with this request_id is being answered; retry it",
                )))
            }
            Err(e) => Err(e.into()),
        }
    }
}
