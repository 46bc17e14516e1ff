//! `ticket-intake`: the platform's first flow end to end, as deployed. An
//! employee submits in HDTS (`HelpDeskService/SubmitTicket`); the TTS worker
//! (queue `tts.ticket-tasks`) opens a TTS ticket on the matching published
//! workflow and assigns it round-robin through Auth's NextAssignee; the HDTS
//! worker (queue `hdts.ticket-updates`) mirrors the TTS number and status
//! back onto the help-desk ticket.
//!
//! Setup (not measured): [`Platform`] starts Auth, HDTS and TTS as separate
//! `map serve` and `map worker` processes on PostgreSQL and RabbitMQ; then,
//! over gRPC as the bootstrap administrator: a department (which reaches
//! HDTS's and TTS's directories through Auth's events), an employee with
//! `hdts:employee`, `--agents` users with `tts:agent`, a help topic and a
//! published workflow matching it. A first ticket goes through before the
//! load starts.
//!
//! The observers stay off the measured path. The bench binds a queue of its
//! own under the platform's prefix to `tts.ticket.created` (a live watch:
//! the event carries the TTS ticket with its assignee), so a call — submit,
//! then wait for that event — ends when TTS has committed the assigned
//! ticket and published it, without asking either system anything. The
//! mirror is seen by reading HDTS's database every `--mirror-poll-ms` for
//! the tickets still pending (one indexed query), which costs the platform
//! nothing it would notice and adds at most one poll interval to the
//! mirror's latency.
//!
//! Reports, in order:
//! 1. `submit → TTS ticket assigned`: the load's calls (closed loop at
//!    `--concurrency`, or open loop at `--rate`);
//! 2. `submit → HDTS mirror`: per ticket submitted in the measured window,
//!    submit → mirror seen; its throughput is the tickets whose mirror
//!    appeared within the window: the rate through the whole chain;
//! 3. unless `--no-ceilings`, after the platform is gone, the ceilings of
//!    the same run at the same concurrency, closed loop: the events pipeline
//!    (`events`, outbox → RabbitMQ → consumer) and NextAssignee alone
//!    (`next-assignee`, with its insert ceiling); the first two reports'
//!    notes give the ratios.

mod observe;
mod setup;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use map_contracts::{
    events::v1::TtsTicketCreated, hdts::v1::help_desk_service_client::HelpDeskServiceClient,
};
use map_kit::{System, db::Db};
use prost::Message as _;
use secrecy::SecretString;
use tokio::sync::watch;
use tonic::transport::Channel;

use self::{
    observe::{MirrorWatch, Opened, Openings, Stages, relay_note, system_time},
    setup::{Setup, probe, setup, submit},
};
use super::{
    baseline,
    platform::{BoxError, Platform, PlatformConfig},
};
use crate::{LoadOptions, Report, run_load};

/// Flags of `map bench ticket-intake`.
#[derive(Debug, Clone, clap::Args)]
pub struct TicketIntakeArgs {
    /// A PostgreSQL server (`postgres://…/postgres`): the run creates a
    /// database per system there and drops them at the end.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
    /// RabbitMQ; the run uses a fresh prefix and deletes it at the end.
    #[arg(
        long,
        env = "MAP_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: String,
    /// Users holding `tts:agent`, between whom tickets are assigned.
    #[arg(long, default_value_t = 8)]
    pub agents: usize,
    /// HTTP/2 connections the callers share to HDTS.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// How often HDTS's database is read for the mirrored tickets, in ms.
    #[arg(long, default_value_t = 10)]
    pub mirror_poll_ms: u64,
    /// Start the APIs without `MAP_AMQP_URL`: only the workers relay, as
    /// before `map serve` relayed its own commits.
    #[arg(long)]
    pub no_api_relay: bool,
    /// Skip the ceilings (the events pipeline and NextAssignee alone).
    #[arg(long)]
    pub no_ceilings: bool,
    /// `MAP_LOG` of the platform's processes.
    #[arg(long, default_value = "warn")]
    pub platform_log: String,
    /// The `map` binary to start; unset → this one.
    #[arg(long)]
    pub map_binary: Option<PathBuf>,
}

/// Longest wait for one ticket's assignment, and for setup steps that wait
/// for an event to reach another system.
const WAIT: Duration = Duration::from_secs(30);
/// Longest wait after the load for the last tickets' mirrors.
const MIRROR_DRAIN: Duration = Duration::from_secs(30);

