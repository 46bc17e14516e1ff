//! A BMS server on port 0 over a fresh database (the current backend of a
//! `db_tests!` variant) holding the departments IT and HR and the fiscal
//! year FY2026 (the calendar year), its callers validated by the kit's
//! FakeValidator (Auth's stand-in in a system's own suites).
#![allow(dead_code)] // each test binary uses part of it
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use map_contracts::{
    bms::v1::{
        self as pb, budget_service_client::BudgetServiceClient,
        expense_service_client::ExpenseServiceClient,
    },
    common::v1::Money,
    events::v1 as ev,
    google::r#type::Date,
};
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
    pub clock: ManualClock,
    pub db: TestDb,
    pub server: TestServer,
    pub auth: FakeValidator,
    /// bms:finance_head, in the directory.
    pub finance: Caller,
    /// bms:viewer, in the directory.
    pub viewer: Caller,
    /// An employee with no BMS role.
    pub employee: Caller,
    /// FY2026.
    pub year: pb::FiscalYear,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let db = TestDb::new::<map_migrations::bms::Migrator>().await;
        map_kit::testing::directory::add_department(&db.db, "IT").await;
        map_kit::testing::directory::add_department(&db.db, "HR").await;
        let auth = FakeValidator::default();
        let pager = Pager::random();
        // Today: the expenses the tests record are dated in June 2026.
        let clock = ManualClock::at_system_time();
        let server = TestServer::start(map_bms::grpc_server(
            map_bms::grpc::Domain::new(&db.db, &clock.clock(), &pager),
            Arc::new(auth.clone()),
        ))
        .await;
        let finance = auth.person(&[("bms", "finance_head")]);
        map_kit::testing::directory::add_person(&db.db, &finance, "IT", "Fiona Finance").await;
        let viewer = auth.person(&[("bms", "viewer")]);
        map_kit::testing::directory::add_person(&db.db, &viewer, "IT", "Victor Viewer").await;
        let employee = auth.person(&[]);
        let mut fx = Fixture {
            clock,
            db,
            server,
            auth,
            finance,
            viewer,
            employee,
            year: pb::FiscalYear::default(),
        };
        fx.year = fx
            .fiscal_year("FY2026", date(2026, 1, 1), date(2026, 12, 31))
            .await
            .unwrap();
        fx
    }

    pub async fn budgets(&self) -> BudgetServiceClient<Channel> {
        BudgetServiceClient::new(self.server.channel().await)
    }

    pub async fn expenses(&self) -> ExpenseServiceClient<Channel> {
        ExpenseServiceClient::new(self.server.channel().await)
    }

    pub async fn fiscal_year(
        &self,
        name: &str,
        start: Date,
        end: Date,
    ) -> Result<pb::FiscalYear, tonic::Status> {
        Ok(self
            .budgets()
            .await
            .create_fiscal_year(self.finance.request(pb::CreateFiscalYearRequest {
                name: name.into(),
                start_date: Some(start),
                end_date: Some(end),
                request_id: uuid::Uuid::now_v7().to_string(),
            }))
            .await?
            .into_inner()
            .fiscal_year
            .unwrap())
    }

    /// The FY2026 budget of `department` in USD with `lines`, 0 reserve.
    pub async fn budget(
        &self,
        department: &str,
        lines: Vec<pb::BudgetLineInput>,
    ) -> Result<pb::Budget, tonic::Status> {
        Ok(self
            .budgets()
            .await
            .create_budget(self.finance.request(pb::CreateBudgetRequest {
                fiscal_year_id: self.year.id.clone(),
                department_code: department.into(),
                currency_code: "USD".into(),
                lines,
                request_id: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            }))
            .await?
            .into_inner()
            .budget
            .unwrap())
    }

    pub async fn get_budget(&self, id: &str) -> pb::Budget {
        self.budgets()
            .await
            .get_budget(self.viewer.request(pb::GetBudgetRequest {
                budget_id: id.into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .budget
            .unwrap()
    }

    /// An expense of `amount` USD cents on `line`, dated 2026-06-15.
    pub async fn spend(
        &self,
        line: &str,
        amount: i64,
    ) -> Result<pb::RecordExpenseResponse, tonic::Status> {
        self.spend_as(&self.finance, line, amount).await
    }

    pub async fn spend_as(
        &self,
        who: &Caller,
        line: &str,
        amount: i64,
    ) -> Result<pb::RecordExpenseResponse, tonic::Status> {
        Ok(self
            .expenses()
            .await
            .record_expense(who.request(pb::RecordExpenseRequest {
                budget_line_id: line.into(),
                amount: Some(usd(amount)),
                description: "Docking stations".into(),
                request_id: uuid::Uuid::now_v7().to_string(),
                expense_date: Some(date(2026, 6, 15)),
                ..Default::default()
            }))
            .await?
            .into_inner())
    }

    /// The outbox's events of types starting with `prefix`, oldest first:
    /// (type, subject, subject version, payload).
    pub async fn events(&self, prefix: &str) -> Vec<(String, String, i64, prost_types::Any)> {
        outbox::Entity::find()
            .order_by_asc(outbox::Column::Seq)
            .all(self.db.db.conn())
            .await
            .unwrap()
            .into_iter()
            .filter(|row| row.event_type.starts_with(prefix))
            .map(|row| {
                let envelope = ev::Envelope::decode(row.envelope.as_slice()).unwrap();
                (
                    row.event_type,
                    envelope.subject,
                    row.subject_version,
                    envelope.payload.unwrap(),
                )
            })
            .collect()
    }

    /// An expense of `amount` USD cents on `line` dated `day`, described
    /// `description`, recorded by the finance head.
    pub async fn spend_on(
        &self,
        line: &str,
        amount: i64,
        day: Date,
        description: &str,
    ) -> Result<pb::RecordExpenseResponse, tonic::Status> {
        Ok(self
            .expenses()
            .await
            .record_expense(self.finance.request(pb::RecordExpenseRequest {
                budget_line_id: line.into(),
                amount: Some(usd(amount)),
                description: description.into(),
                request_id: uuid::Uuid::now_v7().to_string(),
                expense_date: Some(day),
                ..Default::default()
            }))
            .await?
            .into_inner())
    }

    /// The threshold notices, oldest first.
    pub async fn crossings(&self) -> Vec<ev::BmsBudgetThresholdCrossed> {
        self.events("bms.budget.threshold_crossed")
            .await
            .into_iter()
            .map(|(_, _, _, any)| any.to_msg().unwrap())
            .collect()
    }
}

/// A category line of `allocated` USD cents.
pub fn line(code: &str, allocated: i64, mode: pb::BudgetControlMode) -> pb::BudgetLineInput {
    pb::BudgetLineInput {
        category_code: code.into(),
        allocated: Some(usd(allocated)),
        control_mode: mode.into(),
        ..Default::default()
    }
}

/// The line of `budget` for `code` ("" for the unallocated line).
pub fn line_of<'a>(budget: &'a pb::Budget, code: &str) -> &'a pb::BudgetLine {
    budget
        .lines
        .iter()
        .find(|l| l.category_code == code && (code.is_empty() == l.unallocated))
        .unwrap()
}

pub fn usd(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: "USD".into(),
    }
}

pub fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// The flags of `e`.
pub fn flags_of(e: &pb::Expense) -> Vec<pb::ExpenseFlag> {
    e.flags().collect()
}

pub fn amount(m: &Option<Money>) -> i64 {
    m.as_ref().unwrap().amount_minor
}

#[allow(unused_imports)]
pub use map_kit::testing::{fields, reason};
