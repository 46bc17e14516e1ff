//! What `ticket-intake` observes without asking the systems anything on
//! the measured path: the TTS tickets opened (from the bench's own queue),
//! the HDTS mirrors (from HDTS's database), where each ticket's time went;
//! and, after the load, how long the chain's events waited in the outboxes.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant, SystemTime},
};

use map_kit::{System, db::Db};
use sea_orm::{
    ConnectionTrait as _,
    sea_query::{Expr, Query},
};
use tokio::sync::{oneshot, watch};

use super::{MIRROR_DRAIN, WAIT};
use crate::{Latency, LoadOptions, Report, new_histogram, scenarios::platform::Platform};

/// How long the chain's two events waited in their outboxes: enqueued (in
/// the producer's transaction) → marked published (after the broker's
/// confirm), read from the systems' databases after the load (whole run).
pub(super) async fn relay_note(platform: &Platform) -> String {
    let mut parts = Vec::new();
    for (system, event_type) in [
        (System::Hdts, "hdts.ticket.submitted"),
        (System::Tts, "tts.ticket.created"),
    ] {
        let Some(db) = platform.databases.get(&system) else {
            continue;
        };
        let sql = "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP \
                   (ORDER BY extract(epoch FROM published_at - created_at)) AS q \
                   FROM outbox WHERE event_type = $1 AND published_at IS NOT NULL";
        let statement = sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            sql,
            [event_type.into()],
        );
        let quantiles = db
            .db
            .conn()
            .query_one_raw(statement)
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get::<Vec<f64>>("", "q").ok());
        if let Some([p50, p99]) = quantiles.as_deref() {
            parts.push(format!(
                "{event_type} p50 {:.1} ms, p99 {:.1} ms",
                p50 * 1000.0,
                p99 * 1000.0
            ));
        }
    }
    format!(
        "outbox enqueue → published (confirmed), whole run: {}",
        parts.join("; ")
    )
}

/// What `tts.ticket.created` said of a help-desk ticket.
#[derive(Debug, Clone)]
pub(super) struct Opened {
    /// The assignee's user id; empty when the ticket went to triage.
    pub(super) assignee: String,
    /// Why it went to triage.
    pub(super) triage_reason: String,
    /// When TTS stamped its ticket (in the consumer's transaction, after the
    /// routing and the assignee pick).
    pub(super) created: Option<SystemTime>,
    /// When the event reached the bench.
    pub(super) seen: SystemTime,
}

pub(super) fn system_time(seconds: i64, nanos: i32) -> SystemTime {
    SystemTime::UNIX_EPOCH
        + Duration::new(
            u64::try_from(seconds).unwrap_or(0),
            u32::try_from(nanos).unwrap_or(0),
        )
}

/// Where each ticket's time went, from the times the systems stamp on their
/// tickets and the bench's own clock (one host, one clock): [SubmitTicket's
/// round trip, HDTS's ticket stamped → TTS's ticket stamped, TTS's ticket
/// stamped → its event at the bench].
#[derive(Debug, Default)]
pub(super) struct Stages {
    rows: Mutex<Vec<(Instant, [Duration; 3])>>,
}

impl Stages {
    pub(super) fn record(&self, started: Instant, stages: [Duration; 3]) {
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((started, stages));
    }

