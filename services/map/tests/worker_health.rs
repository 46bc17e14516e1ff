//! `map worker` serves `grpc.health.v1` on its own port (MAP_HEALTH_LISTEN):
//! ready while its database answers, alive while the process runs. On the
//! production shape, RabbitMQ and PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::{process::Stdio, time::Duration};

use map_kit::testing::{Backend, TestDb, amqp_prefix, amqp_url};
use secrecy::ExposeSecret as _;
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::Command,
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

#[tokio::test]
async fn the_worker_reports_readiness_and_liveness_on_its_health_port() {
    let Some(amqp) = amqp_url() else {
        return;
    };
    let db = TestDb::on::<map_migrations::tts::Migrator>(Backend::Postgres).await;
    let mut worker = Command::new(env!("CARGO_BIN_EXE_map"))
        .args(["worker", "tts"])
        .env("MAP_DATABASE_URL", db.url.expose_secret())
        .env("MAP_AMQP_URL", amqp.expose_secret())
        .env("MAP_AMQP_PREFIX", amqp_prefix())
        .env("MAP_HEALTH_LISTEN", "127.0.0.1:0")
        .env("MAP_AUTH_URL", "http://127.0.0.1:9")
        .env("MAP_AUTH_API_KEY", "mapk_worker_health_test")
        .env("MAP_LOG", "map=info")
        .env("MAP_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The worker logs (to stdout) the health address it bound: the OS
    // picked the port.
    let mut lines = BufReader::new(worker.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line.clone());
            if line.contains("worker running") {
                let at = line.find("\"health\":\"").map(|i| i + 10)?;
                return line[at..].split('"').next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("the worker did not log its health address: {seen:?}"));

    let mut health = HealthClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    for service in ["", "liveness"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    worker.start_kill().unwrap();
}
