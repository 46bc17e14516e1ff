//! Idempotent consumers: a [`Handler`] applies one event inside a database
//! transaction; the framework records the event in the inbox in that same
//! transaction, acknowledges only after the commit, retries a failing
//! handler with backoff, and dead-letters what cannot be applied.
//!
//! Per delivery:
//! 1. decode the envelope; undecodable → dead-letter at once, ack;
//! 2. continue the producer's trace (envelope trace context, else the
//!    `traceparent` header) in a `consume` span;
//! 3. begin a write transaction, record (consumer, event id) in the inbox;
//!    already there → ack without running the handler;
//! 4. run the handler, commit, ack. A transient failure rolls back and is
//!    retried up to [`ConsumerConfig::max_attempts`] times with exponential
//!    backoff; the last transient one, or a [`HandlerError::NotYet`] answer,
//!    parks the event in the consumer's database ([`super::parked`]) and
//!    acks, to be re-driven later; a permanent one publishes the message to
//!    `<queue>.dlq` with the reason in `x-map-error`, confirmed, then acks.
//!
//! Deliveries that arrive together are applied together: up to
//! [`ConsumerConfig::batch`] of them in one transaction (one inbox statement
//! for all, [`Handler::handle_batch`] for the new ones — by default the
//! handler for each, a batch-aware handler writes them at once — and one
//! commit), with at most
//! [`ConsumerConfig::concurrency`] such transactions in flight. While those
//! run, new deliveries wait in the channel, so batches grow with the load
//! and a lone event is applied at once. A batch whose handler fails is
//! rolled back and its events are applied one by one as above, so one bad
//! event cannot hold the others back.

use std::{
    any::Any,
    future::Future,
    sync::{Arc, OnceLock},
    time::Duration,
};

use map_contracts::events::v1::Envelope;
use prost::Message as _;
use sea_orm::{DatabaseTransaction, DbErr};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::{
    Bus, BusError, Incoming, backoff::Backoff, inbox, mirror::Freshness, parked, topology,
};
use crate::{db::Db, telemetry};

/// An event handed to a handler.
#[derive(Debug, Clone)]
pub struct Event {
    /// The decoded envelope.
    pub envelope: Envelope,
    /// Whether the broker delivered it before (the inbox decides duplicates;
    /// this is for logs).
    pub redelivered: bool,
    /// The `consume` span, continuing the producer's trace.
    span: tracing::Span,
    /// What [`Handler::prepare`] returned for this event, once it ran.
    prepared: Arc<OnceLock<Prepared>>,
}

/// What a handler's [`Handler::prepare`] hands to its [`Handler::handle`]:
/// any value, read back with [`Event::prepared`].
pub type Prepared = Arc<dyn Any + Send + Sync>;

impl Event {
    /// An event outside a consumer, e.g. to test a handler or apply an
    /// envelope by hand; its span is a new `consume` span.
    pub fn new(envelope: Envelope) -> Event {
        let span = tracing::info_span!(
            "consume",
            event_type = %envelope.r#type,
            event_id = %envelope.id,
        );
        Event {
            envelope,
            redelivered: false,
            span,
            prepared: Arc::default(),
        }
    }

    /// Records what [`Handler::prepare`] returned, as the consumer does
    /// before the event's transaction: for applying an event by hand (a test
    /// of a handler, a repair). A second value is ignored.
    pub fn set_prepared(&self, prepared: Prepared) {
        let _ = self.prepared.set(prepared);
    }

    /// The value [`Handler::prepare`] returned for this event, if it is a
    /// `T`.
    pub fn prepared<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.prepared.get().and_then(|p| p.downcast_ref::<T>())
    }

    /// The event id.
    pub fn id(&self) -> &str {
        &self.envelope.id
    }

    /// The event type (routing key).
    pub fn event_type(&self) -> &str {
        &self.envelope.r#type
    }

    /// The event's `consume` span (a child of the producer's trace): work
    /// done for this event belongs in it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Decodes the payload as `M`. A payload of another type, or one that
    /// does not decode, is a [`HandlerError::Permanent`]: retrying cannot help.
    pub fn payload<M: prost::Name + Default>(&self) -> Result<M, HandlerError> {
        let any = self
            .envelope
            .payload
            .as_ref()
            .ok_or_else(|| HandlerError::Permanent("the event has no payload".into()))?;
        if any.type_url != M::type_url() {
            return Err(HandlerError::Permanent(format!(
                "payload is {}, expected {}",
                any.type_url,
                M::type_url()
            )));
        }
        M::decode(any.value.as_slice())
            .map_err(|e| HandlerError::Permanent(format!("payload does not decode: {e}")))
    }

    /// How this event compares with the version of its subject a mirror
    /// holds (see [`super::mirror`]).
    pub fn freshness(&self, held: Option<i64>) -> Freshness {
        Freshness::of(held, self.envelope.subject_version)
    }
}

