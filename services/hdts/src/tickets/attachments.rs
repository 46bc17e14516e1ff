//! Files on help-desk tickets: attached at submission or to a reply (the
//! caller's complete uploads, `map_kit::uploads`), kept with the ticket or
//! reply as metadata and references, and streamed back by GetAttachment to
//! whoever may see what they are attached to: the ticket's requester (not
//! for an internal reply's files) or an agent. Anyone else gets NOT_FOUND,
//! as for the ticket itself.

use futures::{StreamExt as _, stream::BoxStream};
use map_contracts::{common::v1::FileRef, events::v1 as ev, hdts::v1 as pb};
use map_kit::{
    authn::Principal,
    uploads::{Chunk, UploadError, attachments},
};
use sea_orm::EntityTrait as _;

use super::{HelpDesk, find, is_agent};
use crate::{HdtsError, entity::replies};

/// The key of a ticket's files in the uploads table.
pub(crate) fn ticket_owner(ticket_id: &str) -> String {
    format!("ticket/{ticket_id}")
}

/// The key of a reply's files in the uploads table.
pub(crate) fn reply_owner(reply_id: &str) -> String {
    format!("reply/{reply_id}")
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

impl HelpDesk {
    /// GetAttachment: the file HDTS holds that `file` names, if `actor` may
    /// see the ticket (and reply) it is attached to.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `file`, `file.system` or `file.id`;
    /// NOT_FOUND for a file that is not here, not attached, or attached to
    /// what `actor` may not see.
    pub async fn attachment(
        &self,
        actor: &Principal,
        file: Option<&FileRef>,
    ) -> Result<Download, HdtsError> {
        let id = self.uploads.requested("file", file)?;
        let not_found = HdtsError::NotFound("attachment");
        let row = match self.uploads.attached(id).await {
            Ok(row) => row,
            Err(UploadError::NotFound) => return Err(not_found),
            Err(e) => return Err(e.into()),
        };
        let owner = row.attached_to.as_deref().unwrap_or_default();
        let (ticket_id, internal) = match owner.split_once('/') {
            Some(("ticket", ticket_id)) => (ticket_id.to_owned(), false),
            Some(("reply", reply_id)) => {
                match replies::Entity::find_by_id(reply_id.to_owned())
                    .one(self.db.conn())
                    .await?
                {
                    Some(reply) => (reply.ticket_id, reply.visibility == "internal"),
                    None => return Err(not_found),
                }
            }
            _ => return Err(not_found),
        };
        let ticket = find(self.db.conn(), &ticket_id).await?;
        let may_see = match ticket {
            Some(_) if is_agent(actor) => true,
            Some(t) => t.requester_user_id == actor.id && !internal,
            None => false,
        };
        if !may_see {
            return Err(not_found);
        }
        Ok(Download {
            attachment: attachment_to_proto(self.uploads.attachment(&row)),
            content: self.uploads.content(&row.id, row.size_bytes).boxed(),
        })
    }
}
