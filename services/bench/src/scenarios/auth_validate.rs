//! `auth-validate`: Auth's ValidateToken under load, and the cost of the
//! cached authenticator every other system puts in front of its handlers,
//! each beside a bare echo measured in the same run.
//!
//! Setup (not measured): a real Auth server on 127.0.0.1:0 over a temp-file
//! SQLite database; `--users` users each sign in `--tokens / --users`
//! times, giving `--tokens` distinct access tokens (default 100). Callers
//! cycle through all of them, so Auth's verified-token cache is hot after
//! the warm-up, as it is in production where a token is presented many
//! times in its 15 minutes.
//!
//! Runs, in order, at the same concurrency and connections:
//! 1. `baseline (tonic echo)`: the kit server's `grpc.health.v1` Check;
//! 2. `auth ValidateToken`: ValidateToken with the tokens; reported as a
//!    ratio of (1)'s throughput (target ≥ 0.5);
//! 3. `echo, plain`: a bare tonic server with the health service (no kit
//!    layers);
//! 4. `echo, authenticated`: the same server with map-kit's `Authenticated`
//!    layer and `Authenticator` (gRPC client of Auth, cached answers) in
//!    front, called with `authorization: Bearer`; its p50/p99 minus (3)'s is
//!    the authenticator's cost (target ≤ 20 µs at p99).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use map_auth::{Auth, AuthSettings, Keyset, users::NewUser};
use map_contracts::auth::v1::{ValidateTokenRequest, auth_service_client::AuthServiceClient};
use map_kit::{
    authn::{Authenticated, Authenticator, CacheConfig, RoleRef, Validator},
    authz::{Access, Policy},
    db::Db,
};
use secrecy::SecretString;
use tokio::{net::TcpListener, sync::oneshot};
use tonic::{metadata::MetadataValue, transport::Server};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::{LoadOptions, Report, run_load, scenarios::baseline};

/// Flags of `map bench auth-validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthValidateArgs {
    /// HTTP/2 connections the callers share.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Distinct access tokens the callers cycle through.
    #[arg(long, default_value_t = 100)]
    pub tokens: usize,
    /// Users the tokens belong to (each signs in tokens/users times).
    #[arg(long, default_value_t = 10)]
    pub users: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Auth on a temp SQLite database, with `tokens` access tokens.
struct AuthFixture {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
    tokens: Arc<Vec<String>>,
    _dir: tempfile::TempDir,
}

async fn start_auth(args: &AuthValidateArgs) -> Result<AuthFixture, BoxError> {
    let dir = tempfile::tempdir()?;
    let url = SecretString::from(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("auth.db").display()
    ));
    map_kit::db::migrate::<map_migrations::auth::Migrator>(&url).await?;
    let mut settings = AuthSettings::with_keys(Keyset::generate().0);
    settings.login_rate.per_minute = 1_000_000;
    settings.login_rate.burst = 1_000_000;
    let auth = Auth::new(Db::connect(&url).await?, settings);
    let users = args.users.max(1);
    let per_user = args.tokens.max(1).div_ceil(users);
    let password = SecretString::from("bench password 123");
    let mut tokens = Vec::new();
    auth.create_department(None, "IT", "Information Technology")
        .await?;
    for u in 0..users {
        let email = format!("bench{u}@example.com");
        auth.create_user(
            None,
            NewUser {
                email: email.clone(),
                display_name: format!("Bench {u}"),
                department: "IT".into(),
                password: Some(password.clone()),
                roles: vec![RoleRef {
                    system: "tts".into(),
                    role: "agent".into(),
                }],
            },
        )
        .await?;
        for _ in 0..per_user {
            if tokens.len() < args.tokens.max(1) {
                tokens.push(auth.login(&email, &password, None).await?.access_token);
            }
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(map_auth::grpc_server(auth).serve(listener, async {
        let _ = stopped.await;
    }));
    Ok(AuthFixture {
        addr,
        _stop: stop,
        tokens: Arc::new(tokens),
        _dir: dir,
    })
}

/// A plain tonic server with only the health service, optionally behind
/// the authenticator.
async fn start_echo(
    validator: Option<Arc<dyn Validator>>,
) -> Result<(SocketAddr, oneshot::Sender<()>), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let (_, health) = tonic_health::server::health_reporter();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let shutdown = async {
        let _ = stopped.await;
    };
    match validator {
        Some(v) => {
            tokio::spawn(
                Server::builder()
                    .add_service(Authenticated::new(health, &HEALTH_SIGNED_IN, v))
                    .serve_with_incoming_shutdown(incoming, shutdown),
            );
        }
        None => {
            tokio::spawn(
                Server::builder()
                    .add_service(health)
                    .serve_with_incoming_shutdown(incoming, shutdown),
            );
        }
    }
    Ok((addr, stop))
}

fn next_token(tokens: &[String], counter: &AtomicUsize) -> String {
    tokens[counter.fetch_add(1, Ordering::Relaxed) % tokens.len()].clone()
}

