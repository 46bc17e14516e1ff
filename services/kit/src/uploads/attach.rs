//! Attaching complete uploads to what a system keeps (a ticket, a reply, a
//! comment), and finding an attached file again. Attaching happens in the
//! transaction that writes the owner, so a refused attachment writes
//! nothing, and a file is attached once: by its uploader, complete, not
//! attached yet.

use std::collections::HashSet;

use map_contracts::{common::v1::FileRef, events::v1 as ev};
use sea_orm::{
    ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _, sea_query::Expr,
};

use super::{COMPLETE, MAX_ATTACHMENTS, UploadError, Uploads, entity::upload};
use crate::FieldViolation;

impl Uploads {
    /// What is wrong with `refs` as the request's `field` (`attachments`):
    /// too many, a file of another system, an empty id, one named twice.
    /// Checked without the database, before anything is written.
    pub fn check_refs(&self, field: &str, refs: &[FileRef]) -> Vec<FieldViolation> {
        let mut wrong = Vec::new();
        let mut add = |field: String, description: String| {
            wrong.push(FieldViolation { field, description });
        };
        if refs.len() > MAX_ATTACHMENTS {
            add(
                field.to_owned(),
                format!("must name at most {MAX_ATTACHMENTS} files"),
            );
        }
        let mut seen = HashSet::new();
        for (i, r) in refs.iter().enumerate() {
            if r.system != self.system.name() {
                add(
                    format!("{field}[{i}].system"),
                    format!(
                        "must be \"{}\": attach files uploaded to this system",
                        self.system
                    ),
                );
            }
            if r.id.is_empty() {
                add(format!("{field}[{i}].id"), "is required".to_owned());
            } else if !seen.insert(r.id.as_str()) {
                add(format!("{field}[{i}]"), "names a file twice".to_owned());
            }
        }
        wrong
    }

    /// Attaches the complete uploads `refs` (the request's `field`) of
    /// `uploader` to `owner` — the system's own key of what holds them, e.g.
    /// `ticket/<id>` — in `txn`, and returns their metadata in the order
    /// given, for the owner's row and its events. From then on they are
    /// kept (never pruned) and [`attached`](Uploads::attached) finds them.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming each file that is not a complete upload of
    /// the uploader's that is not attached yet (or `field` as
    /// [`check_refs`](Uploads::check_refs) says). Roll `txn` back then.
    pub async fn attach(
        &self,
        txn: &DatabaseTransaction,
        uploader: &str,
        field: &str,
        refs: &[FileRef],
        owner: &str,
    ) -> Result<Vec<ev::Attachment>, UploadError> {
        let wrong = self.check_refs(field, refs);
        if !wrong.is_empty() {
            return Err(UploadError::InvalidArgument(wrong));
        }
        let now = self.clock.now();
        let mut wrong = Vec::new();
        let mut attached = Vec::with_capacity(refs.len());
        for (i, r) in refs.iter().enumerate() {
            // One conditional update: concurrent attachments of one file
            // cannot both win.
            let done = upload::Entity::update_many()
                .col_expr(upload::Column::AttachedTo, Expr::value(Some(owner)))
                .col_expr(
                    upload::Column::ExpiresAt,
                    Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
                )
                .filter(upload::Column::Id.eq(r.id.clone()))
                .filter(upload::Column::UploaderUserId.eq(uploader))
                .filter(upload::Column::State.eq(COMPLETE))
                .filter(upload::Column::AttachedTo.is_null())
                .filter(upload::Column::ExpiresAt.gt(now))
                .exec(txn)
                .await?;
            if done.rows_affected != 1 {
                wrong.push(FieldViolation {
                    field: format!("{field}[{i}]"),
                    description: "is not a complete upload of yours that is not attached yet"
                        .to_owned(),
                });
                continue;
            }
            let row = upload::Entity::find_by_id(r.id.clone())
                .one(txn)
                .await?
                .ok_or(UploadError::NotFound)?;
            attached.push(self.attachment(&row));
        }
        if !wrong.is_empty() {
            return Err(UploadError::InvalidArgument(wrong));
        }
        Ok(attached)
    }

    /// The attached file `id`: its row, whose `attached_to` names its
    /// owner, so the system decides who may read it.
    ///
    /// # Errors
    /// NOT_FOUND for a file that is not there, not complete or not
    /// attached.
    pub async fn attached(&self, id: &str) -> Result<upload::Model, UploadError> {
        match upload::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
        {
            Some(u) if u.state == COMPLETE && u.attached_to.is_some() => Ok(u),
            _ => Err(UploadError::NotFound),
        }
    }

    /// The id of the file a GetAttachment request's `field` names: a file
    /// of this system.
    ///
    /// # Errors
    /// INVALID_ARGUMENT naming `field` (missing), `field.system` (another
    /// system's file) or `field.id` (empty).
    pub fn requested<'a>(
        &self,
        field: &str,
        file: Option<&'a FileRef>,
    ) -> Result<&'a str, UploadError> {
        let Some(file) = file else {
            return Err(UploadError::invalid(field, "is required"));
        };
        let mut wrong = Vec::new();
        if file.system != self.system.name() {
            wrong.push(FieldViolation {
                field: format!("{field}.system"),
                description: format!(
                    "must be \"{}\": fetch another system's file from that system",
                    self.system
                ),
            });
        }
        if file.id.is_empty() {
            wrong.push(FieldViolation {
                field: format!("{field}.id"),
                description: "is required".to_owned(),
            });
        }
        if wrong.is_empty() {
            Ok(&file.id)
        } else {
            Err(UploadError::InvalidArgument(wrong))
        }
    }

    /// A stored file's metadata and reference, as events carry it.
    pub fn attachment(&self, u: &upload::Model) -> ev::Attachment {
        ev::Attachment {
            file_name: u.file_name.clone(),
            content_type: u.content_type.clone(),
            size_bytes: u.size_bytes,
            file: Some(self.file_ref(&u.id)),
        }
    }
}
