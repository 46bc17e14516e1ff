//! The gateway test harness: real upstream replicas (map-kit gRPC servers on
//! port 0 with health, reflection and a scaffold system answering
//! UNIMPLEMENTED), a real gateway on port 0 in front of them, and raw
//! HTTP/1.1 and HTTP/2 clients for what the typed clients cannot send.
#![allow(dead_code)] // each test binary uses part of the harness

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use map_gateway::{GatewayConfig, UpstreamSpec};
use map_kit::{System, server::GrpcServer, testing::TestServer};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic_health::{ServingStatus, server::HealthReporter};

/// One replica of a system: health (with a marker service of its own, so a
/// test can tell which replica answered), reflection, scaffold.
pub struct Replica {
    pub server: TestServer,
    pub health: HealthReporter,
}

impl Replica {
    /// A replica of `system` whose health also reports `marker` SERVING.
    pub async fn start(system: System, marker: &str) -> Replica {
        let server = GrpcServer::new(format!("{system}-{marker}"))
            .scaffold(system)
            .grace(Duration::from_secs(5));
        let health = server.health_reporter();
        health
            .set_service_status(marker, ServingStatus::Serving)
            .await;
        Replica {
            server: TestServer::start(server).await,
            health,
        }
    }

    pub fn spec(&self) -> UpstreamSpec {
        UpstreamSpec::Static {
            host: self.server.addr.ip().to_string(),
            port: self.server.addr.port(),
        }
    }
}

/// A gateway config for tests: fast health checks and short ejections.
pub fn config(clusters: Vec<(System, Vec<UpstreamSpec>)>) -> GatewayConfig {
    GatewayConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        clusters: clusters.into_iter().collect::<BTreeMap<_, _>>(),
        health_interval: Duration::from_millis(200),
        eject_base: Duration::from_millis(300),
        shutdown_grace: Duration::from_secs(2),
        ..GatewayConfig::default()
    }
}

/// A gateway on 127.0.0.1:0.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub gateway: map_gateway::Gateway,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), map_gateway::RunError>>,
}

impl TestGateway {
    pub async fn start(config: GatewayConfig) -> TestGateway {
        map_kit::install_crypto_provider();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let gateway = map_gateway::Gateway::new(&config)
            .await
            .expect("gateway builds");
        let task = tokio::spawn({
            let gateway = gateway.clone();
            async move {
                map_gateway::listener::serve(
                    gateway,
                    listener,
                    config.tls.clone(),
                    config.limits,
                    config.shutdown_grace,
                    async {
                        let _ = stopped.await;
                    },
                )
                .await
                .map_err(map_gateway::RunError::from)
            }
        });
        TestGateway {
            addr,
            gateway,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.url())
            .expect("url")
            .connect()
            .await
            .expect("connect to the gateway")
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task)
            .await
            .expect("gateway task")
            .expect("gateway ran cleanly");
    }
}

/// A collected response: status, headers, body bytes, trailers.
pub struct Collected {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub trailers: Option<http::HeaderMap>,
}

/// Sends one request over a fresh HTTP/1.1 connection.
pub async fn http1(addr: SocketAddr, request: Request<Full<Bytes>>) -> Collected {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http1 handshake");
    tokio::spawn(conn);
    let response = sender.send_request(request).await.expect("http1 response");
    collect(response).await
}

/// Sends one request over a fresh h2c connection.
pub async fn http2(addr: SocketAddr, request: Request<Full<Bytes>>) -> Collected {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let response = sender.send_request(request).await.expect("h2 response");
    collect(response).await
}

