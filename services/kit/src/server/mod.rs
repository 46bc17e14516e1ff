//! The gRPC server bootstrap every system uses: services only behind their
//! access policy (checked against the contracts before serving); h2c, or
//! rustls TLS when a certificate is configured; `grpc.health.v1`; server reflection v1 and
//! v1alpha; a span per call that continues the caller's trace; graceful
//! shutdown with a bounded drain.
//!
//! Shutdown is an argument: [`GrpcServer::serve`] takes the listener and a
//! future that resolves when the process should stop (see [`shutdown_signal`]).

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::response::IntoResponse as _;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_stream::StreamExt as _;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::{
    Status,
    body::Body,
    server::NamedService,
    service::RoutesBuilder,
    transport::{
        Certificate, Identity, Server, ServerTlsConfig,
        server::{Connected, TcpConnectInfo, TcpIncoming},
    },
};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{System, authn::Authenticated, authz::Policy, config::TlsConfig, telemetry};

mod readiness;

pub use readiness::{LIVENESS, Readiness};

/// Errors starting or running a server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Reflection could not be built from the descriptor sets.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// A registered service's access policy does not match its contract.
    #[error(transparent)]
    Policy(#[from] crate::authz::PolicyError),
    /// TLS material was rejected.
    #[error("tls: {0}")]
    Tls(String),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// What a server routes calls to: a generated tonic service, usually behind
/// [`Authenticated`].
pub trait Routable:
    tower::Service<
        http::Request<Body>,
        Error = Infallible,
        Response = http::Response<Body>,
        Future: Send + 'static,
    > + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> Routable for S where
    S: tower::Service<
            http::Request<Body>,
            Error = Infallible,
            Response = http::Response<Body>,
            Future: Send + 'static,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// One gRPC port: the services, health, reflection, TLS and the drain limit.
#[derive(Debug)]
pub struct GrpcServer {
    label: String,
    routes: RoutesBuilder,
    names: Vec<String>,
    policies: Vec<&'static Policy>,
    scaffold: Option<System>,
    tls: Option<TlsConfig>,
    grace: Duration,
    health: HealthReporter,
    readiness: Option<Readiness>,
    draining: CancellationToken,
}

impl GrpcServer {
    /// A server named `label` in logs (e.g. `tts`).
    pub fn new(label: impl Into<String>) -> Self {
        GrpcServer {
            label: label.into(),
            routes: RoutesBuilder::default(),
            names: Vec::new(),
            policies: Vec::new(),
            scaffold: None,
            tls: None,
            grace: Duration::from_secs(25),
            health: HealthReporter::new(),
            readiness: None,
            draining: CancellationToken::new(),
        }
    }

    /// Adds a generated service behind its access policy; it is listed by
    /// reflection and reported SERVING by health under its fully-qualified
    /// name. [`serve`](Self::serve) refuses to start when the policy misses
    /// one of the service's methods. There is no way to add a service
    /// without a policy outside tests.
    pub fn add_service<S>(mut self, svc: Authenticated<S>) -> Self
    where
        Authenticated<S>: Routable,
    {
        self.policies.push(svc.policy());
        self.add_route(svc)
    }

    /// Adds a service with no access policy in front: test doubles (a fake
    /// Auth, an OTLP collector) and benchmark ceilings only.
    #[cfg(feature = "testing")]
    pub fn add_unguarded<S: Routable>(self, svc: S) -> Self {
        self.add_route(svc)
    }

    fn add_route<S: Routable>(mut self, svc: S) -> Self {
        self.names.push(S::NAME.to_owned());
        self.routes.add_service(svc);
        self
    }

    /// Checks every registered service's policy against the contracts
    /// (also done by [`serve`](Self::serve) before it accepts a call).
    pub fn check_policies(&self) -> Result<(), crate::authz::PolicyError> {
        self.policies
            .iter()
            .try_for_each(|p| p.check(map_contracts::FILE_DESCRIPTOR_SET))
    }

    /// Lists a system's services whose implementation has not landed yet:
    /// reflection and health show them, and every call answers UNIMPLEMENTED
    /// with a message naming the system. Scaffolding, never "done".
    pub fn scaffold(mut self, system: System) -> Self {
        // Services already served for real keep their one listing.
        for name in system.service_names() {
            if !self.names.contains(&name) {
                self.names.push(name);
            }
        }
        self.scaffold = Some(system);
        self
    }

    /// Serves TLS with this material (mTLS when it has a client CA).
    pub fn tls(mut self, tls: Option<TlsConfig>) -> Self {
        self.tls = tls;
        self
    }

    /// Reports readiness from this database (see [`Readiness`]); without
    /// it the server is ready whenever it serves.
    pub fn readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = Some(readiness);
        self
    }

    /// How long in-flight calls may run after shutdown begins.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Cancelled the moment shutdown begins: a streaming handler (a live
    /// watch) selects on it and ends its stream at once, so a graceful drain
    /// does not wait out the grace period for streams that never end.
    pub fn draining(&self) -> CancellationToken {
        self.draining.clone()
    }

    /// The health reporter, to change a service's status at run time.
    pub fn health_reporter(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Serves on `listener` until `shutdown` resolves, then stops accepting,
    /// reports NOT_SERVING, lets in-flight calls finish for at most the grace
    /// period and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        self.check_policies()?;
        let GrpcServer {
            label,
            mut routes,
            names,
            policies: _,
            scaffold,
            tls,
            grace,
            health: reporter,
            readiness,
            draining: drain_streams,
        } = self;
        let health_service = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
        );
        let local: Option<SocketAddr> = listener.local_addr().ok();

        let mut reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(map_contracts::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health");
        for name in &names {
            reflection = reflection.with_service_name(name.clone());
            reporter
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        reporter
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(map_contracts::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health");
        let reflection_v1alpha = names
            .iter()
            .fold(reflection_v1alpha, |b, n| b.with_service_name(n.clone()));
        routes
            .add_service(health_service)
            .add_service(reflection.build_v1()?)
            .add_service(reflection_v1alpha.build_v1alpha()?);
        let mut routes = routes.routes();
        if let Some(system) = scaffold {
            let router = routes.into_axum_router().fallback(
                move |req: http::Request<axum::body::Body>| async move {
                    let message = format!("{system}: {} is not implemented yet", req.uri().path());
                    Status::unimplemented(message)
                        .into_http::<axum::body::Body>()
                        .into_response()
                },
            );
            routes = router.into();
        }

        let mut server = Server::builder()
            .timeout(Duration::from_secs(60))
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .trace_fn(|req| {
                let span =
                    tracing::info_span!("grpc", rpc = %req.uri().path(), otel.kind = "server");
                telemetry::adopt_parent(&span, &telemetry::HeaderCarrier(req.headers()));
                span
            });
        if let Some(tls) = &tls {
            use secrecy::ExposeSecret as _;
            let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
                &tls.cert_pem,
                tls.key_pem.expose_secret(),
            ));
            if let Some(ca) = &tls.client_ca_pem {
                config = config.client_ca_root(Certificate::from_pem(ca));
            }
            server = server
                .tls_config(config)
                .map_err(|e| ServeError::Tls(e.to_string()))?;
        }
        // Connections run in tasks of their own: to end the drain, each one
        // is wrapped so that cancelling `abort` fails its I/O and closes it.
        let abort = CancellationToken::new();
        let incoming = {
            let abort = abort.clone();
            TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .map(move |conn| conn.map(|io| Abortable::new(io, abort.clone())))
        };
        tracing::info!(server = %label, addr = ?local, tls = tls.is_some(), services = names.len(), "serving gRPC");

        let stop_watching = CancellationToken::new();
        let watcher = readiness.map(|r| {
            tokio::spawn(r.watch(
                label.clone(),
                reporter.clone(),
                names.clone(),
                stop_watching.clone(),
            ))
        });
        let draining = tokio::sync::Notify::new();
        let signal = async {
            shutdown.await;
            tracing::info!(server = %label, ?grace, "shutting down: draining in-flight calls");
            drain_streams.cancel();
            // The watcher ends before the statuses go NOT_SERVING, so it
            // cannot set one back to SERVING.
            stop_watching.cancel();
            if let Some(watcher) = watcher {
                let _ = watcher.await;
            }
            for name in &names {
                reporter
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
            reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
            draining.notify_one();
        };
        let serve = server
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, signal);
        let deadline = async {
            draining.notified().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = serve => result?,
            () = deadline => {
                tracing::warn!(server = %label, ?grace, "drain deadline passed; dropping remaining calls");
                abort.cancel();
            }
        }
        tracing::info!(server = %label, "stopped");
        Ok(())
    }
}

/// A connection that fails its I/O once its token is cancelled, so a drain
/// that ran out of time really ends the connections it gave up on.
struct Abortable {
    io: TcpStream,
    aborted: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Abortable {
    fn new(io: TcpStream, token: CancellationToken) -> Self {
        Abortable {
            io,
            aborted: Box::pin(token.cancelled_owned()),
        }
    }

    /// Ready(err) once aborted; registers the waker otherwise.
    fn poll_aborted(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        self.aborted.as_mut().poll(cx).map(|()| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "server drain deadline passed",
            )
        })
    }
}

impl Connected for Abortable {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.io.connect_info()
    }
}

impl AsyncRead for Abortable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Poll::Ready(e) = self.poll_aborted(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Abortable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Poll::Ready(e) = self.poll_aborted(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Poll::Ready(e) = self.poll_aborted(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Poll::Ready(e) = self.poll_aborted(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