/// Why a handler did not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying: a database hiccup, a dependency away. Retried in
    /// process a few times, then parked like [`HandlerError::NotYet`].
    #[error("{0}")]
    Transient(String),
    /// Cannot be applied yet: the event it depends on has not arrived, or a
    /// service it must call is down. Parked at once in the consumer's
    /// database and re-driven with backoff ([`super::parked`]).
    #[error("{0}")]
    NotYet(String),
    /// Retrying cannot help (the event makes no sense to this handler): the
    /// event goes to the dead-letter queue at once.
    #[error("{0}")]
    Permanent(String),
}

impl From<DbErr> for HandlerError {
    fn from(e: DbErr) -> Self {
        HandlerError::Transient(e.to_string())
    }
}

/// Applies events of one queue. Writes go through `txn`, which also holds
/// the inbox rows; the framework commits it.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Work done for `event` **before** its transaction begins: calls out
    /// (an RPC to Auth such as NextAssignee, a look-up) that must not hold a
    /// write lock — SQLite's especially — across the network. What it
    /// returns reaches [`Handler::handle`] through [`Event::prepared`]. It
    /// runs once per delivery (a retried transaction reuses a value it
    /// returned), but
    /// again for a redelivered event, so a call out must be idempotent by
    /// event id (NextAssignee's `request_key` = the event id). Its error is
    /// handled like the handler's. The default does nothing.
    async fn prepare(&self, event: &Event) -> Result<Option<Prepared>, HandlerError> {
        let _ = event;
        Ok(None)
    }

    /// Applies `event`. Must not commit or roll back `txn`.
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError>;

    /// Applies several events in one transaction: those of a batch that the
    /// inbox found new, in delivery order, never the same event twice. It
    /// runs in a `consume_batch` span linked to each event's `consume` span.
    /// The default runs [`Handler::handle`] for each, in the event's span.
    ///
    /// Override it when the events' writes can be made in fewer statements
    /// (one multi-row insert for all of them, say): each statement is a
    /// database round trip, and they dominate a consumer's cost. It must
    /// leave the same state as `handle` would one by one, because an error
    /// here rolls the whole batch back and the consumer then applies its
    /// events one at a time through `handle` (which also decides which
    /// event is dead-lettered). Must not commit or roll back `txn`.
    async fn handle_batch(
        &self,
        events: &[&Event],
        txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError> {
        for event in events {
            self.handle(event, txn)
                .instrument(event.span.clone())
                .await?;
        }
        Ok(())
    }
}

/// How a consumer paces itself.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Most unacknowledged deliveries.
    pub prefetch: u16,
    /// Most events applied in one transaction.
    pub batch: usize,
    /// Most transactions in flight.
    pub concurrency: usize,
    /// Attempts of a failing handler before dead-lettering.
    pub max_attempts: u32,
    /// First retry delay; doubles up to `retry_max`.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Longest wait for in-flight events on shutdown.
    pub drain: Duration,
    /// First delay before a parked event is re-driven; doubles per failed
    /// re-drive up to `park_retry_max`.
    pub park_retry_min: Duration,
    /// Longest delay between re-drives of a parked event.
    pub park_retry_max: Duration,
    /// How long an event may stay parked before it is dead-lettered.
    pub park_for: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            prefetch: 128,
            batch: 64,
            concurrency: 4,
            max_attempts: 5,
            retry_min: Duration::from_millis(200),
            retry_max: Duration::from_secs(5),
            drain: Duration::from_secs(10),
            park_retry_min: Duration::from_secs(1),
            park_retry_max: Duration::from_secs(300),
            park_for: Duration::from_secs(48 * 3600),
        }
    }
}

