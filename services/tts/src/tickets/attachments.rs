//! Files on tickets: a comment attaches the caller's complete uploads to
//! TTS (`map_kit::uploads`), kept with the comment as metadata and
//! references and put in `tts.ticket.commented`; a ticket opened from an
//! HDTS submission and a comment mirrored from an HDTS reply keep HDTS's
//! references (HDTS holds and serves those). GetAttachment streams a file
//! TTS holds to TTS's staff, who see every ticket.

use futures::{StreamExt as _, stream::BoxStream};
use map_contracts::{common::v1::FileRef, events::v1 as ev, tts::v1 as pb};
use map_kit::uploads::{Chunk, UploadError, attachments};
use sea_orm::EntityTrait as _;

use super::Tickets;
use crate::{TtsError, entity::comments};

/// The key of a comment's files in the uploads table.
pub(crate) fn comment_owner(comment_id: &str) -> String {
    format!("comment/{comment_id}")
}

/// A row's attachments column on the wire.
pub fn to_proto(column: Option<&[u8]>) -> Vec<pb::Attachment> {
    attachments::decode(column)
        .into_iter()
        .map(attachment_to_proto)
        .collect()
}

fn attachment_to_proto(a: ev::Attachment) -> pb::Attachment {
    pb::Attachment {
        file_name: a.file_name,
        content_type: a.content_type,
        size_bytes: a.size_bytes,
        file: a.file,
    }
}

/// An attached file on its way out: what it is, then its content in order.
pub struct Download {
    /// Its metadata and reference.
    pub attachment: pb::Attachment,
    /// Its bytes, chunk by chunk.
    pub content: BoxStream<'static, Result<Chunk, UploadError>>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("attachment", &self.attachment)
            .finish_non_exhaustive()
    }
}

impl Tickets {
    /// GetAttachment: the file TTS holds that `file` names, attached to a
    /// comment (the policy admits staff only, who see every ticket).
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `file`, `file.system` or `file.id`;
    /// NOT_FOUND for a file that is not here or not attached.
    pub async fn attachment(&self, file: Option<&FileRef>) -> Result<Download, TtsError> {
        let id = self.uploads.requested("file", file)?;
        let not_found = TtsError::NotFound("attachment");
        let row = match self.uploads.attached(id).await {
            Ok(row) => row,
            Err(UploadError::NotFound) => return Err(not_found),
            Err(e) => return Err(e.into()),
        };
        let owner = row.attached_to.as_deref().unwrap_or_default();
        let Some(("comment", comment_id)) = owner.split_once('/') else {
            return Err(not_found);
        };
        if comments::Entity::find_by_id(comment_id.to_owned())
            .one(self.db.conn())
            .await?
            .is_none()
        {
            return Err(not_found);
        }
        Ok(Download {
            attachment: attachment_to_proto(self.uploads.attachment(&row)),
            content: self.uploads.content(&row.id, row.size_bytes).boxed(),
        })
    }
}
