//! `map bench ticket-queries` (feature `bench`): the queries agents and
//! employees make all day, through TTS's real gRPC server, over a
//! PostgreSQL database filled with a synthetic help desk — first at
//! `--baseline-tickets` (10,000), then grown to `--tickets` (1,000,000) —
//! so the report shows whether a page's cost grows with the table:
//!
//! - an agent's queue: `assignee = me AND status IN (open) ORDER BY
//!   updated DESC LIMIT 50` (ListTickets);
//! - an employee's tickets: `requester = me ORDER BY created DESC`
//!   (ListTickets);
//! - a text search for a word in 0.1 % of tickets (SearchTickets);
//! - one ticket's history (ListTicketEvents).
//!
//! The data are made by SQL in the database (`generate_series`): 50 agents,
//! 200 requesters, 70 % of tickets closed, three history events and one
//! comment per ticket, creation times a minute apart.

use std::{sync::Arc, time::Instant};

use futures::future::BoxFuture;
use map_bench::{LoadOptions, Report, run_load};
use map_contracts::tts::v1::{self as pb, ticket_service_client::TicketServiceClient};
use map_kit::{
    ApiError,
    authn::{Principal, PrincipalKind, RoleRef, Validator},
    clock::Clock,
    db::Db,
    paging::Pager,
    server::GrpcServer,
};
use prost::Message as _;
use sea_orm::{ConnectionTrait as _, DbErr, Statement};
use tokio::net::TcpListener;
use tonic::transport::Channel;

use crate::{
    grpc::grpc_server,
    tickets::{Tickets, assign::Assigner, live::LiveTickets},
    workflows::{Workflows, roles::FixedRoles},
};

/// `map bench ticket-queries` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct TicketQueriesArgs {
    /// Tickets in the measured table.
    #[arg(long, default_value_t = 1_000_000)]
    pub tickets: u64,
    /// Tickets of the first, small measurement.
    #[arg(long, default_value_t = 10_000)]
    pub baseline_tickets: u64,
    /// The PostgreSQL server to make the run's database on.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
}

const AGENTS: u64 = 50;
/// Few enough that every requester has a full page (50) of tickets at the
/// baseline's 10,000, so both sizes measure the same page.
const REQUESTERS: u64 = 200;
/// In 0.1 % of tickets' subjects.
const RARE_WORD: &str = "zephyr";
const BEARER: &str = "bench-agent-token";

/// The id of synthetic row `i` of `kind` — a UUID whose first group names
/// the kind and whose last holds `i`, as the SQL makes it.
fn uuid_of(kind: Kind, i: u64) -> String {
    format!("{}-0000-7000-8000-{i:012x}", kind.prefix())
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Ticket,
    Agent,
    Requester,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Ticket => "10000000",
            Kind::Agent => "20000000",
            Kind::Requester => "30000000",
        }
    }

    /// The same id in SQL, of the integer expression `i`.
    fn sql(self, i: &str) -> String {
        format!(
            "'{}-0000-7000-8000-' || lpad(to_hex({i}), 12, '0')",
            self.prefix()
        )
    }
}