/// How long a consumer remembers the events it applied (its inbox rows):
/// a redelivery later than this would be applied again. Far beyond any
/// broker redelivery (seconds to hours).
pub const INBOX_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often a running consumer prunes its inbox.
const INBOX_PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Longest a consumer goes without looking for due parked events, also when
/// it parked none itself (another replica may have parked them and gone).
const PARKED_POLL: Duration = Duration::from_secs(60);

/// Consumes one queue of the topology with one handler.
pub struct Consumer {
    shared: Shared,
}

/// Called after an event was applied, committed and acknowledged.
pub type AppliedHook = Arc<dyn Fn(&Event) + Send + Sync>;

struct Shared {
    queue: &'static str,
    db: Db,
    bus: Bus,
    handler: Arc<dyn Handler>,
    config: ConsumerConfig,
    on_applied: Option<AppliedHook>,
    /// Wakes the re-driver after this consumer parked an event.
    parked: tokio::sync::Notify,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("queue", &self.shared.queue)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Applied,
    Duplicate,
    Parked,
    DeadLettered,
}

/// What becomes of a parked event after a re-drive.
enum Redriven {
    /// Applied now, or found applied before: the row goes.
    Done,
    /// Not yet, again: the row waits longer.
    Postponed(String),
    /// Can never succeed (or waited too long): to the dead-letter queue.
    Hopeless(String),
}

impl Consumer {
    /// A consumer of `queue` (a logical name of [`topology::QUEUES`]) whose
    /// inbox and handler writes live in `db`.
    pub fn new(
        queue: &str,
        db: Db,
        bus: Bus,
        handler: impl Handler,
        config: ConsumerConfig,
    ) -> Result<Consumer, BusError> {
        let spec =
            topology::queue(queue).ok_or_else(|| BusError::UnknownQueue(queue.to_owned()))?;
        Ok(Consumer {
            shared: Shared {
                queue: spec.name,
                db,
                bus,
                handler: Arc::new(handler),
                config,
                on_applied: None,
                parked: tokio::sync::Notify::new(),
            },
        })
    }

    /// Calls `hook` after each event this consumer applied (committed and
    /// acknowledged), e.g. for metrics or end-to-end latency.
    pub fn on_applied(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Consumer {
        self.shared.on_applied = Some(Arc::new(hook));
        self
    }

    /// The queue's logical name (also the consumer's name in the inbox).
    pub fn queue(&self) -> &'static str {
        self.shared.queue
    }

    /// Consumes until `shutdown` resolves, then waits (bounded) for the
    /// events in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), BusError> {
        let shared = Arc::new(self.shared);
        let mut subscription = shared
            .bus
            .subscribe(shared.queue, shared.config.prefetch)
            .await?;
        tracing::info!(queue = shared.queue, "consumer started");
        let (stop_redriver, stopped) = tokio::sync::watch::channel(false);
        let redriver = tokio::spawn(shared.clone().redrive_parked(stopped));
        let mut in_flight = JoinSet::new();
        let concurrency = shared.config.concurrency.max(1);
        let batch = shared.config.batch.max(1);
        tokio::pin!(shutdown);
        let mut prune = tokio::time::interval(INBOX_PRUNE_EVERY);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = prune.tick() => {
                    let cutoff = chrono::Utc::now()
                        - chrono::Duration::from_std(INBOX_RETENTION).unwrap_or(chrono::Duration::days(7));
                    match inbox::prune(shared.db.conn(), shared.queue, cutoff).await {
                        Ok(0) => {}
                        Ok(pruned) => tracing::debug!(queue = shared.queue, pruned, "inbox pruned"),
                        Err(error) => tracing::warn!(queue = shared.queue, %error, "pruning the inbox failed"),
                    }
                }
                message = subscription.next(), if in_flight.len() < concurrency => match message {
                    Some(message) => {
                        let mut messages = vec![message];
                        while messages.len() < batch
                            && let Some(more) = subscription.try_next()
                        {
                            messages.push(more);
                        }
                        let shared = shared.clone();
                        in_flight.spawn(async move { shared.process_batch(messages).await });
                    }
                    None => break,
                },
            }
        }
        let drained = tokio::time::timeout(shared.config.drain, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                queue = shared.queue,
                "events still in flight at shutdown; they will be redelivered"
            );
        }
        let _ = stop_redriver.send(true);
        if tokio::time::timeout(shared.config.drain, redriver)
            .await
            .is_err()
        {
            tracing::warn!(
                queue = shared.queue,
                "a parked event's re-drive outlasted the drain; it stays parked"
            );
        }
        drop(subscription);
        Ok(())
    }
}

