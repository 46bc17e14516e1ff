//! An AMS server on port 0 over a fresh database (the current backend of a
//! `db_tests!` variant) holding the department IT and the category LAPTOP,
//! its callers validated by the kit's FakeValidator (Auth's stand-in in a
//! system's own suites).
#![allow(dead_code)] // each test binary uses part of it
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use map_ams::{assets::Assets, categories::Categories};
use map_contracts::{
    ams::v1::{
        self as pb, asset_service_client::AssetServiceClient,
        category_service_client::CategoryServiceClient, upload_service_client::UploadServiceClient,
    },
    common::v1::{self as common, Money},
    events::v1 as ev,
    google::r#type::Date,
};
use map_kit::{
    System,
    clock::ManualClock,
    outbox::entity as outbox,
    paging::Pager,
    testing::{Caller, FakeValidator, TestDb, TestServer},
    uploads::{UploadLimits, Uploads},
};
use prost::Message as _;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use tonic::transport::Channel;

pub struct Fixture {
    /// The clock AMS reads (due times, the overdue timers).
    pub clock: ManualClock,
    pub db: TestDb,
    pub server: TestServer,
    pub auth: FakeValidator,
    /// ams:manager, in the directory.
    pub manager: Caller,
    /// ams:viewer, in the directory.
    pub viewer: Caller,
    /// An employee with no AMS role, in the directory.
    pub employee: Caller,
    /// The domain the server runs (for workers and direct checks).
    pub assets: Assets,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let db = TestDb::new::<map_migrations::ams::Migrator>().await;
        map_kit::testing::directory::add_department(&db.db, "IT").await;
        map_kit::testing::directory::add_department(&db.db, "FIN").await;
        let auth = FakeValidator::default();
        let pager = Pager::random();
        let clock = ManualClock::at_system_time();
        let uploads = Uploads::new(
            System::Ams,
            db.db.clone(),
            clock.clock(),
            UploadLimits {
                max_file_bytes: 64 << 20,
            },
        );
        let categories = Categories::new(db.db.clone(), clock.clock(), pager.clone());
        let assets = Assets::new(db.db.clone(), clock.clock(), pager, uploads);
        let server = TestServer::start(map_ams::grpc_server(
            categories,
            assets.clone(),
            Arc::new(auth.clone()),
        ))
        .await;
        let mut fx = Fixture {
            clock,
            db,
            server,
            auth: auth.clone(),
            manager: auth.person(&[("ams", "manager")]),
            viewer: auth.person(&[("ams", "viewer")]),
            employee: auth.person(&[]),
            assets,
        };
        fx.manager = fx.person(&[("ams", "manager")]).await;
        fx.viewer = fx.person(&[("ams", "viewer")]).await;
        fx.employee = fx.person(&[]).await;
        fx.category("LAPTOP", "Laptops").await;
        fx
    }

    pub async fn assets_client(&self) -> AssetServiceClient<Channel> {
        AssetServiceClient::new(self.server.channel().await)
    }

    pub async fn categories_client(&self) -> CategoryServiceClient<Channel> {
        CategoryServiceClient::new(self.server.channel().await)
    }

    pub async fn uploads(&self) -> UploadServiceClient<Channel> {
        UploadServiceClient::new(self.server.channel().await)
    }

    /// A category `code` (straight line, 36 months, 10% salvage).
    pub async fn category(&self, code: &str, name: &str) -> pb::Category {
        self.categories_client()
            .await
            .create_category(self.manager.request(pb::CreateCategoryRequest {
                code: code.into(),
                name: name.into(),
                description: String::new(),
                depreciation_method: pb::DepreciationMethod::StraightLine.into(),
                useful_life_months: 36,
                salvage_percent: 10,
                request_id: uuid::Uuid::now_v7().to_string(),
            }))
            .await
            .unwrap()
            .into_inner()
            .category
            .unwrap()
    }

    /// A laptop of IT bought for 1,200.00 USD on 2025-01-15.
    pub fn laptop(&self, name: &str) -> pb::CreateAssetRequest {
        pb::CreateAssetRequest {
            name: name.into(),
            serial: String::new(),
            category_code: "LAPTOP".into(),
            department_code: "IT".into(),
            location: "HQ 3F storage".into(),
            purchase_cost: Some(usd(120_000)),
            purchase_date: Some(Date {
                year: 2025,
                month: 1,
                day: 15,
            }),
            notes: String::new(),
            supplier: "Dell".into(),
            purchase_reference: "PO-1".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            warranty_end_date: None,
            model: "Latitude 5440".into(),
        }
    }

    /// `req` created by the manager.
    pub async fn create(&self, req: pb::CreateAssetRequest) -> Result<pb::Asset, tonic::Status> {
        Ok(self
            .assets_client()
            .await
            .create_asset(self.manager.request(req))
            .await?
            .into_inner()
            .asset
            .unwrap())
    }

    /// `asset` checked out to `holder` by the manager.
    pub async fn check_out(
        &self,
        asset: &pb::Asset,
        holder: &Caller,
    ) -> Result<pb::CheckOutAssetResponse, tonic::Status> {
        Ok(self
            .assets_client()
            .await
            .check_out_asset(self.manager.request(pb::CheckOutAssetRequest {
                asset_id: asset.id.clone(),
                holder_user_id: id_of(holder),
                request_id: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            }))
            .await?
            .into_inner())
    }

    /// `content` uploaded by `who` through AMS's UploadService in chunks of
    /// `chunk` bytes, completed: its upload id.
    pub async fn upload(
        &self,
        who: &Caller,
        content: &[u8],
        chunk: usize,
    ) -> Result<String, tonic::Status> {
        let mut u = self.uploads().await;
        let started = u
            .start_upload(who.request(common::StartUploadRequest {
                file_name: "assets.csv".into(),
                content_type: "text/csv".into(),
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
        u.complete_upload(who.request(common::CompleteUploadRequest {
            upload_id: started.id.clone(),
            sha256: sha256(content),
        }))
        .await?;
        Ok(started.id)
    }

    /// The outbox's asset events (`ams.asset.*`), oldest first: (type,
    /// subject version, payload). [`category_events`](Self::category_events)
    /// has the categories'.
    pub async fn events(&self) -> Vec<(String, i64, prost_types::Any)> {
        self.all_events()
            .await
            .into_iter()
            .filter(|(t, _, _)| t.starts_with("ams.asset."))
            .collect()
    }

    /// The outbox's category events (`ams.category.*`), oldest first.
    pub async fn category_events(&self) -> Vec<(String, i64, prost_types::Any)> {
        self.all_events()
            .await
            .into_iter()
            .filter(|(t, _, _)| t.starts_with("ams.category."))
            .collect()
    }

    async fn all_events(&self) -> Vec<(String, i64, prost_types::Any)> {
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

    /// The types of the outbox's events, oldest first.
    pub async fn event_types(&self) -> Vec<String> {
        self.events().await.into_iter().map(|(t, _, _)| t).collect()
    }

    /// A person holding `roles`, active in the directory (department IT).
    pub async fn person(&self, roles: &[(&str, &str)]) -> Caller {
        let caller = self.auth.person(roles);
        let id = id_of(&caller);
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

/// The user id of `caller`.
pub fn id_of(caller: &Caller) -> String {
    caller.principal.as_ref().unwrap().id.clone()
}

/// `amount_minor` US dollars.
pub fn usd(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: "USD".into(),
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
