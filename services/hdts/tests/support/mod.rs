//! An HDTS server on port 0 over a fresh database (the current backend of a
//! `db_tests!` variant) holding the department IT, its callers validated by
//! the kit's FakeValidator (Auth's stand-in in a system's own suites).
#![allow(dead_code)] // each test binary uses part of it
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use map_contracts::{
    common::v1::{self as common, FileRef},
    events::v1 as ev,
    hdts::v1::{
        self as pb, help_desk_service_client::HelpDeskServiceClient,
        upload_service_client::UploadServiceClient,
    },
};
use map_hdts::{tickets::HelpDesk, topics::Topics};
use map_kit::{
    clock::ManualClock,
    outbox::entity as outbox,
    paging::Pager,
    testing::{Caller, FakeValidator, TestDb, TestServer},
};
use prost::Message as _;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use tonic::transport::Channel;

pub struct Fixture {
    /// The clock HDTS reads (the reopen window).
    pub clock: ManualClock,
    pub db: TestDb,
    pub server: TestServer,
    pub auth: FakeValidator,
    pub admin: Caller,
    pub employee: Caller,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let db = TestDb::new::<map_migrations::hdts::Migrator>().await;
        map_kit::testing::directory::add_department(&db.db, "IT").await;
        let auth = FakeValidator::default();
        let admin = auth.person(&[("hdts", "admin")]);
        let employee = auth.person(&[("hdts", "employee")]);
        let pager = Pager::random();
        let clock = ManualClock::at_system_time();
        let topics = Topics::new(db.db.clone(), clock.clock(), pager.clone());
        let desk = HelpDesk::new(db.db.clone(), clock.clock(), pager);
        let server =
            TestServer::start(map_hdts::grpc_server(topics, desk, Arc::new(auth.clone()))).await;
        Fixture {
            clock,
            db,
            server,
            auth,
            admin,
            employee,
        }
    }

    pub async fn client(&self) -> HelpDeskServiceClient<Channel> {
        HelpDeskServiceClient::new(self.server.channel().await)
    }

    pub async fn uploads(&self) -> UploadServiceClient<Channel> {
        UploadServiceClient::new(self.server.channel().await)
    }

    /// `content` uploaded by `who` through UploadService in chunks of
    /// `chunk` bytes, completed: the reference to attach.
    pub async fn upload(
        &self,
        who: &Caller,
        file_name: &str,
        content_type: &str,
        content: &[u8],
        chunk: usize,
    ) -> Result<FileRef, tonic::Status> {
        let mut u = self.uploads().await;
        let started = u
            .start_upload(who.request(common::StartUploadRequest {
                file_name: file_name.into(),
                content_type: content_type.into(),
                size_bytes: content.len() as i64,
            }))
            .await?
            .into_inner()
            .upload
            .unwrap();
        for (i, piece) in content.chunks(chunk).enumerate() {
            u.append_upload_chunk(who.request(common::AppendUploadChunkRequest {
                upload_id: started.id.clone(),
                offset: (i * chunk) as i64,
                data: piece.to_vec(),
            }))
            .await?;
        }
        let done = u
            .complete_upload(who.request(common::CompleteUploadRequest {
                upload_id: started.id,
                sha256: sha256(content),
            }))
            .await?
            .into_inner();
        Ok(done.file.unwrap())
    }

    /// GetAttachment of `file` as `who`: the first message's metadata and
    /// the content put together.
    pub async fn download(
        &self,
        who: &Caller,
        file: &FileRef,
    ) -> Result<(pb::Attachment, Vec<u8>), tonic::Status> {
        let mut stream = self
            .client()
            .await
            .get_attachment(who.request(pb::GetAttachmentRequest {
                file: Some(file.clone()),
            }))
            .await?
            .into_inner();
        let mut attachment = None;
        let mut content = Vec::new();
        while let Some(m) = stream.message().await? {
            assert_eq!(m.offset, content.len() as i64, "chunks in order");
            assert!(
                m.attachment.is_some() == attachment.is_none(),
                "the metadata rides on the first message only"
            );
            attachment = attachment.or(m.attachment);
            content.extend(m.data);
        }
        Ok((attachment.unwrap(), content))
    }

    pub async fn create(
        &self,
        req: pb::CreateHelpTopicRequest,
    ) -> Result<pb::HelpTopic, tonic::Status> {
        Ok(self
            .client()
            .await
            .create_help_topic(self.admin.request(req))
            .await?
            .into_inner()
            .help_topic
            .unwrap())
    }

    /// The outbox's events, oldest first: (type, subject version, payload).
    pub async fn events(&self) -> Vec<(String, i64, prost_types::Any)> {
        outbox::Entity::find()
            .order_by_asc(outbox::Column::Seq)
            .all(self.db.db.conn())
            .await
            .unwrap()
            .into_iter()
            .map(|row| {
                let envelope = ev::Envelope::decode(row.envelope.as_slice()).unwrap();
                (
                    row.event_type,
                    row.subject_version,
                    envelope.payload.unwrap(),
                )
            })
            .collect()
    }

    /// A person holding `roles`, in the directory (department IT).
    pub async fn person(&self, roles: &[(&str, &str)]) -> Caller {
        let caller = self.auth.person(roles);
        let id = caller.principal.as_ref().unwrap().id.clone();
        map_kit::testing::directory::add_person(
            &self.db.db,
            &caller,
            "IT",
            &format!("Person {}", &id[30..]),
        )
        .await;
        caller
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The kit's readers of a status's `google.rpc` details.
#[allow(unused_imports)] // not every test binary reads details
pub use map_kit::testing::{fields, reason};
