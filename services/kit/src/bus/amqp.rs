//! The RabbitMQ transport (lapin).
//!
//! One connection per process, and no lapin auto-recovery: when the
//! connection or a channel fails, or an operation on it does not finish in
//! time, the next use opens a fresh connection (declaring the topology on
//! it), and every consumer and watch follows through a generation counter,
//! on a channel of the fresh connection. So a relay or consumer rides
//! through a broker restart without a process restart.
//!
//! lapin's own recovery was tried and dropped: after a broker restart it
//! could revive a replaced connection's consumer that no one read any more,
//! which then held its prefetch window of deliveries unacknowledged for
//! good (seen as a consumer that stopped after ~25 redeliveries). With one
//! path back, a connection is either ours and current, or closed.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::{StreamExt as _, future::join_all};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
        ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use map_contracts::events::v1::Envelope;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, mpsc, watch};

use super::{
    Acker, BusError, CONFIRM_TIMEOUT, CONTENT_TYPE, ERROR_HEADER, Incoming, Outgoing, PublishError,
    Subscription,
    backoff::Backoff,
    live::{self, Watch},
    topology,
    topology::{DELIVERY_LIMIT, Names},
};

/// Longest wait for a new connection (TCP + AMQP handshake + declarations).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle consumer checks that its connection is alive.
const CONSUMER_CHECK: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct AmqpBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    url: SecretString,
    names: Names,
    live: Mutex<Option<Live>>,
    /// Bumped whenever a fresh connection replaces the old one: consumers
    /// on the old one start over.
    generation: watch::Sender<u64>,
}

/// The current connection and its confirm-mode publishing channel.
#[derive(Debug)]
struct Live {
    connection: Arc<Connection>,
    publisher: Channel,
    /// Set when a queue may have gone (a consumer was cancelled or could not
    /// start): declare again on next use.
    redeclare: bool,
    /// Set when a publish or declaration on a "connected" channel did not
    /// finish in time: the connection is replaced on next use.
    stale: bool,
}

impl AmqpBus {
    /// Connects and declares the topology; fails when the broker cannot be
    /// reached now (a process should not start against a wrong URL).
    pub(crate) async fn connect(url: SecretString, names: Names) -> Result<AmqpBus, BusError> {
        let inner = Arc::new(Inner {
            url,
            names,
            live: Mutex::new(None),
            generation: watch::Sender::new(0),
        });
        inner.publisher().await?;
        Ok(AmqpBus { inner })
    }

    pub(crate) fn names(&self) -> &Names {
        &self.inner.names
    }

    pub(crate) async fn publish(&self, messages: &[Outgoing]) -> Vec<Result<(), PublishError>> {
        let channel = match self.inner.publisher().await {
            Ok(c) => c,
            Err(e) => {
                return messages
                    .iter()
                    .map(|_| Err(PublishError::Unavailable(e.to_string())))
                    .collect();
            }
        };
        let exchange = ShortString::from(self.inner.names.exchange());
        // All publishes are started before any is awaited: each await is a
        // round trip through lapin's I/O loop, and awaiting them one by one
        // would make a batch as slow as its length. The first poll of each
        // future queues its frames, in order, so the broker receives the
        // batch in outbox order.
        let mut sends = Vec::with_capacity(messages.len());
        for m in messages {
            let mut headers = FieldTable::default();
            if !m.traceparent.is_empty() {
                headers.insert("traceparent".into(), long(&m.traceparent));
            }
            if !m.tracestate.is_empty() {
                headers.insert("tracestate".into(), long(&m.tracestate));
            }
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_message_id(m.id.as_str().into())
                .with_type(m.event_type.as_str().into())
                .with_content_type(CONTENT_TYPE.into())
                .with_headers(headers);
            sends.push(channel.basic_publish(
                exchange.clone(),
                m.event_type.as_str().into(),
                mandatory(),
                &m.body,
                properties,
            ));
        }
        // Sending is bounded too: lapin resolves a send once its I/O loop
        // wrote the frames, which may never happen on a wedged connection.
        let publish = async {
            let sent = join_all(sends).await;
            join_all(sent.into_iter().map(|sent| async move {
                match sent {
                    Ok(confirm) => confirmation(confirm.await),
                    Err(e) => Err(PublishError::Unavailable(e.to_string())),
                }
            }))
            .await
        };
        match tokio::time::timeout(CONFIRM_TIMEOUT, publish).await {
            Ok(results) => results,
            Err(_) => {
                self.inner.mark_stale().await;
                messages
                    .iter()
                    .map(|_| Err(PublishError::Timeout(CONFIRM_TIMEOUT)))
                    .collect()
            }
        }
    }

