//! An HDTS server on port 0 over a fresh database (the current backend of a
//! `db_tests!` variant) holding the department IT, its callers validated by
//! the kit's FakeValidator (Auth's stand-in in a system's own suites).
#![allow(dead_code)] // each test binary uses part of it
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use map_contracts::{
    events::v1 as ev,
    hdts::v1::{self as pb, help_desk_service_client::HelpDeskServiceClient},
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

/// The kit's readers of a status's `google.rpc` details.
#[allow(unused_imports)] // not every test binary reads details
pub use map_kit::testing::{fields, reason};