/// Runs the scenario; the reports in the order of the module docs.
pub async fn run(opts: &LoadOptions, args: &TicketIntakeArgs) -> Result<Vec<Report>, BoxError> {
    let map = match &args.map_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?,
    };
    let config = PlatformConfig {
        map,
        database_server: args.database_server.clone(),
        amqp_url: SecretString::from(args.amqp_url.clone()),
        systems: vec![System::Hdts, System::Tts],
        api_relays: !args.no_api_relay,
        log: args.platform_log.clone(),
    };
    let mut platform = Platform::start(&config).await?;
    let result = intake(opts, args, &mut platform).await;
    let result =
        result.map_err(|e| -> BoxError { format!("{e}\n{}", platform.log_tails()).into() });
    platform.stop().await;
    let mut reports = result?;
    if !args.no_ceilings {
        let ceilings = ceilings(opts, args).await?;
        add_ratios(&mut reports, &ceilings);
        reports.extend(ceilings);
    }
    Ok(reports)
}

async fn intake(
    opts: &LoadOptions,
    args: &TicketIntakeArgs,
    platform: &mut Platform,
) -> Result<Vec<Report>, BoxError> {
    let api = |system: System| {
        platform
            .apis
            .get(&system)
            .copied()
            .ok_or_else(|| format!("{system} is not running"))
    };
    let (auth, hdts, tts) = (api(System::Auth)?, api(System::Hdts)?, api(System::Tts)?);
    let bus = platform.bus.clone().ok_or("no bus")?;
    let hdts_db = platform
        .databases
        .get(&System::Hdts)
        .map(|d| d.db.clone())
        .ok_or("no hdts database")?;

    // The watch first: its queue is bound by the time the probe's event
    // comes (the probe retries until one does).
    let openings = Arc::new(Openings::default());
    let observer = {
        let mut watch = bus.watch(&["tts.ticket.created"]).await?;
        let openings = openings.clone();
        tokio::spawn(async move {
            while let Some(envelope) = watch.next().await {
                let Some(t) = envelope
                    .payload
                    .and_then(|any| TtsTicketCreated::decode(any.value.as_slice()).ok())
                    .and_then(|created| created.ticket)
                else {
                    continue;
                };
                openings.opened(
                    t.hdts_ticket_id,
                    Opened {
                        assignee: t.assignee.map(|a| a.user_id).unwrap_or_default(),
                        triage_reason: t.triage_reason,
                        created: t.create_time.map(|c| system_time(c.seconds, c.nanos)),
                        seen: SystemTime::now(),
                    },
                );
            }
        })
    };
    let outcome = async {
        let setup = setup(
            baseline::channels(auth, 1).await?.remove(0),
            baseline::channels(hdts, 1).await?.remove(0),
            baseline::channels(tts, 1).await?.remove(0),
            &platform.admin,
            args.agents,
        )
        .await?;
        let channels = baseline::channels(hdts, args.connections.max(1)).await?;
        probe(&channels[0], &setup, &openings).await?;
        if let Some(name) = platform.exited() {
            return Err(format!("{name} ended during setup").into());
        }
        let mut reports = load(opts, args, &setup, channels, &openings, hdts_db).await;
        if let Some(assigned) = reports.first_mut() {
            assigned.notes.push(relay_note(platform).await);
        }
        Ok::<_, BoxError>((reports, setup))
    }
    .await;
    observer.abort();
    let (mut reports, setup) = outcome?;
    let (picks, triaged) = openings.picks(&setup.agents);
    let spread = picks.iter().max().unwrap_or(&0) - picks.iter().min().unwrap_or(&0);
    if let Some(assigned) = reports.first_mut() {
        assigned.notes.push(format!(
            "fairness: {} agents, tickets per agent {picks:?} (whole run), spread {spread}; {triaged} left in triage",
            setup.agents.len()
        ));
        assigned.notes.push(format!(
            "processes: map serve + map worker of auth, hdts, tts on PostgreSQL and RabbitMQ; the APIs {}",
            if args.no_api_relay {
                "do not relay (only the workers' relays, which find an API's commits at their next poll)"
            } else {
                "relay their own commits (woken by them), beside the workers' relays"
            }
        ));
        assigned.notes.push(
            "latency = SubmitTicket's start (open loop: its scheduled start) → tts.ticket.created with the assignee seen on the bench's own queue"
                .to_owned(),
        );
    }
    Ok(reports)
}