async fn echo_load(
    name: &str,
    opts: &LoadOptions,
    addr: SocketAddr,
    connections: usize,
    tokens: Option<Arc<Vec<String>>>,
) -> Result<Report, BoxError> {
    let chans = baseline::channels(addr, connections).await?;
    let counter = Arc::new(AtomicUsize::new(0));
    let headers: Option<Arc<Vec<MetadataValue<tonic::metadata::Ascii>>>> = match &tokens {
        Some(t) => Some(Arc::new(
            t.iter()
                .map(|t| format!("Bearer {t}").parse())
                .collect::<Result<_, _>>()?,
        )),
        None => None,
    };
    Ok(run_load(name, opts, move |worker| {
        let mut client = HealthClient::new(chans[worker % chans.len()].clone());
        let mut request = tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        });
        if let Some(h) = &headers {
            let i = counter.fetch_add(1, Ordering::Relaxed) % h.len();
            request.metadata_mut().insert("authorization", h[i].clone());
        }
        async move { client.check(request).await.map(|_| ()) }
    })
    .await)
}

/// Runs the four measurements; see the module docs.
pub async fn run(opts: &LoadOptions, args: &AuthValidateArgs) -> Result<Vec<Report>, BoxError> {
    let fixture = start_auth(args).await?;
    let tokens = fixture.tokens.clone();
    let connections = args.connections.max(1);

    let base = baseline::run(opts, connections)
        .await
        .map_err(|e| -> BoxError { e.to_string().into() })?;

    let chans = baseline::channels(fixture.addr, connections).await?;
    let counter = Arc::new(AtomicUsize::new(0));
    let validate_tokens = tokens.clone();
    let mut validate = run_load("auth ValidateToken", opts, move |worker| {
        let mut client = AuthServiceClient::new(chans[worker % chans.len()].clone());
        let token = next_token(&validate_tokens, &counter);
        async move {
            let r = client
                .validate_token(ValidateTokenRequest { token })
                .await
                .map_err(|s| s.to_string())?;
            if r.into_inner().valid {
                Ok(())
            } else {
                Err("token reported invalid".to_owned())
            }
        }
    })
    .await;
    validate.notes.push(format!(
        "{} distinct access tokens of {} users, cycled; {connections} HTTP/2 connections",
        tokens.len(),
        args.users.max(1)
    ));
    validate.notes.push(format!(
        "throughput ratio to the baseline echo: {:.2}",
        validate.throughput / base.throughput.max(1.0)
    ));

    let (plain_addr, _plain) = start_echo(None).await?;
    let plain = echo_load("echo, plain", opts, plain_addr, connections, None).await?;

    let authenticator: Arc<dyn Validator> = Arc::new(Authenticator::connect_lazy(
        &format!("http://{}", fixture.addr)
            .parse::<http::Uri>()?
            .into(),
        CacheConfig::default(),
    ));
    let (auth_addr, _authed) = start_echo(Some(authenticator.clone())).await?;
    let mut authed = echo_load(
        "echo, authenticated",
        opts,
        auth_addr,
        connections,
        Some(tokens.clone()),
    )
    .await?;
    authed.notes.push(format!(
        "map-kit Authenticated + Authenticator (cache TTL 25 s), {} distinct bearer tokens",
        tokens.len()
    ));
    let delta = |a: u64, b: u64| i128::from(a) - i128::from(b);
    authed.notes.push(format!(
        "added latency vs plain echo: p50 {:+} µs, p99 {:+} µs; throughput ratio {:.2}",
        delta(authed.latency.p50_us, plain.latency.p50_us),
        delta(authed.latency.p99_us, plain.latency.p99_us),
        authed.throughput / plain.throughput.max(1.0)
    ));
    authed
        .notes
        .push(in_process_cost(authenticator.as_ref(), &tokens).await?);
    Ok(vec![base, validate, plain, authed])
}

/// What the `Authenticated` layer does per call on a cache hit — read the
/// credential from the headers and ask the validator — timed in process,
/// without the network and scheduling noise that two end-to-end phases
/// cannot separate from a cost of a few microseconds.
async fn in_process_cost(validator: &dyn Validator, tokens: &[String]) -> Result<String, BoxError> {
    const CALLS: usize = 200_000;
    let headers: Vec<http::HeaderMap> = tokens
        .iter()
        .map(|t| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::AUTHORIZATION, format!("Bearer {t}").parse()?);
            Ok(h)
        })
        .collect::<Result<_, http::header::InvalidHeaderValue>>()?;
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3)?;
    for i in 0..CALLS {
        let h = &headers[i % headers.len()];
        let started = std::time::Instant::now();
        let credential = map_kit::authn::Credential::from_headers(h)?.ok_or("no credential")?;
        let principal = validator.validate(credential.secret()).await?;
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if principal.is_none() {
            return Err("a valid token was rejected".into());
        }
        hist.saturating_record(ns.max(1));
    }
    Ok(format!(
        "in process, cache hit ({CALLS} calls, {} tokens): p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs",
        tokens.len(),
        hist.value_at_quantile(0.50) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.value_at_quantile(0.999) as f64 / 1000.0
    ))
}

/// The echo's policy behind the authenticator: any signed-in caller.
static HEALTH_SIGNED_IN: Policy = Policy {
    service: "grpc.health.v1.Health",
    methods: &[("Check", Access::SignedIn), ("Watch", Access::SignedIn)],
};
