//! The in-process bus: RabbitMQ's semantics without a broker, for `map dev`
//! and tests. Every queue of the topology (and its `.dlq`) exists from the
//! start and buffers messages until a consumer takes them; routing follows
//! the topic bindings; a message delivered but not acknowledged when its
//! [`MemoryAck`] is dropped (consumer gone) goes back to the front of its
//! queue, marked redelivered. Nothing survives the process.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast, mpsc};

use super::{
    Acker, BusError, ERROR_HEADER, Incoming, Outgoing, PublishError, Subscription,
    live::{self, Watch},
    topology,
    topology::Names,
};

/// Most messages a queue holds; beyond it publishes are refused, like
/// `x-overflow=reject-publish` with a length limit. It bounds the memory held
/// by queues whose consumer is not running.
pub const QUEUE_LIMIT: usize = 100_000;

#[derive(Debug, Clone)]
struct Stored {
    body: Vec<u8>,
    message_id: String,
    event_type: String,
    routing_key: String,
    headers: BTreeMap<String, String>,
    redelivered: bool,
}

#[derive(Debug, Default)]
struct Queue {
    ready: VecDeque<Stored>,
}

#[derive(Debug)]
struct Shared {
    queues: Mutex<HashMap<String, Queue>>,
    /// One per queue: a message became ready.
    ready: HashMap<String, Arc<Notify>>,
    /// Every published event, for live watches.
    live: broadcast::Sender<(String, Vec<u8>)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Queue>> {
        // A panic while holding the lock cannot leave a queue half-changed
        // (every critical section is a single push or pop), so a poisoned
        // lock is still consistent.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, queue: &str, stored: Stored, front: bool) {
        {
            let mut queues = self.lock();
            let Some(q) = queues.get_mut(queue) else {
                return;
            };
            if front {
                q.ready.push_front(stored);
            } else {
                q.ready.push_back(stored);
            }
        }
        if let Some(n) = self.ready.get(queue) {
            n.notify_one();
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct MemoryBus {
    names: Names,
    shared: Arc<Shared>,
}

impl MemoryBus {
    /// A bus with every queue of the topology and its dead-letter queue.
    pub(crate) fn new(names: Names) -> MemoryBus {
        let mut queues = HashMap::new();
        let mut ready = HashMap::new();
        for q in topology::QUEUES {
            for name in [
                q.name.to_owned(),
                format!("{}{}", q.name, topology::DLQ_SUFFIX),
            ] {
                queues.insert(name.clone(), Queue::default());
                ready.insert(name, Arc::new(Notify::new()));
            }
        }
        MemoryBus {
            names,
            shared: Arc::new(Shared {
                queues: Mutex::new(queues),
                ready,
                live: broadcast::Sender::new(live::WATCH_BUFFER),
            }),
        }
    }

    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    /// Routes each message to every bound queue; unroutable is a failure
    /// (mandatory), and so is a full target queue (reject-publish).
    pub(crate) fn publish(&self, messages: &[Outgoing]) -> Vec<Result<(), PublishError>> {
        messages
            .iter()
            .map(|m| {
                let targets = topology::routes(&m.event_type);
                if targets.is_empty() {
                    return Err(PublishError::Unroutable(m.event_type.clone()));
                }
                let mut headers = BTreeMap::new();
                if !m.traceparent.is_empty() {
                    headers.insert("traceparent".to_owned(), m.traceparent.clone());
                }
                if !m.tracestate.is_empty() {
                    headers.insert("tracestate".to_owned(), m.tracestate.clone());
                }
                let stored = Stored {
                    body: m.body.clone(),
                    message_id: m.id.clone(),
                    event_type: m.event_type.clone(),
                    routing_key: m.event_type.clone(),
                    headers,
                    redelivered: false,
                };
                {
                    let queues = self.shared.lock();
                    if targets
                        .iter()
                        .any(|t| queues.get(*t).is_some_and(|q| q.ready.len() >= QUEUE_LIMIT))
                    {
                        return Err(PublishError::Nacked);
                    }
                }
                for t in targets {
                    self.shared.push(t, stored.clone(), false);
                }
                // Nobody watching is not an error.
                let _ = self
                    .shared
                    .live
                    .send((m.event_type.clone(), m.body.clone()));
                Ok(())
            })
            .collect()
    }

    pub(crate) fn dead_letter(
        &self,
        queue: &str,
        message: &Incoming,
        reason: &str,
    ) -> Result<(), BusError> {
        let mut headers = message.headers.clone();
        headers.insert(ERROR_HEADER.to_owned(), reason.to_owned());
        let stored = Stored {
            body: message.body.clone(),
            message_id: message.message_id.clone().unwrap_or_default(),
            event_type: message.event_type.clone().unwrap_or_default(),
            routing_key: message.routing_key.clone(),
            headers,
            redelivered: false,
        };
        self.shared
            .push(&format!("{queue}{}", topology::DLQ_SUFFIX), stored, false);
        Ok(())
    }

    pub(crate) fn watch(&self, patterns: Vec<String>) -> Watch {
        let (tx, rx) = mpsc::channel(live::WATCH_BUFFER);
        let mut published = self.shared.live.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let (key, body) = match published.recv().await {
                    Ok(m) => m,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a live watch fell behind; events dropped");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if !live::matches(&patterns, &key) {
                    continue;
                }
                if let Some(envelope) = live::envelope(&body)
                    && tx.send(envelope).await.is_err()
                {
                    return;
                }
            }
        });
        Watch { rx, task }
    }

