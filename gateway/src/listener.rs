//! The port: HTTP/1.1 and h2c on one listener (hyper-util's auto builder
//! tells them apart by the HTTP/2 preface), or rustls TLS with ALPN `h2` and
//! `http/1.1`. Header sizes are bounded; shutdown stops accepting, reports
//! NOT_SERVING, lets connections finish their calls for at most the grace
//! period, then drops them.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};
use tokio_rustls::TlsAcceptor;
use tonic::body::Body;

use crate::{Gateway, config::Limits};

/// How long a client may take to finish a TLS handshake or send its headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `gateway` on `listener` until `shutdown` resolves, then drains
/// for at most `grace`.
pub async fn serve(
    gateway: Gateway,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, tls = tls.is_some(), "gateway listening");
    let acceptor = tls.map(TlsAcceptor::from);
    let (draining_tx, draining) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of descriptors and the like: back off briefly, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let gateway = gateway.clone();
                let acceptor = acceptor.clone();
                let draining = draining.clone();
                connections.spawn(async move {
                    match acceptor {
                        None => connection(TokioIo::new(stream), peer, gateway, limits, draining).await,
                        Some(acceptor) => {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(tls)) => connection(TokioIo::new(tls), peer, gateway, limits, draining).await,
                                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
                                Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
                            }
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    tracing::info!(
        ?grace,
        open = connections.len(),
        "gateway shutting down: draining"
    );
    let reporter = gateway.health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    let _ = draining_tx.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            ?grace,
            "drain deadline passed; dropping remaining connections"
        );
        connections.shutdown().await;
    }
    tracing::info!("gateway stopped");
    Ok(())
}

async fn connection<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    gateway: Gateway,
    limits: Limits,
    mut draining: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: http::Request<Incoming>| {
        let gateway = gateway.clone();
        async move {
            let request = request.map(Body::new);
            Ok::<_, Infallible>(gateway.handle(request, peer).await)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(4 << 20);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = async { let _ = draining.wait_for(|d| *d).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
