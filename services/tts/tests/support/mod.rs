//! A TTS server on port 0 over a fresh database (the current backend of a
//! `db_tests!` variant), its callers validated by the kit's FakeValidator
//! and its assignees picked by [`TurnTaker`]: the stand-ins for Auth in
//! TTS's own suites (the chart's run test uses the real Auth).
#![allow(dead_code)] // each test binary uses part of it
#![allow(clippy::unwrap_used)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::future::BoxFuture;
use map_contracts::tts::v1::{
    self as pb, ticket_service_client::TicketServiceClient,
    workflow_service_client::WorkflowServiceClient,
};
use map_kit::bus::{Bus, live::Feed};
use map_kit::{
    ApiError,
    clock::Clock,
    paging::Pager,
    testing::{Caller, FakeValidator, TestDb, TestServer},
};
use map_tts::{
    grpc::watch::WatchConfig,
    tickets::{Tickets, assign::Assigner, live::LiveTickets},
    workflows::{Workflows, roles::FixedRoles},
};
use tonic::transport::Channel;

/// Round-robin over a fixed list of holders per role, the same pick for the
/// same key: what Auth's NextAssignee promises, kept in memory.
#[derive(Debug, Default)]
pub struct TurnTaker {
    holders: Mutex<HashMap<String, Vec<String>>>,
    picks: Mutex<HashMap<String, String>>,
    turns: Mutex<HashMap<String, usize>>,
}

impl TurnTaker {
    /// `users` hold `role` (`tts:agent`) from now on.
    pub fn set(&self, role: &str, users: &[&str]) {
        self.holders
            .lock()
            .unwrap()
            .insert(role.into(), users.iter().map(|u| (*u).to_owned()).collect());
    }
}

impl Assigner for TurnTaker {
    fn next<'a>(
        &'a self,
        role: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>> {
        Box::pin(async move {
            if let Some(p) = self.picks.lock().unwrap().get(key) {
                return Ok(Some(p.clone()));
            }
            let holders = self
                .holders
                .lock()
                .unwrap()
                .get(role)
                .cloned()
                .unwrap_or_default();
            if holders.is_empty() {
                return Ok(None);
            }
            let mut turns = self.turns.lock().unwrap();
            let turn = turns.entry(role.to_owned()).or_default();
            let pick = holders[*turn % holders.len()].clone();
            *turn += 1;
            self.picks
                .lock()
                .unwrap()
                .insert(key.to_owned(), pick.clone());
            Ok(Some(pick))
        })
    }
}

/// TTS's API over `db`.
fn server(
    db: &TestDb,
    turns: &Arc<TurnTaker>,
    auth: &FakeValidator,
    bus: Option<Bus>,
    config: WatchConfig,
    clock: &Clock,
) -> map_kit::server::GrpcServer {
    let workflows = Workflows::new(
        db.db.clone(),
        Arc::new(FixedRoles::seeded()),
        clock.clone(),
        Pager::random(),
    );
    let tickets = Tickets::new(db.db.clone(), turns.clone(), clock.clone(), Pager::random());
    let feed = bus.map(Feed::of).unwrap_or_default();
    map_tts::grpc::grpc_server_with(
        workflows,
        tickets,
        Arc::new(auth.clone()),
        LiveTickets::new(feed),
        config,
    )
}

/// The bus and relay of [`Fixture::start_live`], stopped on drop.
pub struct Live {
    pub bus: Bus,
    config: WatchConfig,
    _stop_relay: tokio::sync::oneshot::Sender<()>,
    _cleanup: Option<map_kit::testing::AmqpCleanup>,
}

/// The running server and what the tests act through.
pub struct Fixture {
    pub db: TestDb,
    pub server: TestServer,
    pub auth: FakeValidator,
    pub turns: Arc<TurnTaker>,
    pub admin: Caller,
    /// The clock the server's domain reads.
    pub clock: Clock,
}

impl Fixture {
    pub async fn start() -> Fixture {
        Fixture::start_at(Clock::system()).await
    }

    /// A server whose domain reads `clock` (a manual one in SLA tests).
    pub async fn start_at(clock: Clock) -> Fixture {
        let db = TestDb::new::<map_migrations::tts::Migrator>().await;
        Fixture::over(db, None, WatchConfig::default(), clock).await
    }