    pub(crate) fn subscribe(&self, queue: &str, prefetch: u16) -> Result<Subscription, BusError> {
        let notify = self
            .shared
            .ready
            .get(queue)
            .cloned()
            .ok_or_else(|| BusError::UnknownQueue(queue.to_owned()))?;
        let (tx, rx) = mpsc::channel(usize::from(prefetch.max(1)));
        let credit = Arc::new(Semaphore::new(usize::from(prefetch.max(1))));
        let shared = self.shared.clone();
        let queue = queue.to_owned();
        let task = tokio::spawn(async move {
            loop {
                let Ok(permit) = credit.clone().acquire_owned().await else {
                    return;
                };
                let stored = loop {
                    let notified = notify.notified();
                    let popped = shared
                        .lock()
                        .get_mut(&queue)
                        .and_then(|q| q.ready.pop_front());
                    match popped {
                        Some(s) => break s,
                        None => notified.await,
                    }
                };
                let incoming = Incoming {
                    body: stored.body.clone(),
                    message_id: Some(stored.message_id.clone()).filter(|s| !s.is_empty()),
                    event_type: Some(stored.event_type.clone()).filter(|s| !s.is_empty()),
                    routing_key: stored.routing_key.clone(),
                    headers: stored.headers.clone(),
                    redelivered: stored.redelivered,
                    ack: Acker::Memory(MemoryAck {
                        pending: Some((shared.clone(), queue.clone(), stored)),
                        _credit: permit,
                    }),
                };
                // A closed receiver drops the message's ack handle, which
                // puts the message back.
                if tx.send(incoming).await.is_err() {
                    return;
                }
            }
        });
        Ok(Subscription { rx, task })
    }
}

/// The acknowledgement handle of an in-process delivery; holds one unit of
/// the subscription's prefetch credit until acknowledged or dropped.
#[derive(Debug)]
pub(crate) struct MemoryAck {
    pending: Option<(Arc<Shared>, String, Stored)>,
    _credit: OwnedSemaphorePermit,
}

impl MemoryAck {
    pub(crate) fn ack(mut self) {
        self.pending = None;
    }
}

impl Drop for MemoryAck {
    fn drop(&mut self) {
        if let Some((shared, queue, mut stored)) = self.pending.take() {
            stored.redelivered = true;
            shared.push(&queue, stored, true);
        }
    }
}
