//! Completing an upload: the content is read back chunk by chunk (never
//! whole in memory) to check its SHA-256 and sniff its type; only then is
//! the upload marked complete, in a short write transaction. A refused
//! upload is deleted with its chunks: what it holds can never become a
//! file, and the client starts again.

use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, sea_query::Expr};
use sha2::{Digest as _, Sha256};

use super::{
    COMPLETE, OPEN, UploadError, Uploads,
    content::{self, SNIFF_BYTES, Utf8Check},
    entity::{chunk, upload},
    read::chunks,
    receive::own,
};

/// What reading the content back found.
struct Digest {
    sha256: String,
    head: Vec<u8>,
    utf8: bool,
}

impl Uploads {
    /// CompleteUpload: checks `sha256` (hex, either case) and the declared
    /// content type against the bytes of `uploader`'s upload `id`, then
    /// marks it complete — immutable, attachable for a day. Completing a
    /// complete upload with its SHA-256 again returns it unchanged.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `upload_id`, `sha256` (malformed, or not the
    /// content's: the upload is deleted) or `content_type` (not what the
    /// content is: the upload is deleted); NOT_FOUND;
    /// [`UploadError::Incomplete`].
    pub async fn complete(
        &self,
        uploader: &str,
        id: &str,
        sha256: &str,
    ) -> Result<upload::Model, UploadError> {
        if id.is_empty() {
            return Err(UploadError::invalid("upload_id", "is required"));
        }
        let wanted = sha256.trim().to_ascii_lowercase();
        if wanted.len() != 64 || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UploadError::invalid(
                "sha256",
                "must be the SHA-256 of the content: 64 hexadecimal digits",
            ));
        }
        let now = self.clock.now();
        let row = own(self.db.conn(), uploader, id, now).await?;
        if row.state == COMPLETE {
            return if row.sha256.as_deref() == Some(wanted.as_str()) {
                Ok(row)
            } else {
                Err(UploadError::invalid(
                    "sha256",
                    "is not the SHA-256 of the complete file",
                ))
            };
        }
        if row.received_bytes < row.size_bytes {
            return Err(UploadError::Incomplete {
                received: row.received_bytes,
                size: row.size_bytes,
            });
        }
        // Every byte is here and no append can change them now (appends
        // stop at the declared size, and a repeated chunk must be equal),
        // so the content is read outside any write transaction.
        let digest = self.digest(&row).await?;
        if digest.sha256 != wanted {
            self.discard(&row.id).await?;
            return Err(UploadError::invalid(
                "sha256",
                "is not the SHA-256 of the bytes received; the upload was discarded, start again",
            ));
        }
        if let Err(why) = content::check(&row.content_type, &digest.head, digest.utf8) {
            self.discard(&row.id).await?;
            return Err(UploadError::invalid(
                "content_type",
                format!("{why}; the upload was discarded, start again"),
            ));
        }
        let txn = self.db.begin_write().await?;
        upload::Entity::update_many()
            .col_expr(upload::Column::State, Expr::value(COMPLETE))
            .col_expr(upload::Column::Sha256, Expr::value(Some(wanted.clone())))
            .col_expr(upload::Column::CompletedAt, Expr::value(Some(now)))
            .col_expr(
                upload::Column::ExpiresAt,
                Expr::value(Some(self.expiry(now))),
            )
            .filter(upload::Column::Id.eq(row.id.clone()))
            .filter(upload::Column::State.eq(OPEN))
            .exec(&txn)
            .await?;
        // Completed now, or by a concurrent call with the same checksum.
        let done = own(&txn, uploader, id, now).await?;
        txn.commit().await?;
        if done.sha256.as_deref() != Some(wanted.as_str()) {
            return Err(UploadError::NotFound);
        }
        tracing::info!(
            system = %self.system,
            upload = %done.id,
            size_bytes = done.size_bytes,
            content_type = %done.content_type,
            "upload complete"
        );
        Ok(done)
    }

    /// The SHA-256 of the content, its first bytes and whether it is UTF-8.
    async fn digest(&self, row: &upload::Model) -> Result<Digest, UploadError> {
        let mut hasher = Sha256::new();
        let mut head = Vec::new();
        let mut utf8 = Utf8Check::default();
        let mut stream = std::pin::pin!(chunks(self.db.clone(), row.id.clone(), row.size_bytes));
        while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
            let chunk = chunk?;
            hasher.update(&chunk.data);
            utf8.feed(&chunk.data);
            if head.len() < SNIFF_BYTES {
                let take = (SNIFF_BYTES - head.len()).min(chunk.data.len());
                head.extend_from_slice(&chunk.data[..take]);
            }
        }
        Ok(Digest {
            sha256: hex::encode(hasher.finalize()),
            head,
            utf8: utf8.finish(),
        })
    }

    /// Deletes an upload and its chunks while it is open (never a file
    /// that a concurrent call completed).
    async fn discard(&self, id: &str) -> Result<(), UploadError> {
        let txn = self.db.begin_write().await?;
        let deleted = upload::Entity::delete_many()
            .filter(upload::Column::Id.eq(id.to_owned()))
            .filter(upload::Column::State.eq(OPEN))
            .exec(&txn)
            .await?;
        if deleted.rows_affected == 1 {
            // The foreign key cascades too; this does not rely on it.
            chunk::Entity::delete_many()
                .filter(chunk::Column::UploadId.eq(id.to_owned()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        tracing::info!(system = %self.system, upload = %id, "upload refused and discarded");
        Ok(())
    }
}
