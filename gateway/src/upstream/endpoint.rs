//! One upstream endpoint: its HTTP/2 connections (a few, opened on first
//! use, reused by every call, reopened after they close; h2c, or TLS with
//! ALPN h2 for `https://` and `dns+tls://` upstreams), its in-flight count
//! (the load power-of-two-choices compares), its health and its ejection.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tonic::body::Body;

use super::tls::UpstreamTls;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest ejection, as a multiple of the base.
const MAX_EJECTION_FACTOR: u32 = 32;
/// HTTP/2 connections per endpoint. One connection multiplexes every call
/// and batches their frames; on the 2-core benchmark machine 4 connections
/// measured slower than 1 (BENCHMARKS.md), so one it is until a bigger
/// machine says otherwise.
const CONNECTIONS: usize = 1;

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP connect failed (refused, unreachable, timed out).
    #[error("connect to {target}: {reason}")]
    Tcp {
        /// `host:port`.
        target: String,
        /// The I/O error.
        reason: String,
    },
    /// The TLS handshake failed (the certificate, its name, a client
    /// certificate the upstream wanted, ALPN).
    #[error("tls handshake with {target}: {reason}")]
    Tls {
        /// `host:port`.
        target: String,
        /// What failed.
        reason: String,
    },
    /// The HTTP/2 handshake failed.
    #[error("http/2 handshake with {target}: {reason}")]
    Handshake {
        /// `host:port`.
        target: String,
        /// The protocol error.
        reason: String,
    },
}

#[derive(Debug, Default)]
struct Ejection {
    until: Option<Instant>,
    consecutive: u32,
}

/// One replica of a system.
#[derive(Debug)]
pub struct Endpoint {
    host: String,
    port: u16,
    label: String,
    tls: Option<UpstreamTls>,
    last_connect_error: Mutex<Option<String>>,
    in_flight: AtomicUsize,
    healthy: AtomicBool,
    ejection: Mutex<Ejection>,
    eject_base: Duration,
    senders: Vec<Mutex<Option<SendRequest<Body>>>>,
    next: AtomicUsize,
    connecting: Vec<tokio::sync::Mutex<()>>,
}

