//! The event backbone: outbox relay, topology, consumers with an inbox, the
//! AMQP transport and the in-process bus.
//!
//! A [`Bus`] is one of two transports with the same semantics:
//! - RabbitMQ ([`Bus::connect`] with a URL): the topic exchange `map.events`,
//!   one durable quorum queue per consumer purpose ([`topology::QUEUES`]) with
//!   its `.dlq`, persistent mandatory publishes with publisher confirms, and a
//!   connection that is replaced by a fresh one whenever it fails;
//! - in-process ([`Bus::in_process`]), for `map dev` and tests without a
//!   broker: the same topic routing (`*`, `#`), per-consumer queues that buffer
//!   events until their consumer starts, at-least-once delivery with acks, and
//!   dead-letter queues.
//!
//! Above the bus, [`relay::Relay`] moves a system's outbox rows to the bus and
//! [`consumer::Consumer`] applies events exactly once per consumer through the
//! [`inbox`]; [`Bus::watch`] feeds an API replica's live streams ([`live`]).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use map_contracts::events::v1::Envelope;
use secrecy::SecretString;
use tokio::{sync::mpsc, task::JoinHandle};

mod amqp;
pub(crate) mod backoff;
pub mod consumer;
#[cfg(feature = "test-hooks")]
pub mod failpoint;
#[cfg(feature = "test-hooks")]
mod gate;
pub mod inbox;
pub mod live;
mod memory;
pub mod mirror;
pub mod parked;
#[cfg(feature = "test-hooks")]
pub mod probe;
pub mod relay;
pub mod topology;

pub use consumer::{Consumer, ConsumerConfig, Event, Handler, HandlerError, Prepared};
#[cfg(feature = "test-hooks")]
pub use gate::PublishGate;
pub use relay::{Relay, RelayConfig};
pub use topology::Names;

/// `content_type` of every event message.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// Header naming why a message was dead-lettered.
pub const ERROR_HEADER: &str = "x-map-error";
/// How long a publish waits for the broker's confirms.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

/// A message to publish: an outbox row's encoded envelope and what the
/// transport puts in its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The event id: the AMQP `message_id`.
    pub id: String,
    /// The event type: the routing key and the AMQP `type`.
    pub event_type: String,
    /// The encoded `map.events.v1.Envelope`.
    pub body: Vec<u8>,
    /// W3C `traceparent` of the request that caused the event; may be empty.
    pub traceparent: String,
    /// W3C `tracestate`; usually empty.
    pub tracestate: String,
}

impl Outgoing {
    /// The message of an envelope.
    pub fn from_envelope(envelope: &Envelope) -> Outgoing {
        use prost::Message as _;
        let trace = envelope.trace.clone().unwrap_or_default();
        Outgoing {
            id: envelope.id.clone(),
            event_type: envelope.r#type.clone(),
            body: envelope.encode_to_vec(),
            traceparent: trace.traceparent,
            tracestate: trace.tracestate,
        }
    }
}

/// Longest wait for an acknowledgement (or a requeue) to be handed to the
/// broker connection.
pub const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A delivered message. Acknowledge it with [`Incoming::ack`] once its
/// effects are committed; dropping it unacknowledged returns it to the queue
/// (in process) or leaves it to be redelivered (RabbitMQ).
#[derive(Debug)]
pub struct Incoming {
    /// The message body.
    pub body: Vec<u8>,
    /// AMQP `message_id` (the event id), if set.
    pub message_id: Option<String>,
    /// AMQP `type` (the event type), if set.
    pub event_type: Option<String>,
    /// The routing key it was published with.
    pub routing_key: String,
    /// String-valued headers (`traceparent`, `x-map-error`, ...).
    pub headers: BTreeMap<String, String>,
    /// Whether the broker delivered it before.
    pub redelivered: bool,
    ack: Acker,
}

impl Incoming {
    /// Acknowledges the message: the broker forgets it.
    ///
    /// Bounded by [`SETTLE_TIMEOUT`]: an acknowledgement on the channel of a
    /// connection that was since replaced may otherwise wait forever for an
    /// answer that never comes. A lost acknowledgement only means a
    /// redelivery, which the inbox recognises.
    pub async fn ack(self) -> Result<(), BusError> {
        match self.ack {
            Acker::Amqp(acker) => {
                let ack = acker.ack(lapin::options::BasicAckOptions::default());
                match tokio::time::timeout(SETTLE_TIMEOUT, ack).await {
                    Ok(acked) => acked
                        .map(|_| ())
                        .map_err(|e| BusError::Unavailable(e.to_string())),
                    Err(_) => Err(BusError::Unavailable(format!(
                        "no acknowledgement sent within {SETTLE_TIMEOUT:?}"
                    ))),
                }
            }
            Acker::Memory(ack) => {
                ack.ack();
                Ok(())
            }
            Acker::Detached => Ok(()),
        }
    }
}

