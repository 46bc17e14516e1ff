//! Reading a stored file back, one chunk at a time in offset order, so a
//! 10 MiB file never sits in memory whole (GetAttachment, and the checks of
//! CompleteUpload).

use futures::Stream;
use sea_orm::EntityTrait as _;

use super::{UploadError, Uploads, entity::chunk};
use crate::db::Db;

/// A piece of a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Offset of its first byte in the file.
    pub offset: i64,
    /// Its bytes (at most [`MAX_CHUNK_BYTES`](super::MAX_CHUNK_BYTES)).
    pub data: Vec<u8>,
}

impl Uploads {
    /// The content of file `id` of `size_bytes` (an [`attached`] file's
    /// row says both), in order.
    ///
    /// [`attached`]: Uploads::attached
    pub fn content(
        &self,
        id: &str,
        size_bytes: i64,
    ) -> impl Stream<Item = Result<Chunk, UploadError>> + Send + 'static {
        chunks(self.db.clone(), id.to_owned(), size_bytes)
    }
}

/// The chunks of upload `id` from offset 0 to `size`, each read when the
/// consumer asks for it. A missing chunk is [`UploadError::Damaged`].
pub(super) fn chunks(
    db: Db,
    id: String,
    size: i64,
) -> impl Stream<Item = Result<Chunk, UploadError>> + Send + 'static {
    futures::stream::try_unfold(0_i64, move |offset| {
        let (db, id) = (db.clone(), id.clone());
        async move {
            if offset >= size {
                return Ok(None);
            }
            let row = chunk::Entity::find_by_id((id.clone(), offset))
                .one(db.conn())
                .await?
                .ok_or_else(|| UploadError::Damaged(id.clone()))?;
            let next = offset + i64::try_from(row.data.len()).unwrap_or(i64::MAX);
            if row.data.is_empty() || next > size {
                return Err(UploadError::Damaged(id));
            }
            Ok(Some((
                Chunk {
                    offset,
                    data: row.data,
                },
                next,
            )))
        }
    })
}
