//! `map serve` given `MAP_AMQP_URL` on PostgreSQL relays its own commits:
//! with no worker running at all, an event its API commits reaches
//! RabbitMQ. (Several relays sharing one outbox are covered by the kit's
//! relay tests; that the enqueue wakes the relay, by the events benchmark.)
#![allow(clippy::unwrap_used)]

use std::{process::Stdio, time::Duration};

use map_contracts::auth::v1::{
    CreateDepartmentRequest, Department, LoginRequest, auth_service_client::AuthServiceClient,
    department_service_client::DepartmentServiceClient,
};
use map_kit::{
    bus::Bus,
    testing::{AmqpCleanup, Backend, TestDb, amqp_prefix, amqp_url, expose, postgres_url},
};
use secrecy::ExposeSecret as _;
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::Command,
};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn the_api_relays_its_own_commits_with_no_worker_running() {
    let (Some(_), Some(amqp)) = (postgres_url(), amqp_url()) else {
        return;
    };
    let db = TestDb::on::<map_migrations::auth::Migrator>(Backend::Postgres).await;
    let prefix = amqp_prefix();
    let _cleanup = AmqpCleanup::new(&amqp, &prefix);
    // The queue an Auth department event is routed to, consumed here.
    let bus = Bus::connect(Some(&amqp), &prefix).await.unwrap();
    let mut departments = bus.subscribe("hdts.user-sync", 16).await.unwrap();

    let bootstrap = Command::new(env!("CARGO_BIN_EXE_map"))
        .args(["admin", "bootstrap", "--email", "admin@example.com"])
        .env_clear()
        .env("MAP_DATABASE_URL", expose(&db.url))
        .env("MAP_ADMIN_PASSWORD", PASSWORD)
        .env("MAP_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        bootstrap.status.success(),
        "{}",
        String::from_utf8_lossy(&bootstrap.stderr)
    );
    let (_, pem) = map_auth::Keyset::generate();
    let mut api = Command::new(env!("CARGO_BIN_EXE_map"))
        .args(["serve", "auth"])
        .env_clear()
        .env("MAP_DATABASE_URL", expose(&db.url))
        .env("MAP_AMQP_URL", amqp.expose_secret())
        .env("MAP_AMQP_PREFIX", &prefix)
        .env("MAP_LISTEN", "127.0.0.1:0")
        .env("MAP_AUTH_SIGNING_KEY", pem.expose_secret())
        .env(
            "MAP_PAGE_TOKEN_KEY",
            "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        )
        .env("MAP_LOG", "warn,map_kit::server=info")
        .env("MAP_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The API logs the address the OS picked.
    let mut lines = BufReader::new(api.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("\"addr\":\"Some(") {
                let rest = &line[at + "\"addr\":\"Some(".len()..];
                return rest.split(')').next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("the api logs where it listens");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = AuthServiceClient::new(channel.clone())
        .login(LoginRequest {
            email: "admin@example.com".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut request = tonic::Request::new(CreateDepartmentRequest {
        department: Some(Department {
            code: "OPS".into(),
            name: "Operations".into(),
            ..Department::default()
        }),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    DepartmentServiceClient::new(channel)
        .create_department(request)
        .await
        .unwrap();

    // The bootstrap's own events (the administrator) may come first.
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(delivered) = departments.next().await {
            let department = delivered.event_type.as_deref() == Some("auth.department.created");
            delivered.ack().await.unwrap();
            if department {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "the api did not publish its own commit (no worker runs)"
    );
    api.start_kill().unwrap();
    bus.close().await;
}