/// The load and the mirror's observation; the two reports.
async fn load(
    opts: &LoadOptions,
    args: &TicketIntakeArgs,
    setup: &Setup,
    channels: Vec<Channel>,
    openings: &Arc<Openings>,
    hdts_db: Db,
) -> Vec<Report> {
    let mirror = Arc::new(MirrorWatch::default());
    let (stop_tx, stop) = watch::channel(false);
    let poller = tokio::spawn(mirror.clone().poll(
        hdts_db,
        Duration::from_millis(args.mirror_poll_ms.max(1)),
        stop,
    ));

    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(opts.warmup.max(0.0));
    let end = warm_end + Duration::from_secs_f64(opts.duration.max(0.001));
    let (employee, topic) = (setup.employee.clone(), setup.topic_id.clone());
    let (call_openings, call_mirror) = (openings.clone(), mirror.clone());
    let stages = Arc::new(Stages::default());
    let call_stages = stages.clone();
    let mut assigned = run_load(
        "ticket intake: submit → TTS ticket assigned",
        opts,
        move |worker| {
            let client = HelpDeskServiceClient::new(channels[worker % channels.len()].clone());
            let (employee, topic) = (employee.clone(), topic.clone());
            let (openings, mirror) = (call_openings.clone(), call_mirror.clone());
            let stages = call_stages.clone();
            async move {
                let (started, started_at) = (Instant::now(), SystemTime::now());
                let (id, hdts_created) = submit(client, &employee, &topic).await?;
                let answered = SystemTime::now();
                mirror.submitted(id.clone(), started);
                let opened = openings.wait(&id).await?;
                if opened.assignee.is_empty() {
                    return Err(format!("not assigned: {}", opened.triage_reason));
                }
                if let (Some(hdts), Some(tts)) = (hdts_created, opened.created) {
                    let since = |later: SystemTime, earlier: SystemTime| {
                        later.duration_since(earlier).unwrap_or_default()
                    };
                    stages.record(
                        started,
                        [
                            since(answered, started_at),
                            since(tts, hdts),
                            since(opened.seen, tts),
                        ],
                    );
                }
                Ok(())
            }
        },
    )
    .await;

    // The last tickets' mirrors, then the mirror's report.
    let drained = Instant::now() + MIRROR_DRAIN;
    while mirror.pending() > 0 && Instant::now() < drained {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let _ = poller.await;
    let mut mirrored = mirror.report(opts, warm_end, end);
    mirrored.notes.push(format!(
        "latency = SubmitTicket's start → the ticket seen with its TTS number in HDTS's database (read every {} ms: up to that much later than it happened); throughput = mirrors that appeared within the measured window",
        args.mirror_poll_ms
    ));
    assigned.notes.push(format!(
        "through the whole chain (HDTS shows the TTS ticket): {:.0} tickets/s in the same window (next report)",
        mirrored.throughput
    ));
    assigned.notes.push(stages.note(warm_end, end));
    vec![assigned, mirrored]
}

/// The events pipeline and NextAssignee alone, closed loop at the same
/// concurrency, after the platform is gone.
async fn ceilings(opts: &LoadOptions, args: &TicketIntakeArgs) -> Result<Vec<Report>, BoxError> {
    let closed = LoadOptions {
        rate: None,
        ..opts.clone()
    };
    let mut reports = super::events::run(
        &closed,
        &super::events::EventsArgs {
            amqp_url: args.amqp_url.clone(),
            database_server: Some(args.database_server.clone()),
            prefetch: 128,
            pipeline_only: true,
            events_per_call: 1,
            per_event_handler: false,
            relay_apart: false,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    reports.extend(
        super::next_assignee::run(
            &closed,
            &super::next_assignee::NextAssigneeArgs {
                database_server: args.database_server.clone(),
                holders: args.agents.max(1),
                connections: args.connections.max(1),
                unkeyed: false,
            },
        )
        .await?,
    );
    Ok(reports)
}

/// The intake's figures as ratios of the ceilings measured in the same run.
fn add_ratios(intake: &mut [Report], ceilings: &[Report]) {
    let find = |prefix: &str| {
        ceilings
            .iter()
            .find(|r| r.scenario.starts_with(prefix))
            .map(|r| r.throughput)
    };
    let (Some(pipeline), Some(assignee)) = (find("events:"), find("auth NextAssignee")) else {
        return;
    };
    let chain = intake.get(1).map_or(0.0, |r| r.throughput);
    if let Some(assigned) = intake.first_mut() {
        assigned.notes.push(format!(
            "whole chain {chain:.0} tickets/s = {:.2}× the events pipeline ({pipeline:.0} events/s, closed loop, same run; target ≥ 0.2×)",
            chain / pipeline.max(1.0)
        ));
        assigned.notes.push(format!(
            "assigned {:.0} tickets/s = {:.2}× NextAssignee alone ({assignee:.0} calls/s, same run; one call per ticket)",
            assigned.throughput,
            assigned.throughput / assignee.max(1.0)
        ));
    }
}