    /// A server whose live streams follow a bus — RabbitMQ beside
    /// PostgreSQL when the broker is there, the in-process bus beside SQLite
    /// — that TTS's relay publishes its outbox to, with the streams' timings
    /// of `config`.
    pub async fn start_live(config: WatchConfig) -> (Fixture, Live) {
        let db = TestDb::new::<map_migrations::tts::Migrator>().await;
        let prefix = map_kit::testing::amqp_prefix();
        let (bus, cleanup) = match (db.backend, map_kit::testing::amqp_url()) {
            (map_kit::testing::Backend::Postgres, Some(url)) => (
                Bus::connect(Some(&url), &prefix).await.unwrap(),
                Some(map_kit::testing::AmqpCleanup::new(&url, &prefix)),
            ),
            _ => (Bus::in_process(&prefix), None),
        };
        let relay = map_kit::bus::Relay::new(
            map_kit::System::Tts,
            db.db.clone(),
            bus.clone(),
            map_kit::bus::RelayConfig::default(),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(relay.run(async {
            let _ = stopped.await;
        }));
        let fx = Fixture::over(db, Some(bus.clone()), config, Clock::system()).await;
        let live = Live {
            bus,
            config,
            _stop_relay: stop,
            _cleanup: cleanup,
        };
        (fx, live)
    }

    /// Another API replica over the same database, with live streams of its
    /// own (its own watch of the bus).
    pub async fn replica(&self, live: &Live) -> TestServer {
        TestServer::start(server(
            &self.db,
            &self.turns,
            &self.auth,
            Some(live.bus.clone()),
            live.config,
            &self.clock,
        ))
        .await
    }

    async fn over(db: TestDb, bus: Option<Bus>, config: WatchConfig, clock: Clock) -> Fixture {
        map_kit::testing::directory::add_department(&db.db, "IT").await;
        let auth = FakeValidator::default();
        let admin = auth.person(&[("tts", "admin")]);
        let turns = Arc::new(TurnTaker::default());
        let server = TestServer::start(server(&db, &turns, &auth, bus, config, &clock)).await;
        Fixture {
            db,
            server,
            auth,
            turns,
            admin,
            clock,
        }
    }

    /// One caller of each kind an access policy tells apart: anonymous, an
    /// agent, a manager, an administrator, another system's user and a
    /// service key (for the policy-matrix tests).
    pub fn policy_callers(&self) -> [Caller; 6] {
        [
            Caller::anonymous(),
            self.auth.person(&[("tts", "agent")]),
            self.auth.person(&[("tts", "manager")]),
            self.admin.clone(),
            self.auth.person(&[("hdts", "employee")]),
            self.auth.api_key(&[("auth", "service")]),
        ]
    }

    pub async fn workflows(&self) -> WorkflowServiceClient<Channel> {
        WorkflowServiceClient::new(self.server.channel().await)
    }

    pub async fn tickets(&self) -> TicketServiceClient<Channel> {
        TicketServiceClient::new(self.server.channel().await)
    }

    /// A person holding `roles`, known to the directory with them.
    pub async fn person(&self, roles: &[(&str, &str)]) -> Caller {
        let caller = self.auth.person(roles);
        let id = caller.principal.as_ref().unwrap().id.clone();
        map_kit::testing::directory::add_person(&self.db.db, &caller, "IT", &id).await;
        caller
    }

    pub async fn create_workflow(
        &self,
        req: pb::CreateWorkflowRequest,
    ) -> Result<pb::Workflow, tonic::Status> {
        let mut c = self.workflows().await;
        Ok(c.create_workflow(self.admin.request(req))
            .await?
            .into_inner()
            .workflow
            .unwrap())
    }

    pub async fn publish(&self, w: &pb::Workflow) -> Result<pb::Workflow, tonic::Status> {
        let mut c = self.workflows().await;
        Ok(
            c.publish_workflow(self.admin.request(pb::PublishWorkflowRequest {
                workflow_id: w.id.clone(),
                revision: w.revision,
                etag: w.etag.clone(),
                request_id: uuid::Uuid::now_v7().to_string(),
            }))
            .await?
            .into_inner()
            .workflow
            .unwrap(),
        )
    }
}

pub fn step(id: &str, status: pb::TicketStatus, end: bool) -> pb::WorkflowStep {
    pb::WorkflowStep {
        id: id.into(),
        name: id.into(),
        role: "tts:agent".into(),
        escalation_role: "tts:manager".into(),
        sla: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        ticket_status: status.into(),
        end,
        weight: 0,
    }
}

pub fn go(
    from: &str,
    to: &str,
    action: &str,
    trigger: pb::TransitionTrigger,
) -> pb::WorkflowTransition {
    pb::WorkflowTransition {
        from_step_id: from.into(),
        to_step_id: to.into(),
        action: action.into(),
        name: action.into(),
        requires_comment: true,
        trigger: trigger.into(),
    }
}

/// work ⇄ waiting (a reply brings it back) → resolved (a reopen brings it back).
pub fn support(
    name: &str,
    department: &str,
    category: &str,
    sub: &str,
) -> pb::CreateWorkflowRequest {
    use pb::{TicketStatus as S, TransitionTrigger as T};
    pb::CreateWorkflowRequest {
        name: name.into(),
        description: "Desk support".into(),
        department_code: department.into(),
        category: category.into(),
        sub_category: sub.into(),
        steps: vec![
            step("work", S::InProgress, false),
            step("waiting", S::WaitingOnRequester, false),
            step("resolved", S::Resolved, true),
        ],
        transitions: vec![
            go("work", "waiting", "ask_requester", T::Manual),
            go("waiting", "work", "requester_replied", T::RequesterReplied),
            go("work", "resolved", "resolve", T::Manual),
            go("resolved", "work", "reopened", T::Reopened),
        ],
        initial_step_id: "work".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

/// The kit's readers of a status's `google.rpc` details.
#[allow(unused_imports)] // not every test binary reads details
pub use map_kit::testing::{fields, reason};
