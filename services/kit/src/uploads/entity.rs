//! The `uploads` and `upload_chunks` tables, created by the migrations of
//! every system that holds files (map-migrations' `uploads`).

/// `uploads`: one row per upload.
pub mod upload {
    use sea_orm::entity::prelude::*;

    /// An upload, open or complete.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "uploads")]
    pub struct Model {
        /// UUIDv7; `FileRef.id` once complete.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The principal who started it; the only one who may append,
        /// complete or attach it.
        pub uploader_user_id: String,
        /// The file's name as given.
        pub file_name: String,
        /// The declared MIME type, lower case, without parameters.
        pub content_type: String,
        /// The declared total size.
        pub size_bytes: i64,
        /// Bytes received so far: the offset of the next chunk.
        pub received_bytes: i64,
        /// [`OPEN`](super::super::OPEN) or [`COMPLETE`](super::super::COMPLETE).
        pub state: String,
        /// Lower-case hex SHA-256 of the content, once complete.
        pub sha256: Option<String>,
        /// What the system attached it to (its own key, e.g. `ticket/<id>`);
        /// `None` until attached.
        pub attached_to: Option<String>,
        /// When it started.
        pub created_at: ChronoDateTimeUtc,
        /// When it completed.
        pub completed_at: Option<ChronoDateTimeUtc>,
        /// When the pruner deletes it; `None` once attached (kept).
        pub expires_at: Option<ChronoDateTimeUtc>,
    }

    /// Its chunks.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `upload_chunks`: an upload's content as the chunks it arrived in.
pub mod chunk {
    use sea_orm::entity::prelude::*;

    /// One chunk.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upload_chunks")]
    pub struct Model {
        /// The upload.
        #[sea_orm(primary_key, auto_increment = false)]
        pub upload_id: String,
        /// Offset of its first byte in the file.
        #[sea_orm(primary_key, auto_increment = false)]
        pub byte_offset: i64,
        /// Its bytes, at most [`MAX_CHUNK_BYTES`](super::super::MAX_CHUNK_BYTES).
        pub data: Vec<u8>,
    }

    /// Read by upload.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