impl Endpoint {
    /// An endpoint at `host:port`, assumed healthy until a check says
    /// otherwise; h2c, or TLS with `tls`.
    pub fn new(
        host: String,
        port: u16,
        tls: Option<UpstreamTls>,
        eject_base: Duration,
    ) -> Endpoint {
        let label = label_of(&host, port);
        Endpoint {
            host,
            port,
            label,
            tls,
            last_connect_error: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            healthy: AtomicBool::new(true),
            ejection: Mutex::new(Ejection::default()),
            eject_base,
            senders: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            connecting: (0..CONNECTIONS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// `host:port`, as logged.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its TLS, when it is reached over TLS.
    pub fn tls(&self) -> Option<&UpstreamTls> {
        self.tls.as_ref()
    }

    /// The scheme of the requests sent to it: `https` over TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Why the last connection attempt failed, while no later one succeeded.
    pub fn last_connect_error(&self) -> Option<String> {
        self.last_connect_error.lock().ok().and_then(|e| e.clone())
    }

    /// Calls in flight on this endpoint.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts a call until the returned guard drops (at the end of its
    /// response stream).
    pub fn begin_call(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Whether the last health check passed.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Records a health-check result; a pass also ends an ejection.
    pub fn set_healthy(&self, healthy: bool) {
        let was = self.healthy.swap(healthy, Ordering::Relaxed);
        if was != healthy {
            tracing::info!(endpoint = %self.label, healthy, "endpoint health changed");
        }
        if healthy && let Ok(mut e) = self.ejection.lock() {
            *e = Ejection::default();
        }
    }

    /// Whether the endpoint is ejected right now.
    pub fn is_ejected(&self, now: Instant) -> bool {
        self.ejection
            .lock()
            .map(|e| e.until.is_some_and(|u| u > now))
            .unwrap_or(false)
    }

    /// Ejects the endpoint after it refused a connection: base × 2ⁿ for the
    /// n-th consecutive refusal, capped; it is tried again afterwards.
    pub fn eject(&self) {
        if let Ok(mut e) = self.ejection.lock() {
            let factor = 1u32
                .checked_shl(e.consecutive)
                .unwrap_or(MAX_EJECTION_FACTOR)
                .min(MAX_EJECTION_FACTOR);
            let period = self.eject_base * factor;
            e.until = Some(Instant::now() + period);
            e.consecutive = e.consecutive.saturating_add(1);
            tracing::warn!(endpoint = %self.label, ?period, "endpoint refused a connection: ejected");
        }
        self.forget_connection();
    }

    /// Drops the cached connections so the next calls open new ones.
    pub fn forget_connection(&self) {
        for slot in &self.senders {
            if let Ok(mut s) = slot.lock() {
                *s = None;
            }
        }
    }

    /// A sender on one of the endpoint's live HTTP/2 connections (taken in
    /// turn), connecting first if it is not open. Concurrent callers share
    /// one connection attempt per connection.
    pub async fn sender(&self) -> Result<SendRequest<Body>, ConnectError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.senders.len();
        if let Some(s) = self.live_sender(i) {
            return Ok(s);
        }
        let _one_at_a_time = self.connecting[i].lock().await;
        if let Some(s) = self.live_sender(i) {
            return Ok(s);
        }
        let sender = self.connect().await?;
        if let Ok(mut slot) = self.senders[i].lock() {
            *slot = Some(sender.clone());
        }
        Ok(sender)
    }

    /// Whether a live HTTP/2 connection is open to the endpoint.
    pub fn is_connected(&self) -> bool {
        (0..self.senders.len()).any(|i| self.live_sender(i).is_some())
    }

    fn live_sender(&self, i: usize) -> Option<SendRequest<Body>> {
        let slot = self.senders[i].lock().ok()?;
        slot.as_ref().filter(|s| !s.is_closed()).cloned()
    }

    async fn connect(&self) -> Result<SendRequest<Body>, ConnectError> {
        let result = self.open().await;
        if let Ok(mut last) = self.last_connect_error.lock() {
            *last = result.as_ref().err().map(ToString::to_string);
        }
        if let Err(e @ ConnectError::Tls { .. }) = &result {
            // Not a passing refusal: a certificate or name that does not
            // match stays wrong until someone fixes the configuration.
            tracing::warn!(endpoint = %self.label, error = %e, "tls to the upstream failed");
        }
        result
    }

    async fn open(&self) -> Result<SendRequest<Body>, ConnectError> {
        let tcp = |reason: String| ConnectError::Tcp {
            target: self.label.clone(),
            reason,
        };
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| tcp("timed out".to_owned()))?
        .map_err(|e| tcp(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let sender = match &self.tls {
            None => self.handshake(stream).await?,
            Some(tls) => {
                let stream = tls
                    .handshake(stream, CONNECT_TIMEOUT)
                    .await
                    .map_err(|reason| ConnectError::Tls {
                        target: self.label.clone(),
                        reason,
                    })?;
                self.handshake(stream).await?
            }
        };
        tracing::debug!(endpoint = %self.label, tls = self.tls.is_some(), "connected");
        Ok(sender)
    }

    /// The HTTP/2 handshake over `io`; the connection runs in a task of its own.
    async fn handshake<I>(&self, io: I) -> Result<SendRequest<Body>, ConnectError>
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .initial_stream_window_size(1 << 20)
            .initial_connection_window_size(4 << 20)
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| ConnectError::Handshake {
                target: self.label.clone(),
                reason: e.to_string(),
            })?;
        let label = self.label.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(endpoint = %label, error = %crate::upstream::error_chain(&e), "upstream connection ended");
            }
        });
        Ok(sender)
    }
}

/// `host:port`, bracketing IPv6 addresses.
pub fn label_of(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A call in flight on an endpoint; dropping it ends the count.
#[derive(Debug)]
pub struct InFlight(Arc<Endpoint>);

impl InFlight {
    /// The endpoint.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