impl Shared {
    /// Applies deliveries that arrived together: in one transaction when
    /// there are several, falling back to one by one if that fails.
    async fn process_batch(&self, messages: Vec<Incoming>) {
        let mut ready = Vec::with_capacity(messages.len());
        for message in messages {
            match decode(&message) {
                Ok(envelope) => {
                    let span = self.span(&envelope, &message);
                    let event = Event {
                        envelope,
                        redelivered: message.redelivered,
                        span,
                        prepared: Arc::default(),
                    };
                    ready.push((event, message));
                }
                Err(reason) => {
                    tracing::warn!(queue = self.queue, %reason, "undecodable message");
                    self.dead_letter(message, &format!("undecodable: {reason}"))
                        .await;
                }
            }
        }
        if ready.len() > 1 {
            let events: Vec<&Event> = ready.iter().map(|(e, _)| e).collect();
            match self.apply(&events).await {
                Ok(applied) => {
                    let settled = ready.into_iter().zip(applied).map(
                        |((event, message), applied)| async move {
                            let span = event.span.clone();
                            self.settle(&event, message, applied).instrument(span).await;
                        },
                    );
                    futures::future::join_all(settled).await;
                    return;
                }
                Err(error) => {
                    tracing::debug!(queue = self.queue, %error, events = ready.len(), "batch failed; applying its events one by one");
                }
            }
        }
        for (event, message) in ready {
            let span = event.span.clone();
            self.apply_with_retries(event, message)
                .instrument(span)
                .await;
        }
    }

