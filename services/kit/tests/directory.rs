//! The directory's sync handler on both databases: Auth's snapshots applied
//! newest-version-wins whatever order they arrive in, duplicates and stale
//! versions ignored, unknown event types ignored (not errors), broken
//! payloads refused as permanent, reactions told only of applied changes;
//! and the handler behind a real consumer, over the in-process bus (SQLite)
//! and RabbitMQ (PostgreSQL). Backfill and reconcile against a real Auth
//! are tested beside Auth (`services/auth/tests/directory.rs`).
#![allow(clippy::unwrap_used)]

mod bus_support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bus_support::{Backend as Bus, Fixture, enqueue, eventually};
use map_contracts::events::v1::{self as ev, Envelope};
use map_kit::{
    System,
    authn::RoleRef,
    bus::{Consumer, ConsumerConfig, Event, Handler, HandlerError},
    directory::{self, DirectoryUser, Reaction, SyncHandler, UserChange, read},
    outbox::NewEvent,
    testing::TestDb,
};
use sea_orm::{DatabaseTransaction, EntityTrait as _, PaginatorTrait as _};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

async fn tts_db() -> TestDb {
    TestDb::new::<map_migrations::tts::Migrator>().await
}

fn role(system: &str, role: &str) -> ev::RoleRef {
    ev::RoleRef {
        system: system.into(),
        role: role.into(),
    }
}

/// A user's snapshot at `version`.
fn snapshot(
    id: &str,
    version: i64,
    name: &str,
    active: bool,
    roles: &[(&str, &str)],
) -> ev::UserSnapshot {
    ev::UserSnapshot {
        id: id.into(),
        email: format!("{}@example.org", name.to_lowercase()),
        display_name: name.into(),
        department: "IT".into(),
        active,
        roles: roles.iter().map(|(s, r)| role(s, r)).collect(),
        version,
        create_time: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        update_time: Some(prost_types::Timestamp {
            seconds: 1_700_000_000 + version,
            nanos: 123_456_789,
        }),
    }
}

fn department(code: &str, version: i64, name: &str, active: bool) -> ev::DepartmentSnapshot {
    ev::DepartmentSnapshot {
        code: code.into(),
        name: name.into(),
        active,
        version,
        ..Default::default()
    }
}

/// The event Auth would publish for a payload.
fn event<M: prost::Name>(
    event_type: &'static str,
    subject: &str,
    version: i64,
    payload: &M,
) -> NewEvent {
    NewEvent::new(event_type, subject, version, payload)
}

/// A delivered event, as the consumer hands it to its handler.
fn delivered(e: &NewEvent) -> Event {
    let e = e.clone();
    Event::new(Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: e.event_type.into(),
        source: "auth".into(),
        subject: e.subject,
        subject_version: e.subject_version,
        payload: Some(e.payload),
        ..Default::default()
    })
}

fn created(s: ev::UserSnapshot) -> NewEvent {
    let (id, v) = (s.id.clone(), s.version);
    event(
        "auth.user.created",
        &id,
        v,
        &ev::AuthUserCreated {
            user: Some(s),
            actor_user_id: String::new(),
        },
    )
}

fn updated(s: ev::UserSnapshot) -> NewEvent {
    let (id, v) = (s.id.clone(), s.version);
    event(
        "auth.user.updated",
        &id,
        v,
        &ev::AuthUserUpdated {
            user: Some(s),
            ..Default::default()
        },
    )
}

fn deactivated(s: ev::UserSnapshot) -> NewEvent {
    let (id, v) = (s.id.clone(), s.version);
    event(
        "auth.user.deactivated",
        &id,
        v,
        &ev::AuthUserDeactivated {
            user: Some(s),
            actor_user_id: String::new(),
        },
    )
}

fn granted(s: ev::UserSnapshot, system: &str, r: &str) -> NewEvent {
    let (id, v) = (s.id.clone(), s.version);
    event(
        "auth.role.granted",
        &id,
        v,
        &ev::AuthRoleGranted {
            user: Some(s),
            role: Some(role(system, r)),
            actor_user_id: String::new(),
        },
    )
}

fn revoked(s: ev::UserSnapshot, system: &str, r: &str) -> NewEvent {
    let (id, v) = (s.id.clone(), s.version);
    event(
        "auth.role.revoked",
        &id,
        v,
        &ev::AuthRoleRevoked {
            user: Some(s),
            role: Some(role(system, r)),
            actor_user_id: String::new(),
        },
    )
}

fn department_created(d: ev::DepartmentSnapshot) -> NewEvent {
    let (code, v) = (d.code.clone(), d.version);
    event(
        "auth.department.created",
        &code,
        v,
        &ev::AuthDepartmentCreated {
            department: Some(d),
            actor_user_id: String::new(),
        },
    )
}

fn department_updated(d: ev::DepartmentSnapshot) -> NewEvent {
    let (code, v) = (d.code.clone(), d.version);
    event(
        "auth.department.updated",
        &code,
        v,
        &ev::AuthDepartmentUpdated {
            department: Some(d),
            ..Default::default()
        },
    )
}