/// The rows of tickets `from..to`, their history and comments, by SQL.
async fn fill(db: &Db, from: u64, to: u64, total: u64, event: &[u8]) -> Result<(), DbErr> {
    let conn = db.conn();
    let backend = db.backend();
    let tickets = format!(
        "INSERT INTO tickets (id, number, hdts_ticket_id, subject, description, requester_user_id, \
         department_code, category, sub_category, priority, status, step_id, assignee_user_id, \
         workflow_id, workflow_revision, workflow_match, triage_reason, version, created_at, \
         updated_at, resolved_at, closed_at, help_topic_id, requester_version) \
         SELECT {ticket}, 'TT-' || lpad(g::text, 7, '0'), NULL, \
         'Ticket ' || g || ' ' || (ARRAY['laptop','printer','network','monitor','keyboard','vpn','email'])[1 + g % 7] \
           || CASE WHEN g % 1000 = 7 THEN ' {RARE_WORD}' ELSE '' END, \
         'Reported by an employee: ' || (ARRAY['black screen','paper jam','slow','no signal','broken key'])[1 + g % 5], \
         {requester}, 'IT', 'Hardware', '', \
         (ARRAY['low','medium','high','urgent'])[1 + g % 4], \
         CASE WHEN g % 10 < 7 THEN 'closed' WHEN g % 10 = 7 THEN 'in_progress' \
              WHEN g % 10 = 8 THEN 'waiting_on_requester' ELSE 'open' END, \
         'work', {agent}, '', 0, '', '', 3, \
         now() - ({total} - g) * interval '1 minute', \
         now() - ({total} - g) * interval '1 minute' + (g % 997) * interval '1 minute', NULL, NULL, '', 0 \
         FROM generate_series({from}, {to} - 1) g",
        ticket = Kind::Ticket.sql("g"),
        requester = Kind::Requester.sql(&format!("g % {REQUESTERS}")),
        agent = Kind::Agent.sql(&format!("g % {AGENTS}")),
    );
    conn.execute_unprepared(&tickets).await?;
    let events = format!(
        "INSERT INTO ticket_events (id, ticket_id, kind, actor_user_id, occurred_at, ticket_version, event) \
         SELECT md5('event' || g || '.' || v)::uuid::text, {ticket}, 'updated', '', \
         now() - ({total} - g) * interval '1 minute' + v * interval '1 minute', v, $1 \
         FROM generate_series({from}, {to} - 1) g, generate_series(1, 3) v",
        ticket = Kind::Ticket.sql("g"),
    );
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        events,
        [event.to_vec().into()],
    ))
    .await?;
    let comments = format!(
        "INSERT INTO comments (id, ticket_id, author_user_id, body, visibility, hdts_reply_id, created_at) \
         SELECT md5('comment' || g)::uuid::text, {ticket}, {agent}, \
         'Looked at it: ' || (ARRAY['replaced the cable','rebooted','ordered a part','asked the vendor'])[1 + g % 4], \
         'public', NULL, now() - ({total} - g) * interval '1 minute' \
         FROM generate_series({from}, {to} - 1) g",
        ticket = Kind::Ticket.sql("g"),
        agent = Kind::Agent.sql(&format!("g % {AGENTS}")),
    );
    conn.execute_unprepared(&comments).await?;
    // As autovacuum would after a load: statistics, and the GIN indexes'
    // pending lists merged (a search scans a long pending list row by row).
    for table in ["tickets", "ticket_events", "comments"] {
        conn.execute_unprepared(&format!("VACUUM ANALYZE {table}"))
            .await?;
    }
    Ok(())
}

/// Every caller is one signed-in agent (the queries, not validation, are
/// measured).
#[derive(Debug)]
struct OneAgent(Arc<Principal>);

impl Validator for OneAgent {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Principal>>, ApiError>> {
        let found = (token == BEARER).then(|| self.0.clone());
        Box::pin(async move { Ok(found) })
    }
}

/// Nobody is assigned by these queries.
#[derive(Debug)]
struct NoAssigner;

