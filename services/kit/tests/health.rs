//! Readiness follows the database, liveness does not: on a real port, the
//! empty health service name and each service go NOT_SERVING while the
//! system's PostgreSQL database refuses connections and SERVING again when
//! it is back, while `liveness` stays SERVING throughout.

use std::time::Duration;

use map_kit::{
    System,
    server::{GrpcServer, LIVENESS, Readiness},
    testing::{Backend, TestDb, TestServer, eventually, postgres_url},
};
use sea_orm::{ConnectionTrait as _, Database};
use secrecy::ExposeSecret as _;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

async fn status(server: &TestServer, service: &str) -> Option<ServingStatus> {
    let mut client = HealthClient::new(server.channel().await);
    client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .ok()
        .and_then(|r| ServingStatus::try_from(r.into_inner().status).ok())
}

fn fast(db: &TestDb) -> Readiness {
    Readiness {
        db: db.db.clone(),
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(1),
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_reachable_database_is_ready_and_the_process_alive() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    let server =
        TestServer::start(GrpcServer::new("tts").scaffold(System::Tts).readiness(fast(&db))).await;
    for service in ["", LIVENESS, "map.tts.v1.TicketService"] {
        assert_eq!(status(&server, service).await, Some(ServingStatus::Serving), "{service:?}");
    }
    assert!(fast(&db).ready().await);
    server.stop().await;
}
}

/// Only PostgreSQL can be made unreachable while the process keeps its
/// pool: `ALLOW_CONNECTIONS false` refuses every new connection (superusers
/// included) and the database's sessions are ended.
#[tokio::test]
async fn readiness_follows_a_database_outage_while_liveness_stays() {
    let Some(admin_url) = postgres_url() else {
        return;
    };
    let db = TestDb::on::<map_migrations::tts::Migrator>(Backend::Postgres).await;
    let name = db
        .url
        .expose_secret()
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or_default()
        .to_owned();
    let admin = Database::connect(admin_url.expose_secret())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let server = TestServer::start(
        GrpcServer::new("tts")
            .scaffold(System::Tts)
            .readiness(fast(&db)),
    )
    .await;
    assert_eq!(status(&server, "").await, Some(ServingStatus::Serving));

    for sql in [
        format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"),
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    ] {
        admin
            .execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    eventually("readiness NOT_SERVING", Duration::from_secs(20), || async {
        status(&server, "").await == Some(ServingStatus::NotServing)
    })
    .await;
    assert_eq!(
        status(&server, "map.tts.v1.TicketService").await,
        Some(ServingStatus::NotServing)
    );
    assert_eq!(
        status(&server, LIVENESS).await,
        Some(ServingStatus::Serving)
    );

    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eventually(
        "readiness SERVING again",
        Duration::from_secs(20),
        || async { status(&server, "").await == Some(ServingStatus::Serving) },
    )
    .await;
    assert_eq!(
        status(&server, LIVENESS).await,
        Some(ServingStatus::Serving)
    );
    server.stop().await;
}