/// Applies `event` through `handler` in a transaction of its own, as the
/// consumer would (committed on success).
async fn apply(db: &TestDb, handler: &SyncHandler, event: &NewEvent) -> Result<(), HandlerError> {
    let txn = db.db.begin_write().await.unwrap();
    handler.handle(&delivered(event), &txn).await?;
    txn.commit().await.unwrap();
    Ok(())
}

async fn user(db: &TestDb, id: &str) -> DirectoryUser {
    read::user(db.db.conn(), id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("user {id} is not in the directory"))
}

fn roles(pairs: &[(&str, &str)]) -> Vec<RoleRef> {
    pairs
        .iter()
        .map(|(s, r)| RoleRef {
            system: (*s).into(),
            role: (*r).into(),
        })
        .collect()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_users_snapshots_apply_newest_version_first_or_last() {
    let db = tts_db().await;
    let h = SyncHandler::new();
    let id = new_id();
    let employee = [("hdts", "employee")];
    let agent = [("hdts", "employee"), ("tts", "agent")];

    apply(&db, &h, &created(snapshot(&id, 1, "Ana", true, &employee))).await.unwrap();
    let u = user(&db, &id).await;
    assert_eq!((u.version, u.display_name.as_str(), u.active), (1, "Ana", true));
    assert_eq!(u.email, "ana@example.org");
    assert_eq!(u.department_code, "IT");
    assert_eq!(u.roles, roles(&employee));
    // Microseconds kept, as both databases store them.
    assert_eq!(u.updated_at.timestamp_subsec_micros(), 123_456);

    // Version 3 arrives before version 2: 3 is applied, then 2 is stale.
    apply(&db, &h, &granted(snapshot(&id, 3, "Ana Lima", true, &agent), "tts", "agent")).await.unwrap();
    apply(&db, &h, &updated(snapshot(&id, 2, "Ana Lima", true, &employee))).await.unwrap();
    let u = user(&db, &id).await;
    assert_eq!(u.version, 3);
    assert_eq!(u.roles, roles(&agent), "the older snapshot's roles must not win");
    assert!(u.holds("tts", "agent"));

    // The same version again (another event id) changes nothing.
    apply(&db, &h, &updated(snapshot(&id, 3, "Someone Else", false, &[]))).await.unwrap();
    let u = user(&db, &id).await;
    assert_eq!((u.display_name.as_str(), u.active, u.roles.len()), ("Ana Lima", true, 2));

    // A role revoked, then the user deactivated, delivered in reverse.
    apply(&db, &h, &deactivated(snapshot(&id, 5, "Ana Lima", false, &employee))).await.unwrap();
    apply(&db, &h, &revoked(snapshot(&id, 4, "Ana Lima", true, &employee), "tts", "agent")).await.unwrap();
    let u = user(&db, &id).await;
    assert_eq!((u.version, u.active), (5, false));
    assert_eq!(u.roles, roles(&employee));

    // The reads: by ids in request order, unknown ids left out; holders.
    let other = new_id();
    apply(&db, &h, &created(snapshot(&other, 1, "Bo", true, &agent))).await.unwrap();
    let found = read::users_by_ids(db.db.conn(), &[other.clone(), new_id(), id.clone(), other.clone()])
        .await
        .unwrap();
    let found: Vec<&str> = found.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(found, [other.as_str(), id.as_str()]);
    let agents = read::holders(db.db.conn(), "tts", "agent", false).await.unwrap();
    assert_eq!(agents.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [other.as_str()]);
    let employees = read::holders(db.db.conn(), "hdts", "employee", true).await.unwrap();
    assert_eq!(employees.len(), 1, "the deactivated holder is left out");
    assert!(read::user(db.db.conn(), &new_id()).await.unwrap().is_none());
}
}