impl Incoming {
    /// A message rebuilt from a stored envelope (a parked event), with no
    /// delivery to settle: acknowledging it does nothing.
    pub(crate) fn detached(event_id: &str, event_type: &str, body: Vec<u8>) -> Incoming {
        Incoming {
            body,
            message_id: Some(event_id.to_owned()),
            event_type: Some(event_type.to_owned()),
            routing_key: event_type.to_owned(),
            headers: BTreeMap::new(),
            redelivered: true,
            ack: Acker::Detached,
        }
    }

    /// Gives the message back to the queue for redelivery (a negative
    /// acknowledgement with requeue), bounded like [`Incoming::ack`]. Failure
    /// is ignored: a broken channel requeues its unacknowledged messages
    /// anyway.
    pub async fn requeue(self) {
        match self.ack {
            Acker::Amqp(acker) => {
                let nack = acker.nack(lapin::options::BasicNackOptions {
                    multiple: false,
                    requeue: true,
                });
                let _ = tokio::time::timeout(SETTLE_TIMEOUT, nack).await;
            }
            // Dropping an unacknowledged in-process delivery requeues it.
            Acker::Memory(ack) => drop(ack),
            Acker::Detached => {}
        }
    }
}

#[derive(Debug)]
enum Acker {
    Amqp(lapin::Acker),
    Memory(memory::MemoryAck),
    /// Nothing to settle (see [`Incoming::detached`]).
    Detached,
}

/// Why a message was not published. Every kind leaves the outbox row
/// pending, to be retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// No connection to the broker (or it broke during the publish).
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the message (negative confirm), e.g. a full queue.
    #[error("broker refused the message")]
    Nacked,
    /// The broker returned the mandatory message: no queue is bound to it.
    #[error("no queue is bound to '{0}'")]
    Unroutable(String),
    /// The confirm did not arrive in time.
    #[error("no confirm within {0:?}")]
    Timeout(Duration),
}

impl PublishError {
    /// Whether the broker refused this message itself (returned it, or
    /// nacked it), as opposed to failing as a whole (away, no confirm in
    /// time). Only refusals bring an outbox row closer to being set aside.
    pub fn is_refusal(&self) -> bool {
        matches!(self, PublishError::Nacked | PublishError::Unroutable(_))
    }
}

/// A bus failure outside publishing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The broker cannot be reached or the connection broke.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// Declaring the topology failed (e.g. a queue exists with other arguments).
    #[error("declaring the topology: {0}")]
    Declare(String),
    /// The queue is not in the topology.
    #[error("unknown queue '{0}'")]
    UnknownQueue(String),
    /// A dead letter could not be published.
    #[error("dead-lettering: {0}")]
    DeadLetter(#[from] PublishError),
}

/// The event bus of a process: RabbitMQ or in-process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Bus {
    transport: Arc<Transport>,
}

#[derive(Debug)]
enum Transport {
    Amqp(amqp::AmqpBus),
    Memory(memory::MemoryBus),
    /// TEST-ONLY: the in-process bus behind a gate.
    #[cfg(feature = "test-hooks")]
    Gated(memory::MemoryBus, PublishGate),
}

impl Bus {
    /// RabbitMQ at `url` when given, else a new in-process bus. Declares the
    /// whole topology under `prefix` before returning.
    pub async fn connect(url: Option<&SecretString>, prefix: &str) -> Result<Bus, BusError> {
        match url {
            Some(url) => Ok(Bus {
                transport: Arc::new(Transport::Amqp(
                    amqp::AmqpBus::connect(url.clone(), Names::new(prefix)).await?,
                )),
            }),
            None => Ok(Bus::in_process(prefix)),
        }
    }

    /// A new in-process bus with the whole topology declared.
    pub fn in_process(prefix: &str) -> Bus {
        Bus {
            transport: Arc::new(Transport::Memory(memory::MemoryBus::new(Names::new(
                prefix,
            )))),
        }
    }