    pub(crate) async fn dead_letter(
        &self,
        queue: &str,
        message: &Incoming,
        reason: &str,
    ) -> Result<(), BusError> {
        let channel = self.inner.publisher().await?;
        let mut headers = FieldTable::default();
        for (k, v) in &message.headers {
            headers.insert(k.as_str().into(), long(v));
        }
        headers.insert(ERROR_HEADER.into(), long(reason));
        let mut properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(CONTENT_TYPE.into())
            .with_headers(headers);
        if let Some(id) = &message.message_id {
            properties = properties.with_message_id(id.as_str().into());
        }
        if let Some(t) = &message.event_type {
            properties = properties.with_type(t.as_str().into());
        }
        let publish = async {
            match channel
                .basic_publish(
                    self.inner.names.dead_letter_exchange().into(),
                    self.inner.names.queue(queue).into(),
                    mandatory(),
                    &message.body,
                    properties,
                )
                .await
            {
                Ok(confirm) => confirmation(confirm.await),
                Err(e) => Err(PublishError::Unavailable(e.to_string())),
            }
        };
        let confirmed = match tokio::time::timeout(CONFIRM_TIMEOUT, publish).await {
            Ok(confirmed) => confirmed,
            Err(_) => {
                self.inner.mark_stale().await;
                Err(PublishError::Timeout(CONFIRM_TIMEOUT))
            }
        };
        Ok(confirmed?)
    }