impl Assigner for NoAssigner {
    fn next<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Runs the scenario on `db` (migrated, empty).
pub async fn run(
    db: &Db,
    load: &LoadOptions,
    args: &TicketQueriesArgs,
) -> Result<Vec<Report>, Box<dyn std::error::Error>> {
    let agent = Principal {
        id: uuid_of(Kind::Agent, 0),
        kind: PrincipalKind::User,
        email: "agent@bench.local".into(),
        display_name: "Bench agent".into(),
        department: "IT".into(),
        roles: vec![RoleRef {
            system: "tts".into(),
            role: "agent".into(),
        }],
    };
    let server: GrpcServer = grpc_server(
        Workflows::new(
            db.clone(),
            Arc::new(FixedRoles::seeded()),
            Clock::system(),
            Pager::random(),
        ),
        Tickets::new(
            db.clone(),
            Arc::new(NoAssigner),
            Clock::system(),
            Pager::random(),
        ),
        Arc::new(OneAgent(Arc::new(agent))),
        LiveTickets::new(map_kit::bus::live::Feed::default()),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let event = pb::TicketEvent {
        r#type: pb::TicketEventType::Updated.into(),
        details: Some(pb::ticket_event::Details::Updated(
            pb::TicketUpdatedDetails {
                changed_fields: vec!["subject".into()],
            },
        )),
        ..Default::default()
    }
    .encode_to_vec();

    let mut reports = Vec::new();
    let mut filled = 0;
    for size in [args.baseline_tickets.min(args.tickets), args.tickets] {
        let started = Instant::now();
        fill(db, filled, size, args.tickets, &event).await?;
        tracing::warn!(
            tickets = size,
            seconds = started.elapsed().as_secs_f64(),
            "filled"
        );
        filled = size;
        for query in Query::ALL {
            let mut report = measure(channel.clone(), query, size, load).await;
            report.notes.push(format!("{size} tickets"));
            reports.push(report);
        }
    }
    let _ = stop.send(());
    let _ = serving.await;
    Ok(reports)
}

#[derive(Debug, Clone, Copy)]
enum Query {
    Queue,
    MyTickets,
    Search,
    History,
}

impl Query {
    const ALL: [Query; 4] = [
        Query::Queue,
        Query::MyTickets,
        Query::Search,
        Query::History,
    ];

    fn name(self) -> &'static str {
        match self {
            Query::Queue => "tickets: agent's queue",
            Query::MyTickets => "tickets: employee's own",
            Query::Search => "tickets: text search",
            Query::History => "tickets: one's history",
        }
    }
}

async fn measure(channel: Channel, query: Query, size: u64, load: &LoadOptions) -> Report {
    let calls = std::sync::atomic::AtomicU64::new(0);
    let calls = Arc::new(calls);
    run_load(&format!("{} @{size}", query.name()), load, move |worker| {
        let mut client = TicketServiceClient::new(channel.clone());
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + worker as u64;
        async move {
            let pick = n.wrapping_mul(2_654_435_761) % size.max(1);
            match query {
                Query::Queue => {
                    let r = pb::ListTicketsRequest {
                        assignee_user_id: uuid_of(Kind::Agent, pick % AGENTS),
                        statuses: vec![
                            pb::TicketStatus::Open.into(),
                            pb::TicketStatus::InProgress.into(),
                            pb::TicketStatus::WaitingOnRequester.into(),
                            pb::TicketStatus::OnHold.into(),
                        ],
                        order_by: "update_time desc".into(),
                        page_size: 50,
                        ..Default::default()
                    };
                    client.list_tickets(with_token(r)).await.map(|_| ())
                }
                Query::MyTickets => {
                    let r = pb::ListTicketsRequest {
                        requester_user_id: uuid_of(
                            Kind::Requester,
                            pick % REQUESTERS.min(size.max(1)),
                        ),
                        page_size: 50,
                        ..Default::default()
                    };
                    client.list_tickets(with_token(r)).await.map(|_| ())
                }
                Query::Search => {
                    let r = pb::SearchTicketsRequest {
                        query: RARE_WORD.into(),
                        page_size: 50,
                        ..Default::default()
                    };
                    client.search_tickets(with_token(r)).await.map(|_| ())
                }
                Query::History => {
                    let r = pb::ListTicketEventsRequest {
                        ticket_id: uuid_of(Kind::Ticket, pick),
                        page_size: 50,
                        ..Default::default()
                    };
                    client.list_ticket_events(with_token(r)).await.map(|_| ())
                }
            }
        }
    })
    .await
}

fn with_token<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {BEARER}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}