    /// TEST-ONLY: a new in-process bus whose publishes wait at the
    /// returned gate until it opens, as if the broker's confirms were slow.
    #[cfg(feature = "test-hooks")]
    pub fn in_process_gated(prefix: &str) -> (Bus, PublishGate) {
        let gate = PublishGate::closed();
        let bus = Bus {
            transport: Arc::new(Transport::Gated(
                memory::MemoryBus::new(Names::new(prefix)),
                gate.clone(),
            )),
        };
        (bus, gate)
    }

    /// Whether this is the in-process bus.
    pub fn is_in_process(&self) -> bool {
        !matches!(*self.transport, Transport::Amqp(_))
    }

    /// The broker names in use.
    pub fn names(&self) -> &Names {
        match &*self.transport {
            Transport::Amqp(b) => b.names(),
            Transport::Memory(b) => b.names(),
            #[cfg(feature = "test-hooks")]
            Transport::Gated(b, _) => b.names(),
        }
    }

    /// Publishes `messages` to the events exchange (persistent, mandatory)
    /// and waits for the broker's confirms. One result per message, in order.
    pub async fn publish(&self, messages: &[Outgoing]) -> Vec<Result<(), PublishError>> {
        match &*self.transport {
            Transport::Amqp(b) => b.publish(messages).await,
            Transport::Memory(b) => b.publish(messages),
            #[cfg(feature = "test-hooks")]
            Transport::Gated(b, gate) => {
                gate.pass().await;
                b.publish(messages)
            }
        }
    }

    /// Publishes `message` to the dead-letter queue of `queue` (a logical
    /// name), with `reason` in the [`ERROR_HEADER`], and waits for the confirm.
    pub async fn dead_letter(
        &self,
        queue: &str,
        message: &Incoming,
        reason: &str,
    ) -> Result<(), BusError> {
        match &*self.transport {
            Transport::Amqp(b) => b.dead_letter(queue, message, reason).await,
            Transport::Memory(b) => b.dead_letter(queue, message, reason),
            #[cfg(feature = "test-hooks")]
            Transport::Gated(b, _) => b.dead_letter(queue, message, reason),
        }
    }

    /// Consumes `queue` (a logical name from the topology, or its `.dlq`)
    /// with at most `prefetch` unacknowledged messages. The subscription
    /// survives broker restarts and consumer cancellations.
    pub async fn subscribe(&self, queue: &str, prefetch: u16) -> Result<Subscription, BusError> {
        check_queue(queue)?;
        match &*self.transport {
            Transport::Amqp(b) => b.subscribe(queue, prefetch).await,
            Transport::Memory(b) => b.subscribe(queue, prefetch),
            #[cfg(feature = "test-hooks")]
            Transport::Gated(b, _) => b.subscribe(queue, prefetch),
        }
    }

    /// A live watch of every event whose routing key matches one of
    /// `patterns` (topic rules), published by any process on this bus: see
    /// [`live`]. Unknown to the topology, never dead-lettered, best effort.
    pub async fn watch(&self, patterns: &[&str]) -> Result<live::Watch, BusError> {
        let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        match &*self.transport {
            Transport::Amqp(b) => Ok(b.watch(patterns)),
            Transport::Memory(b) => Ok(b.watch(patterns)),
            #[cfg(feature = "test-hooks")]
            Transport::Gated(b, _) => Ok(b.watch(patterns)),
        }
    }

    /// Deletes the exchanges and queues under this bus's prefix (tests and
    /// benchmarks clean up after themselves; never used with an empty prefix).
    pub async fn delete_topology(&self) -> Result<(), BusError> {
        if self.names().prefix().is_empty() {
            return Err(BusError::Declare(
                "refusing to delete the unprefixed production topology".into(),
            ));
        }
        match &*self.transport {
            Transport::Amqp(b) => b.delete_topology().await,
            _ => Ok(()),
        }
    }

    /// Closes the connection (RabbitMQ); in-flight unacknowledged messages
    /// will be redelivered.
    pub async fn close(&self) {
        if let Transport::Amqp(b) = &*self.transport {
            b.close().await;
        }
    }
}

fn check_queue(queue: &str) -> Result<(), BusError> {
    let logical = queue.strip_suffix(topology::DLQ_SUFFIX).unwrap_or(queue);
    match topology::queue(logical) {
        Some(_) => Ok(()),
        None => Err(BusError::UnknownQueue(queue.to_owned())),
    }
}

/// A stream of deliveries from one queue.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Incoming>,
    task: JoinHandle<()>,
}

impl Subscription {
    /// The next delivery; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<Incoming> {
        self.rx.recv().await
    }

    /// A delivery that has already arrived, without waiting.
    pub fn try_next(&mut self) -> Option<Incoming> {
        self.rx.try_recv().ok()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}