    pub(crate) async fn subscribe(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> Result<Subscription, BusError> {
        let prefetch = prefetch.max(1);
        let (tx, rx) = mpsc::channel(usize::from(prefetch));
        let inner = self.inner.clone();
        let queue = self.inner.names.queue(queue);
        let task = tokio::spawn(async move { inner.consume(queue, prefetch, tx).await });
        Ok(Subscription { rx, task })
    }

    /// A live watch: see [`super::live`].
    pub(crate) fn watch(&self, patterns: Vec<String>) -> Watch {
        let (tx, rx) = mpsc::channel(live::WATCH_BUFFER);
        let inner = self.inner.clone();
        let task = tokio::spawn(async move { inner.watch(patterns, tx).await });
        Watch { rx, task }
    }

    pub(crate) async fn delete_topology(&self) -> Result<(), BusError> {
        let channel = self.inner.publisher().await?;
        let names = &self.inner.names;
        let fail = |e: lapin::Error| BusError::Declare(e.to_string());
        for q in topology::QUEUES {
            for name in [names.queue(q.name), names.dead_letter_queue(q.name)] {
                channel
                    .queue_delete(name.into(), QueueDeleteOptions::default())
                    .await
                    .map_err(fail)?;
            }
        }
        for ex in [names.exchange(), names.dead_letter_exchange()] {
            channel
                .exchange_delete(ex.into(), ExchangeDeleteOptions::default())
                .await
                .map_err(fail)?;
        }
        Ok(())
    }

    pub(crate) async fn close(&self) {
        if let Some(live) = self.inner.live.lock().await.take() {
            let _ = live.connection.close(200, "closing".into()).await;
        }
    }
}

impl Inner {
    /// The confirm-mode publishing channel, connecting (and declaring) when
    /// there is no usable connection.
    async fn publisher(&self) -> Result<Channel, BusError> {
        let mut live = self.live.lock().await;
        if let Some(l) = live.as_mut().filter(|l| !l.stale) {
            if l.connection.status().connected() && l.publisher.status().connected() {
                if l.redeclare {
                    match tokio::time::timeout(CONNECT_TIMEOUT, declare(&l.publisher, &self.names))
                        .await
                    {
                        Ok(declared) => declared?,
                        Err(_) => {
                            l.stale = true;
                            return Err(BusError::Unavailable("declaring timed out".into()));
                        }
                    }
                    l.redeclare = false;
                    tracing::info!("topology declared again");
                }
                return Ok(l.publisher.clone());
            }
            tracing::warn!("broker connection lost; connecting afresh");
        } else if live.is_some() {
            tracing::warn!("broker connection wedged (an operation timed out); connecting afresh");
        }
        if let Some(old) = live.take() {
            // Best effort: the old connection may already be dead.
            let connection = old.connection.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    connection.close(200, "replaced".into()),
                )
                .await;
            });
        }
        let fresh = tokio::time::timeout(CONNECT_TIMEOUT, self.open())
            .await
            .map_err(|_| BusError::Unavailable("connect timed out".into()))??;
        let publisher = fresh.publisher.clone();
        *live = Some(fresh);
        self.generation.send_modify(|g| *g += 1);
        Ok(publisher)
    }

    async fn open(&self) -> Result<Live, BusError> {
        let properties = ConnectionProperties::default().with_connection_name("map".into());
        // lapin's errors never include the URL, so no secret leaks through them.
        let connection = Connection::connect(self.url.expose_secret(), properties)
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        let publisher = connection
            .create_channel()
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        declare(&publisher, &self.names).await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        tracing::info!(prefix = self.names.prefix(), "connected to the broker");
        Ok(Live {
            connection: Arc::new(connection),
            publisher,
            redeclare: false,
            stale: false,
        })
    }

    /// Makes the next use of the publisher declare the topology again (a
    /// queue may have been deleted, which is also how a broker cancels).
    async fn redeclare(&self) {
        if let Some(l) = self.live.lock().await.as_mut() {
            l.redeclare = true;
        }
    }

    /// Makes the next use of the connection replace it: an operation on a
    /// channel that claims to be connected did not finish in time.
    async fn mark_stale(&self) {
        if let Some(l) = self.live.lock().await.as_mut() {
            l.stale = true;
        }
    }

    /// A new channel with `prefetch` on the current connection.
    async fn consumer_channel(&self, prefetch: u16) -> Result<Channel, BusError> {
        self.publisher().await?;
        let connection = match self.live.lock().await.as_ref() {
            Some(l) => l.connection.clone(),
            None => return Err(BusError::Unavailable("no connection".into())),
        };
        let open = async {
            let channel = connection.create_channel().await?;
            channel
                .basic_qos(prefetch, BasicQosOptions::default())
                .await?;
            Ok::<_, lapin::Error>(channel)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, open).await {
            Ok(channel) => channel.map_err(|e| BusError::Unavailable(e.to_string())),
            Err(_) => {
                self.mark_stale().await;
                Err(BusError::Unavailable("opening a channel timed out".into()))
            }
        }
    }

    /// Feeds `tx` from `queue` until the receiver is dropped, re-consuming
    /// after a cancellation and on a fresh channel after any interruption.
    async fn consume(&self, queue: String, prefetch: u16, tx: mpsc::Sender<Incoming>) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        while !tx.is_closed() {
            let channel = match self.consumer_channel(prefetch).await {
                Ok(c) => c,
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%queue, error = %e, ?delay, "cannot consume yet");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            let consume = channel.basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            );
            let consumed = match tokio::time::timeout(CONNECT_TIMEOUT, consume).await {
                Ok(consumed) => consumed.map_err(|e| e.to_string()),
                Err(_) => {
                    self.mark_stale().await;
                    Err("basic.consume timed out".to_owned())
                }
            };
            let mut consumer = match consumed {
                Ok(c) => c,
                Err(e) => {
                    // e.g. the queue was deleted: declare everything again.
                    self.redeclare().await;
                    let delay = backoff.next_delay();
                    tracing::warn!(%queue, error = %e, ?delay, "basic.consume failed");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            tracing::debug!(%queue, "consuming");
            backoff.reset();
            let mut generation = self.generation.subscribe();
            generation.mark_unchanged();
            let mut check = tokio::time::interval(CONSUMER_CHECK);
            loop {
                let next = tokio::select! {
                    next = consumer.next() => next,
                    _ = generation.changed() => {
                        tracing::info!(%queue, "a fresh broker connection replaced this one; consuming again");
                        break;
                    }
                    _ = check.tick() => {
                        if !channel.status().connected() {
                            tracing::warn!(%queue, "consumer channel closed; consuming afresh");
                            break;
                        }
                        continue;
                    }
                };
                match next {
                    Some(Ok(delivery)) => {
                        if tx.send(incoming(delivery)).await.is_err() {
                            let _ = channel.close(200, "consumer stopped".into()).await;
                            return;
                        }
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%queue, %error, "consumer interrupted; consuming afresh");
                        break;
                    }
                    None => {
                        tracing::warn!(%queue, "consumer cancelled by the broker; consuming again");
                        self.redeclare().await;
                        break;
                    }
                }
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }
}

