//! Ticket tracking: its migrator and its API — WorkflowService,
//! TicketService (assignees from Auth's round-robin), UploadService,
//! CannedResponseService and SlaService (its reports UNIMPLEMENTED until
//! they land) — with callers validated by Auth, and step roles, canned
//! responses' teams and escalation roles checked against Auth's roles of
//! TTS. Its worker keeps the directory
//! and the copy of HDTS's help topics, opens tickets for submissions,
//! reassigns the work of people who left, prunes stale uploads, fires the
//! SLA timers and reassigns escalated tickets.

use std::sync::Arc;

use anyhow::Context as _;
use map_kit::{
    System,
    authn::{Authenticator, CacheConfig},
    bus::{Consumer, ConsumerConfig},
    clock::Clock,
};
use map_tts::{
    sla::{
        clocks,
        escalation::{self, Escalations},
        timers::{self, ClockTimer, LevelTimer},
    },
    tickets::{
        Tickets,
        assign::AuthAssigner,
        intake::{self, Intake},
        live::LiveTickets,
        reassign::{self, UserSync},
    },
    topics::{self, TopicSync},
    workflows::{Workflows, roles::AuthRoles},
};

use super::Module;

pub(super) static MODULE: Module = Module {
    system: System::Tts,
    migrate: |url| Box::pin(map_kit::db::migrate::<map_migrations::tts::Migrator>(url)),
    api: |api| {
        let config = api.config;
        let auth = config.auth.as_ref().context("tts needs MAP_AUTH_URL")?;
        let api_key = config
            .auth_api_key
            .as_ref()
            .context("tts needs MAP_AUTH_API_KEY")?;
        let channel = map_kit::authn::auth_channel(auth);
        let roles = AuthRoles::new(channel.clone(), api_key).context("MAP_AUTH_API_KEY")?;
        let assigner = AuthAssigner::new(channel, api_key).context("MAP_AUTH_API_KEY")?;
        let workflows = Workflows::new(
            api.db.clone(),
            Arc::new(roles),
            Clock::system(),
            config.pager()?,
        );
        let tickets = Tickets::new(
            api.db.clone(),
            Arc::new(assigner),
            Clock::system(),
            config.pager()?,
        )
        .with_upload_limits(config.uploads);
        let validator = Arc::new(Authenticator::connect_lazy(auth, CacheConfig::default()));
        let live = LiveTickets::new(api.live.clone());
        Ok(map_tts::grpc_server(workflows, tickets, validator, live))
    },
    consumers: |w| {
        let (db, bus) = (w.db, w.bus);
        let auth = w
            .auth
            .context("the tts worker needs MAP_AUTH_URL and MAP_AUTH_API_KEY")?;
        let channel = map_kit::authn::auth_channel(&auth.target);
        let assigner = AuthAssigner::new(channel, &auth.api_key).context("MAP_AUTH_API_KEY")?;
        // The worker lists nothing: its page tokens are never shown.
        let tickets = Tickets::new(
            db.clone(),
            Arc::new(assigner),
            Clock::system(),
            map_kit::paging::Pager::random(),
        );
        Ok(vec![
            Consumer::new(
                topics::QUEUE,
                db.clone(),
                bus.clone(),
                TopicSync,
                ConsumerConfig::default(),
            )?,
            Consumer::new(
                reassign::QUEUE,
                db.clone(),
                bus.clone(),
                UserSync::new(tickets.clone()),
                ConsumerConfig::default(),
            )?,
            Consumer::new(
                intake::QUEUE,
                db.clone(),
                bus.clone(),
                Intake::new(tickets.clone()),
                ConsumerConfig::default(),
            )?,
            Consumer::new(
                escalation::QUEUE,
                db.clone(),
                bus.clone(),
                Escalations::new(tickets),
                ConsumerConfig::default(),
            )?,
        ])
    },
    timers: |worker, _| {
        worker
            .handle(clocks::WARNING, ClockTimer::warning(Clock::system()))
            .handle(clocks::BREACH, ClockTimer::breach(Clock::system()))
            .handle(timers::LEVEL, LevelTimer::new(Clock::system()))
    },
    holds_files: true,
};