map_kit::db_tests! {
#[tokio::test]
async fn departments_apply_newest_version_wins() {
    let db = tts_db().await;
    let h = SyncHandler::new();
    let conn = db.db.conn();
    assert!(!read::department_is_active(conn, "OPS").await.unwrap(), "unknown");

    apply(&db, &h, &department_updated(department("OPS", 2, "Operations", false))).await.unwrap();
    // The older "created" arrives late and is ignored.
    apply(&db, &h, &department_created(department("OPS", 1, "Ops", true))).await.unwrap();
    let d = read::department(conn, "OPS").await.unwrap().unwrap();
    assert_eq!((d.name.as_str(), d.active, d.version), ("Operations", false, 2));
    assert!(!read::department_is_active(conn, "OPS").await.unwrap());

    apply(&db, &h, &department_updated(department("OPS", 3, "Operations", true))).await.unwrap();
    apply(&db, &h, &department_created(department("HR", 1, "People", true))).await.unwrap();
    assert!(read::department_is_active(conn, "OPS").await.unwrap());
    let all = read::departments(conn).await.unwrap();
    assert_eq!(all.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(), ["HR", "OPS"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn unknown_event_types_are_ignored_and_broken_payloads_are_permanent() {
    let db = tts_db().await;
    let h = SyncHandler::new();
    let id = new_id();

    // A type this handler does not know (a newer Auth's), with any payload.
    let unknown = event("auth.user.merged", &id, 7, &ev::AuthUserCreated {
        user: Some(snapshot(&id, 7, "Ghost", true, &[])),
        actor_user_id: String::new(),
    });
    assert_eq!(apply(&db, &h, &unknown).await, Ok(()));
    assert!(read::user(db.db.conn(), &id).await.unwrap().is_none(), "nothing written");

    // A known type whose payload is another message: never applicable.
    let wrong = event("auth.user.updated", &id, 1, &ev::AuthDepartmentCreated::default());
    assert!(matches!(apply(&db, &h, &wrong).await, Err(HandlerError::Permanent(_))));
    // A snapshot-less event, and a snapshot whose id is no UUID.
    let empty = event("auth.user.created", &id, 1, &ev::AuthUserCreated::default());
    assert!(matches!(apply(&db, &h, &empty).await, Err(HandlerError::Permanent(_))));
    let bad = created(snapshot("not-a-uuid", 1, "Bad", true, &[]));
    assert!(matches!(apply(&db, &h, &bad).await, Err(HandlerError::Permanent(_))));
    let nameless = department_created(department("", 1, "No code", true));
    assert!(matches!(apply(&db, &h, &nameless).await, Err(HandlerError::Permanent(_))));
}
}

/// Records the changes it is told about.
#[derive(Clone, Default)]
struct Changes(Arc<Mutex<Vec<UserChange>>>);

#[async_trait::async_trait]
impl Reaction for Changes {
    async fn user_changed(
        &self,
        _event: &Event,
        change: &UserChange,
        _txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError> {
        self.0.lock().unwrap().push(change.clone());
        Ok(())
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_reaction_hears_of_applied_changes_only() {
    let db = tts_db().await;
    let changes = Changes::default();
    let h = SyncHandler::new().with_reaction(changes.clone());
    let id = new_id();
    let agent = [("hdts", "employee"), ("tts", "agent")];

    apply(&db, &h, &created(snapshot(&id, 1, "Cy", true, &agent))).await.unwrap();
    apply(&db, &h, &deactivated(snapshot(&id, 3, "Cy", false, &[("hdts", "employee")]))).await.unwrap();
    // Stale: no reaction.
    apply(&db, &h, &updated(snapshot(&id, 2, "Cy", true, &agent))).await.unwrap();

    let seen = changes.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].before.is_none() && !seen[0].deactivated());
    assert!(seen[1].deactivated());
    let lost: Vec<String> = seen[1].lost_roles().map(ToString::to_string).collect();
    assert_eq!(lost, ["tts:agent"]);
    assert_eq!(seen[1].before.as_ref().map(|b| b.version), Some(1));
}
}

/// Auth's outbox holds a user's versions newest first and a department;
/// a consumer of `tts.user-sync` with the sync handler leaves the newest
/// of each in the directory.
async fn the_consumer_keeps_the_directory(bus: Bus) {
    let Some(fx) = Fixture::new(bus).await else {
        return;
    };
    let id = new_id();
    enqueue(
        &fx.producer.db,
        vec![
            deactivated(snapshot(&id, 3, "Dee", false, &[("hdts", "employee")])),
            updated(snapshot(&id, 2, "Dee Two", true, &[])),
            created(snapshot(&id, 1, "Dee", true, &[])),
            department_created(department("LAB", 1, "Lab", true)),
        ],
    )
    .await;
    let (stop_tx, stop) = watch::channel(false);
    let relay = fx.spawn_relay(&stop);
    let queue = directory::sync_queue(System::Tts).unwrap();
    assert_eq!(queue, "tts.user-sync");
    let consumer = Consumer::new(
        queue,
        fx.consumer.db.clone(),
        fx.bus.clone(),
        SyncHandler::new(),
        ConsumerConfig::default(),
    )
    .unwrap();
    let mut until = stop.clone();
    let consuming = tokio::spawn(consumer.run(async move {
        let _ = until.wait_for(|s| *s).await;
    }));

    let conn = fx.consumer.db.conn();
    eventually(
        "the department and all three versions applied",
        WAIT,
        || async {
            let lab = read::department_is_active(conn, "LAB").await.unwrap();
            let inbox = map_kit::bus::inbox::entity::Entity::find()
                .count(conn)
                .await
                .unwrap();
            lab && inbox == 4
        },
    )
    .await;
    let u = read::user(conn, &id).await.unwrap().unwrap();
    assert_eq!(
        (u.version, u.active, u.display_name.as_str()),
        (3, false, "Dee")
    );

    stop_tx.send(true).unwrap();
    consuming.await.unwrap().unwrap();
    relay.await.unwrap();
}

#[tokio::test]
async fn the_consumer_keeps_the_directory_in_process_on_sqlite() {
    the_consumer_keeps_the_directory(Bus::InProcess).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_keeps_the_directory_on_rabbitmq_with_postgres() {
    the_consumer_keeps_the_directory(Bus::RabbitMq).await;
}