impl Inner {
    /// Feeds `tx` with events matching `patterns` from an exclusive,
    /// auto-delete, server-named queue until the receiver is dropped;
    /// declares a new queue after any interruption (the old one went with
    /// its channel or connection).
    async fn watch(&self, patterns: Vec<String>, tx: mpsc::Sender<Envelope>) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        while !tx.is_closed() {
            let consumer = match self.watch_queue(&patterns).await {
                Ok(c) => c,
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, ?delay, "cannot watch yet");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            let (channel, mut consumer) = consumer;
            backoff.reset();
            let mut generation = self.generation.subscribe();
            generation.mark_unchanged();
            loop {
                let next = tokio::select! {
                    next = consumer.next() => next,
                    _ = generation.changed() => break,
                    () = tx.closed() => {
                        let _ = channel.close(200, "watch ended".into()).await;
                        return;
                    }
                };
                match next {
                    Some(Ok(delivery)) => {
                        if let Some(envelope) = live::envelope(&delivery.data)
                            && tx.send(envelope).await.is_err()
                        {
                            let _ = channel.close(200, "watch ended".into()).await;
                            return;
                        }
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "a live watch was interrupted; watching afresh");
                        break;
                    }
                    None => break,
                }
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    async fn watch_queue(
        &self,
        patterns: &[String],
    ) -> Result<(Channel, lapin::Consumer), BusError> {
        let channel = self.consumer_channel(256).await?;
        let fail = |e: lapin::Error| BusError::Unavailable(e.to_string());
        let declare = async {
            let queue = channel
                .queue_declare(
                    "".into(),
                    QueueDeclareOptions {
                        exclusive: true,
                        auto_delete: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            let name = queue.name().to_string();
            for pattern in patterns {
                channel
                    .queue_bind(
                        name.as_str().into(),
                        self.names.exchange().into(),
                        pattern.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
            }
            channel
                .basic_consume(
                    name.as_str().into(),
                    "".into(),
                    BasicConsumeOptions {
                        no_ack: true,
                        exclusive: true,
                        ..BasicConsumeOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, declare).await {
            Ok(consumer) => Ok((channel, consumer.map_err(fail)?)),
            Err(_) => {
                self.mark_stale().await;
                Err(BusError::Unavailable("declaring a watch timed out".into()))
            }
        }
    }
}

/// Declares exchanges, every queue with its bindings, and every `.dlq`.
/// Idempotent: the same arguments every time.
async fn declare(channel: &Channel, names: &Names) -> Result<(), BusError> {
    let fail = |e: lapin::Error| BusError::Declare(e.to_string());
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            names.exchange().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(fail)?;
    channel
        .exchange_declare(
            names.dead_letter_exchange().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(fail)?;
    let queue_options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for q in topology::QUEUES {
        let name = names.queue(q.name);
        channel
            .queue_declare(
                name.as_str().into(),
                queue_options,
                queue_arguments(&name, names),
            )
            .await
            .map_err(fail)?;
        for binding in q.bindings {
            channel
                .queue_bind(
                    name.as_str().into(),
                    names.exchange().into(),
                    (*binding).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(fail)?;
        }
        let dlq = names.dead_letter_queue(q.name);
        let mut dlq_arguments = FieldTable::default();
        dlq_arguments.insert("x-queue-type".into(), long("quorum"));
        channel
            .queue_declare(dlq.as_str().into(), queue_options, dlq_arguments)
            .await
            .map_err(fail)?;
        channel
            .queue_bind(
                dlq.as_str().into(),
                names.dead_letter_exchange().into(),
                name.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(fail)?;
    }
    Ok(())
}

/// The arguments of ARCHITECTURE.md for a consumer queue named `name`.
fn queue_arguments(name: &str, names: &Names) -> FieldTable {
    let mut a = FieldTable::default();
    a.insert("x-queue-type".into(), long("quorum"));
    a.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(DELIVERY_LIMIT),
    );
    a.insert(
        "x-dead-letter-exchange".into(),
        long(&names.dead_letter_exchange()),
    );
    a.insert("x-dead-letter-routing-key".into(), long(name));
    a.insert("x-dead-letter-strategy".into(), long("at-least-once"));
    a.insert("x-overflow".into(), long("reject-publish"));
    a
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

fn mandatory() -> BasicPublishOptions {
    BasicPublishOptions {
        mandatory: true,
        immediate: false,
    }
}

fn confirmation(c: Result<Confirmation, lapin::Error>) -> Result<(), PublishError> {
    match c {
        Ok(Confirmation::Ack(None)) => Ok(()),
        Ok(Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned))) => Err(
            PublishError::Unroutable(returned.delivery.routing_key.to_string()),
        ),
        Ok(Confirmation::Nack(None)) => Err(PublishError::Nacked),
        Ok(Confirmation::NotRequested) => Err(PublishError::Unavailable(
            "publisher confirms are off".into(),
        )),
        Err(e) => Err(PublishError::Unavailable(e.to_string())),
    }
}

fn incoming(d: lapin::message::Delivery) -> Incoming {
    let mut headers = BTreeMap::new();
    if let Some(table) = d.properties.headers() {
        for (k, v) in table {
            let value = match v {
                AMQPValue::LongString(s) => s.to_string(),
                AMQPValue::ShortString(s) => s.to_string(),
                _ => continue,
            };
            headers.insert(k.to_string(), value);
        }
    }
    Incoming {
        message_id: d.properties.message_id().as_ref().map(|s| s.to_string()),
        event_type: d.properties.kind().as_ref().map(|s| s.to_string()),
        routing_key: d.routing_key.to_string(),
        headers,
        redelivered: d.redelivered,
        body: d.data,
        ack: Acker::Amqp(d.acker),
    }
}