async fn collect(response: Response<hyper::body::Incoming>) -> Collected {
    let (parts, body) = response.into_parts();
    let collected = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .expect("body within 10 s")
        .expect("body");
    let trailers = collected.trailers().cloned();
    Collected {
        status: parts.status,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

#[allow(unused_imports)] // not every test binary waits
pub use map_kit::testing::poll_until as eventually;

/// The descriptor sets of the platform and of grpc.health.v1, in one file
/// (concatenated FileDescriptorSets are one FileDescriptorSet on the wire).
pub fn descriptor_file(dir: &Path) -> PathBuf {
    let path = dir.join("descriptors.binpb");
    let mut bytes = map_contracts::FILE_DESCRIPTOR_SET.to_vec();
    bytes.extend_from_slice(tonic_health::pb::FILE_DESCRIPTOR_SET);
    std::fs::write(&path, bytes).expect("write descriptors");
    path
}

/// Where a third-party tool is: the repository's node tools or PATH.
pub fn tool(name: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = std::env::var("MAP_TOOLS_DIR").unwrap_or_else(|_| "/work/tools".into());
    let candidates = [
        root.join("tests/node/node_modules/.bin").join(name),
        Path::new(&tools).join("node_modules/.bin").join(name),
    ];
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The tool `name`, or `None` after recording a skip (a failure under CI;
/// `cargo xtask test` installs it).
#[allow(dead_code)] // not every test binary runs a third-party client
pub fn need(name: &str) -> Option<PathBuf> {
    let found = tool(name);
    if found.is_none() {
        map_kit::testing::skip(&format!(
            "the tool `{name}` is missing (`cargo xtask test` installs it)"
        ));
    }
    found
}

/// `node <script>` in gateway/tests/node (the Node clients, Connect's
/// transports), or `None` after recording a skip when Node or the packages
/// are missing (a failure under CI; `cargo xtask test` installs both).
#[allow(dead_code)] // not every test binary runs a Node client
pub fn node_script(script: &str) -> Option<tokio::process::Command> {
    let node_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    if !map_kit::testing::needs(
        "the gateway's Node packages (`npm ci` in gateway/tests/node; `cargo xtask test` runs it)",
        node_dir
            .join("node_modules/@connectrpc/connect-node")
            .is_dir(),
    ) {
        return None;
    }
    let mut cmd = tokio::process::Command::new(need("node")?);
    cmd.current_dir(&node_dir).arg(script);
    Some(cmd)
}

/// Runs a command with a time limit; returns (success, stdout, stderr).
pub async fn run(mut cmd: tokio::process::Command, limit: Duration) -> (bool, String, String) {
    cmd.kill_on_drop(true);
    let output = tokio::time::timeout(limit, cmd.output())
        .await
        .expect("command finished in time")
        .expect("command runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An h2c upstream that is not a gRPC server: it answers every request
/// with a fixed HTTP status (a proxy error page, say) and records the
/// request headers it received.
pub struct RecordingUpstream {
    pub addr: SocketAddr,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<http::HeaderMap>>>,
    task: JoinHandle<()>,
}

impl RecordingUpstream {
    pub async fn start(status: u16) -> RecordingUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            record.lock().expect("lock").push(req.headers().clone());
                            async move {
                                let mut response = Response::new(Full::new(Bytes::from_static(
                                    b"<html>proxy error</html>",
                                )));
                                *response.status_mut() =
                                    http::StatusCode::from_u16(status).expect("status");
                                response.headers_mut().insert(
                                    http::header::CONTENT_TYPE,
                                    http::HeaderValue::from_static("text/html"),
                                );
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RecordingUpstream { addr, seen, task }
    }

    pub fn spec(&self) -> UpstreamSpec {
        UpstreamSpec::Static {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
        }
    }
}

impl Drop for RecordingUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A grpc-web request for `path` carrying `payload` (one message).
pub fn web_request(path: &str, payload: &[u8], text: bool) -> Request<Full<Bytes>> {
    let frame = map_gateway::grpc_web::message_frame(payload);
    let (ct, body) = if text {
        (
            "application/grpc-web-text",
            Bytes::from(map_gateway::grpc_web::encode_text(&frame)),
        )
    } else {
        ("application/grpc-web+proto", frame)
    };
    Request::post(path)
        .header(http::header::HOST, "gateway.test")
        .header(http::header::CONTENT_TYPE, ct)
        .header("x-grpc-web", "1")
        .body(Full::new(body))
        .expect("request")
}

/// Encoded `grpc.health.v1.HealthCheckRequest { service }`.
pub fn health_request(service: &str) -> Vec<u8> {
    use prost::Message as _;
    tonic_health::pb::HealthCheckRequest {
        service: service.to_owned(),
    }
    .encode_to_vec()
}

/// Decodes a grpc-web response body: messages and trailers.
pub fn web_response(c: &Collected) -> (Vec<Bytes>, http::HeaderMap) {
    let text = c
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc-web-text"));
    let raw = if text {
        map_gateway::grpc_web::decode_text_response(&c.body).expect("base64 body")
    } else {
        c.body.clone()
    };
    map_gateway::grpc_web::parse_response(&raw).expect("grpc-web frames")
}

/// The serving status in an encoded HealthCheckResponse.
pub fn serving_status(message: &[u8]) -> i32 {
    use prost::Message as _;
    tonic_health::pb::HealthCheckResponse::decode(message)
        .expect("HealthCheckResponse")
        .status
}

/// A replica on its own runtime and thread, killable like a crashed
/// process: `kill` drops the runtime, closing its listener and every
/// connection abruptly, with calls in flight.
pub struct KillableReplica {
    pub addr: SocketAddr,
    kill: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KillableReplica {
    pub fn start(system: System, marker: &str) -> KillableReplica {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (kill, killed) = oneshot::channel::<()>();
        let marker = marker.to_owned();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let server = GrpcServer::new(format!("{system}-{marker}")).scaffold(system);
                server
                    .health_reporter()
                    .set_service_status(&marker, ServingStatus::Serving)
                    .await;
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                tokio::select! {
                    _ = server.serve(listener, std::future::pending()) => {}
                    _ = killed => {}
                }
            });
            rt.shutdown_background();
        });
        let addr = addr_rx.recv().expect("replica address");
        KillableReplica {
            addr,
            kill: Some(kill),
            thread: Some(thread),
        }
    }

    pub fn spec(&self) -> UpstreamSpec {
        UpstreamSpec::Static {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
        }
    }

    /// Kills the replica and waits until its sockets are gone.
    pub fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for KillableReplica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The password of every person [`AuthPlatform::start`] makes.
#[allow(dead_code)]
pub const PASSWORD: &str = "correct horse battery staple";

/// A real Auth server on a fresh database (department IT and the people
/// asked for) and TTS's scaffold, both behind a gateway.
#[allow(dead_code)] // not every test binary signs in
pub struct AuthPlatform {
    _db: map_kit::testing::TestDb,
    _auth: TestServer,
    _tts: Replica,
    /// The gateway in front of them.
    pub gw: TestGateway,
}

#[allow(dead_code)]
impl AuthPlatform {
    /// With `people` (email, roles), each in IT with [`PASSWORD`].
    pub async fn start(people: &[(&str, Vec<map_kit::authn::RoleRef>)]) -> AuthPlatform {
        use map_auth::{Auth, AuthSettings, Keyset, users::NewUser};
        let db = map_kit::testing::TestDb::new::<map_migrations::auth::Migrator>().await;
        let auth = Auth::new(db.db.clone(), AuthSettings::with_keys(Keyset::generate().0));
        auth.create_department(None, "IT", "Information Technology")
            .await
            .expect("department");
        for (email, roles) in people {
            auth.create_user(
                None,
                NewUser {
                    email: (*email).into(),
                    display_name: "Someone".into(),
                    department: "IT".into(),
                    password: Some(secrecy::SecretString::from(PASSWORD)),
                    roles: roles.clone(),
                },
            )
            .await
            .expect("user");
        }
        let server = TestServer::start(map_auth::grpc_server(std::sync::Arc::clone(&auth))).await;
        let spec = UpstreamSpec::Static {
            host: "127.0.0.1".into(),
            port: server.addr.port(),
        };
        // TTS's scaffold too: the Node clients also stream TTS's health.
        let tts = Replica::start(System::Tts, "tts-a").await;
        let gw = TestGateway::start(config(vec![
            (System::Auth, vec![spec]),
            (System::Tts, vec![tts.spec()]),
        ]))
        .await;
        AuthPlatform {
            _db: db,
            _auth: server,
            _tts: tts,
            gw,
        }
    }
}