    /// The medians of the tickets started in `[from, to)`, as a note.
    pub(super) fn note(&self, from: Instant, to: Instant) -> String {
        let rows = self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let median = |i: usize| {
            let mut v: Vec<Duration> = rows
                .iter()
                .filter(|(s, _)| *s >= from && *s < to)
                .map(|(_, d)| d[i])
                .collect();
            v.sort_unstable();
            v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        format!(
            "stages (medians): SubmitTicket answered {:.1} ms; HDTS ticket stamped → TTS ticket stamped (HDTS commit, relay, broker, TTS consumer, NextAssignee) {:.1} ms; TTS ticket stamped → its event at the bench (TTS commit, relay, broker) {:.1} ms",
            median(0),
            median(1),
            median(2)
        )
    }
}

/// The TTS tickets opened, by HDTS ticket id, and who waits for which.
#[derive(Debug, Default)]
pub(super) struct Openings {
    state: Mutex<OpeningsState>,
}

#[derive(Debug, Default)]
pub(super) struct OpeningsState {
    slots: HashMap<String, Slot>,
    picks: HashMap<String, u64>,
    triaged: u64,
}

/// A caller waiting for a ticket's opening, or an opening that came before
/// its caller asked (the chain can beat SubmitTicket's answer).
#[derive(Debug)]
pub(super) enum Slot {
    Waiting(oneshot::Sender<Opened>),
    Arrived(Opened),
}

impl Openings {
    fn lock(&self) -> MutexGuard<'_, OpeningsState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn opened(&self, hdts_id: String, opened: Opened) {
        let mut state = self.lock();
        if opened.assignee.is_empty() {
            state.triaged += 1;
        } else {
            *state.picks.entry(opened.assignee.clone()).or_default() += 1;
        }
        match state.slots.remove(&hdts_id) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(opened);
            }
            _ => {
                state.slots.insert(hdts_id, Slot::Arrived(opened));
            }
        }
    }

    pub(super) async fn wait(&self, hdts_id: &str) -> Result<Opened, String> {
        self.wait_for(hdts_id, WAIT).await
    }

    pub(super) async fn wait_for(&self, hdts_id: &str, within: Duration) -> Result<Opened, String> {
        let rx = {
            let mut state = self.lock();
            if let Some(Slot::Arrived(opened)) = state.slots.remove(hdts_id) {
                return Ok(opened);
            }
            let (tx, rx) = oneshot::channel();
            state.slots.insert(hdts_id.to_owned(), Slot::Waiting(tx));
            rx
        };
        match tokio::time::timeout(within, rx).await {
            Ok(Ok(opened)) => Ok(opened),
            Ok(Err(_)) => Err("the observer stopped".into()),
            Err(_) => {
                self.lock().slots.remove(hdts_id);
                Err(format!("no TTS ticket within {within:?}"))
            }
        }
    }

    /// Tickets per agent (in `agents`' order) and tickets left in triage.
    pub(super) fn picks(&self, agents: &[String]) -> (Vec<u64>, u64) {
        let state = self.lock();
        let picks = agents
            .iter()
            .map(|a| state.picks.get(a).copied().unwrap_or(0))
            .collect();
        (picks, state.triaged)
    }
}

/// Tickets submitted and not yet seen mirrored, and when each was seen.
#[derive(Debug, Default)]
pub(super) struct MirrorWatch {
    state: Mutex<MirrorState>,
}

#[derive(Debug, Default)]
pub(super) struct MirrorState {
    /// HDTS ticket id → when its submission started.
    pending: HashMap<String, Instant>,
    /// (submission started, mirror seen) per mirrored ticket.
    seen: Vec<(Instant, Instant)>,
}

impl MirrorWatch {
    fn lock(&self) -> MutexGuard<'_, MirrorState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn submitted(&self, hdts_id: String, at: Instant) {
        self.lock().pending.insert(hdts_id, at);
    }

    pub(super) fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Reads HDTS's tickets every `every` until `stop`: the pending ones
    /// that show their TTS ticket (`tts_version > 0`, set with the TTS
    /// number by the mirror) are seen now.
    pub(super) async fn poll(
        self: Arc<Self>,
        db: Db,
        every: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        use sea_orm::sea_query::ExprTrait as _;
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(every) => {}
            }
            let ids: Vec<String> = self.lock().pending.keys().cloned().collect();
            if ids.is_empty() {
                continue;
            }
            let query = Query::select()
                .column("id")
                .from("hdts_tickets")
                .and_where(Expr::col("tts_version").gt(0))
                .and_where(Expr::col("id").is_in(ids))
                .to_owned();
            let Ok(rows) = db.conn().query_all(&query).await else {
                continue;
            };
            let now = Instant::now();
            let mut state = self.lock();
            for row in rows {
                if let Ok(id) = row.try_get::<String>("", "id")
                    && let Some(started) = state.pending.remove(&id)
                {
                    state.seen.push((started, now));
                }
            }
        }
    }

    /// The mirror's report for the window `[warm_end, end)`.
    pub(super) fn report(&self, opts: &LoadOptions, warm_end: Instant, end: Instant) -> Report {
        let state = self.lock();
        let window = |t: Instant| t >= warm_end && t < end;
        let mut hist = new_histogram();
        for (started, seen) in state.seen.iter().filter(|(s, _)| window(*s)) {
            let us = u64::try_from(seen.duration_since(*started).as_micros()).unwrap_or(u64::MAX);
            hist.saturating_record(us.max(1));
        }
        let appeared = state.seen.iter().filter(|(_, seen)| window(*seen)).count();
        let missing = state.pending.values().filter(|s| window(**s)).count();
        let duration = end.duration_since(warm_end).as_secs_f64().max(1e-9);
        Report {
            scenario: "ticket intake: submit → HDTS mirror shows it".to_owned(),
            concurrency: opts.concurrency.max(1),
            target_rate: opts.rate,
            duration_s: duration,
            calls: hist.len(),
            errors: missing as u64,
            throughput: appeared as f64 / duration,
            latency: Latency::of(&hist),
            first_error: (missing > 0).then(|| {
                format!("{missing} tickets of the window not mirrored within {MIRROR_DRAIN:?} after the load")
            }),
            notes: Vec::new(),
        }
    }
}