    /// One attempt: one inbox statement for all of `events`, the handler
    /// for the new ones ([`Handler::handle`] for one, [`Handler::handle_batch`]
    /// for several), one commit. Returns, per event, whether it was applied
    /// (false: a duplicate, also one listed twice).
    async fn apply(&self, events: &[&Event]) -> Result<Vec<bool>, HandlerError> {
        // Calls out first, with no transaction open.
        for event in events {
            if event.prepared.get().is_none()
                && let Some(value) = self
                    .handler
                    .prepare(event)
                    .instrument(event.span.clone())
                    .await?
            {
                let _ = event.prepared.set(value);
            }
        }
        let txn = self.db.begin_write().await?;
        let ids: Vec<&str> = events.iter().map(|e| e.id()).collect();
        let mut fresh = inbox::record_many(&txn, self.queue, &ids).await?;
        let applied: Vec<bool> = events.iter().map(|e| fresh.remove(e.id())).collect();
        let new: Vec<&Event> = events
            .iter()
            .zip(&applied)
            .filter_map(|(e, new)| new.then_some(*e))
            .collect();
        // An error drops `txn`, which rolls it back.
        match new.as_slice() {
            [] => {}
            [event] => {
                self.handler
                    .handle(event, &txn)
                    .instrument(event.span.clone())
                    .await?;
            }
            several => {
                // The batch's own span, linked to each event's `consume` span.
                let span = tracing::info_span!(
                    "consume_batch",
                    queue = self.queue,
                    events = several.len()
                );
                for event in several {
                    telemetry::link(&span, &event.span);
                }
                self.handler
                    .handle_batch(several, &txn)
                    .instrument(span)
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(applied)
    }

    /// The `consume` span of one event, continuing the producer's trace.
    fn span(&self, envelope: &Envelope, message: &Incoming) -> tracing::Span {
        let span = tracing::info_span!(
            "consume",
            queue = self.queue,
            event_type = %envelope.r#type,
            event_id = %envelope.id,
        );
        let trace = envelope.trace.as_ref().cloned().unwrap_or_default();
        let carrier = if trace.traceparent.is_empty() {
            telemetry::TraceHeaders {
                traceparent: message
                    .headers
                    .get("traceparent")
                    .cloned()
                    .unwrap_or_default(),
                tracestate: message
                    .headers
                    .get("tracestate")
                    .cloned()
                    .unwrap_or_default(),
            }
        } else {
            telemetry::TraceHeaders {
                traceparent: trace.traceparent,
                tracestate: trace.tracestate,
            }
        };
        telemetry::adopt_parent(&span, &carrier);
        span
    }

    async fn apply_with_retries(&self, event: Event, message: Incoming) -> Outcome {
        let mut backoff = Backoff::new(self.config.retry_min, self.config.retry_max);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply(&[&event]).await {
                Ok(applied) => {
                    let applied = applied.first().copied().unwrap_or(false);
                    self.settle(&event, message, applied).await;
                    return if applied {
                        Outcome::Applied
                    } else {
                        Outcome::Duplicate
                    };
                }
                Err(HandlerError::Permanent(reason)) => {
                    tracing::warn!(%reason, "handler rejected the event");
                    return self.dead_letter(message, &reason).await;
                }
                Err(HandlerError::NotYet(reason)) => {
                    return self.park(&event, message, &reason).await;
                }
                Err(HandlerError::Transient(reason)) if attempt >= self.config.max_attempts => {
                    tracing::warn!(attempt, %reason, "handler keeps failing; parking the event");
                    let reason = format!("failed {attempt} times; last error: {reason}");
                    return self.park(&event, message, &reason).await;
                }
                Err(HandlerError::Transient(reason)) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(attempt, %reason, ?delay, "handler failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// After the commit: acknowledges the delivery and, when the event was
    /// applied (not a duplicate), tells the hook.
    async fn settle(&self, event: &Event, message: Incoming, applied: bool) {
        if applied {
            #[cfg(feature = "test-hooks")]
            super::failpoint::hit(super::failpoint::CONSUMER_AFTER_COMMIT);
        } else {
            tracing::debug!("already applied; acknowledging the duplicate");
        }
        if let Err(error) = message.ack().await {
            // Committed but not acknowledged: the broker redelivers it and
            // the inbox recognises it.
            tracing::warn!(%error, "ack failed after commit");
        }
        if applied && let Some(hook) = &self.on_applied {
            hook(event);
        }
    }

    /// Parks `event` in the consumer's database and acks its delivery. If
    /// the row cannot be written, the message goes back to the queue after
    /// a pause (each such redelivery counts toward the queue's delivery
    /// limit, as with any failure to settle).
    async fn park(&self, event: &Event, message: Incoming, reason: &str) -> Outcome {
        let now = chrono::Utc::now();
        let retry_at = now + chrono_delay(self.config.park_retry_min);
        let parked = parked::park(
            self.db.conn(),
            self.queue,
            event,
            &message.body,
            reason,
            now,
            retry_at,
        )
        .await;
        match parked {
            Ok(()) => {
                tracing::warn!(%reason, "event parked; it will be re-driven");
                if let Err(error) = message.ack().await {
                    // Parked and redelivered: the redelivery parks it again
                    // (a no-op) or applies it, and the inbox keeps it once.
                    tracing::warn!(%error, "ack of a parked message failed");
                }
                self.parked.notify_one();
                Outcome::Parked
            }
            Err(error) => {
                tracing::error!(%error, "cannot park the event; it will be redelivered");
                tokio::time::sleep(self.config.retry_max).await;
                message.requeue().await;
                Outcome::Parked
            }
        }
    }

    /// Re-drives this consumer's due parked events one at a time until
    /// `stop`, sleeping until the next is due (at most [`PARKED_POLL`]) or
    /// until this consumer parks one.
    async fn redrive_parked(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut failures = 0;
        loop {
            let pause = match self.redrive_due().await {
                Ok(next) => {
                    failures = 0;
                    next.map_or(PARKED_POLL, |next| {
                        (next - chrono::Utc::now())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                            .min(PARKED_POLL)
                    })
                }
                Err(error) => {
                    failures += 1;
                    let delay =
                        Backoff::nth(self.config.retry_min, self.config.retry_max, failures);
                    tracing::warn!(queue = self.queue, %error, ?delay, "re-driving parked events failed");
                    delay
                }
            };
            tokio::select! {
                _ = stop.changed() => return,
                () = self.parked.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Re-drives every parked event due now, one claim each; returns when
    /// the next one is due.
    async fn redrive_due(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, sea_orm::DbErr> {
        loop {
            let now = chrono::Utc::now();
            let mut claim = parked::claim_due(&self.db, self.queue, now, 1).await?;
            let Some(row) = claim.rows.pop() else {
                drop(claim);
                return parked::next_due(self.db.conn(), self.queue).await;
            };
            let outcome = self.redrive(&row).await;
            let txn = claim.txn(&self.db).await?;
            match outcome {
                Redriven::Done => parked::remove(txn, &row).await?,
                Redriven::Postponed(reason) => {
                    let delay = Backoff::nth(
                        self.config.park_retry_min,
                        self.config.park_retry_max,
                        u32::try_from(row.attempts).unwrap_or(0).saturating_add(1),
                    );
                    tracing::info!(queue = self.queue, event_id = row.event_id, %reason, ?delay, "parked event not applicable yet");
                    parked::postpone(txn, &row, &reason, now + chrono_delay(delay)).await?;
                }
                Redriven::Hopeless(reason) => {
                    let message =
                        Incoming::detached(&row.event_id, &row.event_type, row.envelope.clone());
                    match self.bus.dead_letter(self.queue, &message, &reason).await {
                        Ok(()) => {
                            tracing::warn!(queue = self.queue, event_id = row.event_id, %reason, "parked event dead-lettered");
                            parked::remove(txn, &row).await?;
                        }
                        Err(error) => {
                            tracing::error!(queue = self.queue, %error, "cannot dead-letter a parked event; it stays parked");
                            let retry_at = now + chrono_delay(self.config.retry_max);
                            parked::postpone(txn, &row, &reason, retry_at).await?;
                        }
                    }
                }
            }
            claim.commit().await?;
        }
    }

    /// One re-drive of a parked event: prepare, inbox, handler, commit, as
    /// for a delivery.
    async fn redrive(&self, row: &parked::Parked) -> Redriven {
        let message = Incoming::detached(&row.event_id, &row.event_type, row.envelope.clone());
        let envelope = match decode(&message) {
            Ok(envelope) => envelope,
            Err(reason) => return Redriven::Hopeless(format!("undecodable: {reason}")),
        };
        let span = self.span(&envelope, &message);
        let event = Event {
            envelope,
            redelivered: true,
            span: span.clone(),
            prepared: Arc::default(),
        };
        let attempt = self.apply(&[&event]).instrument(span).await;
        match attempt {
            Ok(applied) => {
                if applied.first().copied().unwrap_or(false)
                    && let Some(hook) = &self.on_applied
                {
                    hook(&event);
                }
                Redriven::Done
            }
            Err(HandlerError::Permanent(reason)) => Redriven::Hopeless(reason),
            Err(HandlerError::NotYet(reason) | HandlerError::Transient(reason)) => {
                let waited = chrono::Utc::now() - row.parked_at;
                if waited > chrono_delay(self.config.park_for) {
                    Redriven::Hopeless(format!(
                        "parked for {}s, longer than the limit; last reason: {reason}",
                        waited.num_seconds()
                    ))
                } else {
                    Redriven::Postponed(reason)
                }
            }
        }
    }

    /// Publishes to the `.dlq` (confirmed) and acks. If the dead letter
    /// cannot be published, the message stays unacknowledged and comes back.
    async fn dead_letter(&self, message: Incoming, reason: &str) -> Outcome {
        match self.bus.dead_letter(self.queue, &message, reason).await {
            Ok(()) => {
                if let Err(error) = message.ack().await {
                    tracing::warn!(%error, "ack of a dead-lettered message failed");
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot dead-letter; the message will be redelivered");
                tokio::time::sleep(self.config.retry_max).await;
                message.requeue().await;
            }
        }
        Outcome::DeadLettered
    }
}

fn chrono_delay(delay: Duration) -> chrono::Duration {
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

fn decode(message: &Incoming) -> Result<Envelope, String> {
    let envelope = Envelope::decode(message.body.as_slice()).map_err(|e| e.to_string())?;
    if uuid::Uuid::parse_str(&envelope.id).is_err() {
        return Err("envelope id is not a UUID".into());
    }
    if envelope.r#type.is_empty() {
        return Err("envelope has no type".into());
    }
    Ok(envelope)
}
