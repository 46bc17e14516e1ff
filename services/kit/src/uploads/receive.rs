//! Receiving an upload: starting it, then its chunks in order. Each step is
//! one write transaction; the received byte count moves by a conditional
//! `UPDATE` (never read-then-write), so two copies of one chunk racing
//! each other store it once and both succeed.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    QueryFilter as _, sea_query::Expr,
};

use super::{
    COMPLETE, MAX_CHUNK_BYTES, MAX_FILE_NAME, OPEN, UploadError, Uploads, content,
    entity::{chunk, upload},
};
use crate::Violations;

impl Uploads {
    /// StartUpload: an open upload of `uploader`'s, nothing received yet.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `file_name`, `content_type` or `size_bytes`.
    pub async fn start(
        &self,
        uploader: &str,
        file_name: &str,
        content_type: &str,
        size_bytes: i64,
    ) -> Result<upload::Model, UploadError> {
        let mut v = Violations::default();
        v.text("file_name", file_name, MAX_FILE_NAME);
        v.check(
            !file_name
                .chars()
                .any(|c| matches!(c, '/' | '\\') || c.is_control()),
            "file_name",
            "must not hold a path separator or a control character",
        );
        let content_type = match content::normalise(content_type) {
            Ok(t) => t,
            Err(why) => {
                v.add("content_type", why);
                String::new()
            }
        };
        let max = self.limits.max_file_bytes;
        v.check(
            size_bytes > 0 && u64::try_from(size_bytes).is_ok_and(|s| s <= max),
            "size_bytes",
            format!("must be from 1 to {max} bytes (the largest file this system takes)"),
        );
        if !v.is_empty() {
            return Err(UploadError::InvalidArgument(v.into_violations()));
        }
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        let row = upload::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            uploader_user_id: Set(uploader.to_owned()),
            file_name: Set(file_name.trim().to_owned()),
            content_type: Set(content_type),
            size_bytes: Set(size_bytes),
            received_bytes: Set(0),
            state: Set(OPEN.to_owned()),
            sha256: Set(None),
            attached_to: Set(None),
            created_at: Set(now),
            completed_at: Set(None),
            expires_at: Set(Some(self.expiry(now))),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        tracing::debug!(system = %self.system, upload = %row.id, size_bytes, "upload started");
        Ok(row)
    }

    /// AppendUploadChunk: `data` at `offset` of `uploader`'s open upload
    /// `id`. The next chunk (offset = bytes received) is stored; a chunk
    /// that repeats a stored one exactly (a retry) changes nothing; a gap,
    /// an overlap with other bytes, or bytes past the declared size are
    /// refused naming what was expected.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `upload_id`, `offset` or `data`; NOT_FOUND;
    /// [`UploadError::Complete`].
    pub async fn append(
        &self,
        uploader: &str,
        id: &str,
        offset: i64,
        data: &[u8],
    ) -> Result<upload::Model, UploadError> {
        let mut v = Violations::default();
        v.check(!id.is_empty(), "upload_id", "is required");
        v.check(offset >= 0, "offset", "must not be negative");
        v.check(!data.is_empty(), "data", "is required: at least 1 byte");
        v.check(
            data.len() <= MAX_CHUNK_BYTES,
            "data",
            format!("must be at most {MAX_CHUNK_BYTES} bytes (1 MiB) a chunk"),
        );
        if !v.is_empty() {
            return Err(UploadError::InvalidArgument(v.into_violations()));
        }
        let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let end = offset.saturating_add(len);
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        let row = own(&txn, uploader, id, now).await?;
        if row.state == COMPLETE {
            return Err(UploadError::Complete(row.id));
        }
        if end > row.size_bytes {
            return Err(UploadError::invalid(
                "data",
                format!(
                    "runs to byte {end}, past the {} bytes given to StartUpload",
                    row.size_bytes
                ),
            ));
        }
        // The next chunk: move the count first (on PostgreSQL the row lock
        // makes a concurrent copy of this chunk wait, then find the count
        // moved), then store the bytes.
        let moved = upload::Entity::update_many()
            .col_expr(upload::Column::ReceivedBytes, Expr::value(end))
            .filter(upload::Column::Id.eq(row.id.clone()))
            .filter(upload::Column::State.eq(OPEN))
            .filter(upload::Column::ReceivedBytes.eq(offset))
            .exec(&txn)
            .await?;
        if moved.rows_affected == 1 {
            chunk::ActiveModel {
                upload_id: Set(row.id.clone()),
                byte_offset: Set(offset),
                data: Set(data.to_vec()),
            }
            .insert(&txn)
            .await?;
            let after = own(&txn, uploader, id, now).await?;
            txn.commit().await?;
            return Ok(after);
        }
        // Not the next chunk. A retry of one stored is fine as it is.
        let row = own(&txn, uploader, id, now).await?;
        if row.state == COMPLETE {
            return Err(UploadError::Complete(row.id));
        }
        let received = row.received_bytes;
        if offset < received {
            let stored = chunk::Entity::find_by_id((row.id.clone(), offset))
                .one(&txn)
                .await?;
            if stored.is_some_and(|c| c.data == data) {
                return Ok(row);
            }
            return Err(UploadError::invalid(
                "offset",
                format!(
                    "overlaps the {received} bytes received with other bytes; the next chunk \
                     starts at offset {received}"
                ),
            ));
        }
        Err(UploadError::invalid(
            "offset",
            format!("leaves a gap: the next chunk starts at offset {received}"),
        ))
    }
}

/// `uploader`'s upload `id`, unless it expired; NOT_FOUND for anyone
/// else's, so its existence is not revealed.
pub(super) async fn own<C: ConnectionTrait>(
    conn: &C,
    uploader: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<upload::Model, UploadError> {
    match upload::Entity::find_by_id(id.to_owned()).one(conn).await? {
        Some(u) if u.uploader_user_id == uploader && u.expires_at.is_none_or(|at| at > now) => {
            Ok(u)
        }
        _ => Err(UploadError::NotFound),
    }
}
