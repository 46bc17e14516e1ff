//! Another system's directory against the real Auth server, on both
//! databases: the backfill through paged ListUsers / ListDepartments,
//! Auth's own events replayed through the sync handler in any order, the
//! reconcile that repairs drift, the reconcile loop, and the cached
//! GetUserInfo / BatchGetUserInfo look-ups. The directory lives in a TTS
//! database beside Auth's.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use map_auth::{
    departments::DepartmentPatch,
    users::{NewUser, UserPatch},
};
use map_contracts::events::v1 as ev;
use map_kit::{
    ApiError,
    bus::{Event, Handler as _},
    directory::{Directory, DirectoryError, SyncHandler, entity, read},
    outbox::entity as outbox,
    testing::{TestDb, eventually},
    wire::etag::etag,
};
use prost::Message as _;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
    QueryOrder as _,
};
use secrecy::SecretString;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);

async fn tts_db() -> TestDb {
    TestDb::new::<map_migrations::tts::Migrator>().await
}

/// The secret of a new API key with `roles`.
async fn key(h: &Harness, roles: &[(&str, &str)]) -> SecretString {
    match h.api_key("tts", roles).await {
        Cred::ApiKey(k) => SecretString::from(k),
        other => panic!("not an API key: {other:?}"),
    }
}

/// TTS's directory, filled from `h` with the TTS service key.
async fn directory(h: &Harness, db: &TestDb, page_size: i32) -> Directory {
    let key = key(h, &[("auth", "service")]).await;
    Directory::new(db.db.clone(), h.channel.clone(), &key)
        .unwrap()
        .with_page_size(page_size)
}

async fn new_user(h: &Harness, email: &str, department: &str, roles: &[(&str, &str)]) -> String {
    h.auth
        .create_user(
            None,
            NewUser {
                email: email.into(),
                display_name: format!("User {email}"),
                department: department.into(),
                password: None,
                roles: roles.iter().map(|(s, r)| role(s, r)).collect(),
            },
        )
        .await
        .unwrap()
        .user
        .id
}

async fn rename(h: &Harness, id: &str, name: &str) {
    h.auth
        .update_user(
            None,
            id,
            0,
            UserPatch {
                display_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// Asserts the directory holds exactly what Auth holds of user `id`.
async fn matches_auth(h: &Harness, d: &Directory, id: &str) {
    let auth = h.auth.get_user(id).await.unwrap();
    let mine = d
        .user(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{id} missing from the directory"));
    assert_eq!(
        (
            &mine.email,
            &mine.display_name,
            &mine.department_code,
            mine.active,
            &mine.roles,
            mine.version
        ),
        (
            &auth.email,
            &auth.display_name,
            &auth.department,
            auth.active,
            &auth.roles,
            auth.version
        ),
        "user {id}"
    );
}

/// Departments OPS, HR and LAB besides the harness's IT and FINANCE; LAB
/// deactivated.
async fn more_departments(h: &Harness) {
    for (code, name) in [("OPS", "Operations"), ("HR", "People"), ("LAB", "Lab")] {
        h.auth.create_department(None, code, name).await.unwrap();
    }
    h.auth
        .update_department(
            None,
            "LAB",
            &etag(1),
            DepartmentPatch {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

map_kit::db_tests! {
#[tokio::test]
async fn a_backfill_fills_users_and_departments_across_pages() {
    let h = Harness::start().await;
    more_departments(&h).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let department = ["IT", "FINANCE", "OPS", ""][i % 4];
        let roles: &[(&str, &str)] = match i % 3 {
            0 => &[("tts", "agent"), ("hdts", "employee")],
            1 => &[("auth", "admin")],
            _ => &[],
        };
        ids.push(new_user(&h, &format!("u{i}@example.com"), department, roles).await);
    }
    h.auth.deactivate_user(None, &ids[2]).await.unwrap();

    let tts = tts_db().await;
    let d = directory(&h, &tts, 2).await;
    assert!(d.last_full_sync().await.unwrap().is_none());
    let report = d.backfill_if_empty().await.unwrap().expect("an empty directory is filled");
    assert_eq!((report.users.listed, report.users.written, report.users.missing), (7, 7, 0));
    assert_eq!(
        (report.departments.listed, report.departments.written),
        (5, 5),
        "inactive departments are listed too"
    );
    for id in &ids {
        matches_auth(&h, &d, id).await;
    }
    let everyone = d.users(&ids).await.unwrap();
    assert_eq!(everyone.iter().map(|u| &u.id).collect::<Vec<_>>(), ids.iter().collect::<Vec<_>>());
    assert!(!everyone[2].active);
    let agents = read::holders(tts.db.conn(), "tts", "agent", true).await.unwrap();
    assert_eq!(agents.len(), 3, "users 0, 3 and 6");

    let codes: Vec<String> = read::departments(tts.db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(codes, ["FINANCE", "HR", "IT", "LAB", "OPS"]);
    assert!(d.department_is_active("OPS").await.unwrap());
    assert!(!d.department_is_active("LAB").await.unwrap(), "deactivated in auth");
    assert!(!d.department_is_active("NOPE").await.unwrap());
    let lab = d.department("LAB").await.unwrap().unwrap();
    assert_eq!((lab.name.as_str(), lab.version), ("Lab", 2));

    // Filled once: a restart finds nothing to do.
    assert!(d.last_full_sync().await.unwrap().is_some());
    assert_eq!(d.backfill_if_empty().await.unwrap(), None);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_directory_that_only_followed_events_is_still_backfilled() {
    let h = Harness::start().await;
    let old = new_user(&h, "old@example.com", "IT", &[]).await;
    let tts = tts_db().await;
    let d = directory(&h, &tts, 50).await;
    // An event of a newer user arrives before the first backfill.
    let new = new_user(&h, "new@example.com", "IT", &[]).await;
    for event in auth_events(&h).await.into_iter().filter(|e| e.envelope.subject == new) {
        apply(&tts, &event).await;
    }
    assert!(d.user(&new).await.unwrap().is_some());
    let report = d.backfill_if_empty().await.unwrap().expect("never matched auth yet");
    assert_eq!((report.users.listed, report.users.written), (2, 1), "only the old user was missing");
    matches_auth(&h, &d, &old).await;
}
}

/// Every event in Auth's outbox, in the order Auth wrote them.
async fn auth_events(h: &Harness) -> Vec<Event> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Seq)
        .all(h.db.db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|row| Event::new(ev::Envelope::decode(row.envelope.as_slice()).unwrap()))
        .collect()
}

async fn apply(db: &TestDb, event: &Event) {
    let txn = db.db.begin_write().await.unwrap();
    SyncHandler::new().handle(event, &txn).await.unwrap();
    txn.commit().await.unwrap();
}

/// Asserts the directory in `tts` holds Auth's users `ids` and every
/// department as Auth holds them now.
async fn same_as_auth(h: &Harness, tts: &TestDb, ids: &[&String]) {
    let d = directory(h, tts, 50).await;
    for id in ids {
        matches_auth(h, &d, id).await;
    }
    for code in ["IT", "FINANCE", "OPS", "HR", "LAB"] {
        let auth = h.auth.get_department(code).await.unwrap();
        let mine = d.department(code).await.unwrap().unwrap();
        assert_eq!(
            (mine.name, mine.active, mine.version),
            (auth.name, auth.active, auth.version),
            "department {code}"
        );
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn auths_own_events_in_any_order_leave_auths_state() {
    let h = Harness::start().await;
    let a = new_user(&h, "a@example.com", "IT", &[("hdts", "employee")]).await;
    let b = new_user(&h, "b@example.com", "FINANCE", &[]).await;
    h.auth.grant_role(None, &a, role("tts", "agent")).await.unwrap();
    rename(&h, &a, "Ana").await;
    h.auth.revoke_role(None, &a, role("hdts", "employee")).await.unwrap();
    h.auth.deactivate_user(None, &b).await.unwrap();
    h.auth.reactivate_user(None, &b).await.unwrap();
    h.auth.deactivate_user(None, &a).await.unwrap();
    more_departments(&h).await;
    let events = auth_events(&h).await;
    assert!(events.len() >= 14, "{} events", events.len());

    // Newest first: every older event after it is stale.
    let reversed = tts_db().await;
    for event in events.iter().rev() {
        apply(&reversed, event).await;
    }
    same_as_auth(&h, &reversed, &[&a, &b]).await;
    // Interleaved, each event delivered twice.
    let shuffled = tts_db().await;
    let (odd, even): (Vec<_>, Vec<_>) = events.iter().enumerate().partition(|(i, _)| i % 2 == 1);
    for (_, event) in odd.iter().rev().chain(even.iter()).chain(odd.iter()) {
        apply(&shuffled, event).await;
    }
    same_as_auth(&h, &shuffled, &[&a, &b]).await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_reconcile_repairs_drift_and_marks_what_auth_does_not_know() {
    let h = Harness::start().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(new_user(&h, &format!("r{i}@example.com"), "IT", &[("tts", "agent")]).await);
    }
    let tts = tts_db().await;
    let d = directory(&h, &tts, 4).await;
    d.backfill_if_empty().await.unwrap().unwrap();
    let conn = tts.db.conn();

    // 0: a row edited by hand at the same version.
    entity::users::ActiveModel {
        id: Set(ids[0].clone()),
        display_name: Set("Hand Edited".into()),
        ..Default::default()
    }
    .update(conn)
    .await
    .unwrap();
    // 1: its roles lost.
    entity::user_roles::Entity::delete_many()
        .filter(entity::user_roles::Column::UserId.eq(ids[1].clone()))
        .exec(conn)
        .await
        .unwrap();
    // 2: the whole row lost.
    entity::users::Entity::delete_by_id(ids[2].clone()).exec(conn).await.unwrap();
    // 3: changed in Auth, its event never delivered.
    rename(&h, &ids[3], "Renamed In Auth").await;
    // 4: a newer version than the listing's (an event raced the pass): kept.
    entity::users::ActiveModel {
        id: Set(ids[4].clone()),
        version: Set(99),
        display_name: Set("From A Newer Event".into()),
        ..Default::default()
    }
    .update(conn)
    .await
    .unwrap();
    // Users Auth does not know: one last changed long ago, one just now
    // (perhaps created while the pass ran).
    let ghost = uuid::Uuid::now_v7().to_string();
    let newborn = uuid::Uuid::now_v7().to_string();
    for (id, at) in [
        (&ghost, chrono::DateTime::from_timestamp(1_600_000_000, 0).unwrap()),
        (&newborn, chrono::Utc::now()),
    ] {
        entity::users::ActiveModel {
            id: Set(id.clone()),
            email: Set(format!("{id}@example.com")),
            display_name: Set("Unknown To Auth".into()),
            department_code: Set("IT".into()),
            active: Set(true),
            version: Set(1),
            updated_at: Set(at),
        }
        .insert(conn)
        .await
        .unwrap();
    }
    // A department renamed by hand, and one Auth does not know.
    entity::departments::ActiveModel {
        code: Set("IT".into()),
        name: Set("Wrong".into()),
        ..Default::default()
    }
    .update(conn)
    .await
    .unwrap();
    entity::departments::ActiveModel {
        code: Set("GONE".into()),
        name: Set("Gone".into()),
        active: Set(true),
        version: Set(3),
        updated_at: Set(chrono::DateTime::from_timestamp(1_600_000_000, 0).unwrap()),
    }
    .insert(conn)
    .await
    .unwrap();

    let report = d.reconcile().await.unwrap();
    assert_eq!((report.users.listed, report.users.written, report.users.missing), (6, 4, 1));
    assert_eq!((report.departments.written, report.departments.missing), (1, 1));
    for id in &ids[..4] {
        matches_auth(&h, &d, id).await;
    }
    let raced = d.user(&ids[4]).await.unwrap().unwrap();
    assert_eq!((raced.version, raced.display_name.as_str()), (99, "From A Newer Event"));
    let ghost_row = d.user(&ghost).await.unwrap().unwrap();
    assert!(!ghost_row.active, "unknown to auth: marked inactive, row kept");
    assert_eq!(ghost_row.version, 1, "its version unchanged");
    assert!(d.user(&newborn).await.unwrap().unwrap().active, "too recent to judge");
    assert_eq!(d.department("IT").await.unwrap().unwrap().name, "Information Technology");
    assert!(!d.department_is_active("GONE").await.unwrap());

    // Nothing left to repair.
    let again = d.reconcile().await.unwrap();
    assert_eq!((again.users.written, again.users.missing), (0, 0));
    assert_eq!((again.departments.written, again.departments.missing), (0, 0));
}
}

map_kit::db_tests! {
#[tokio::test]
async fn the_reconcile_loop_backfills_follows_auth_and_stops_on_shutdown() {
    let h = Harness::start().await;
    let first = new_user(&h, "first@example.com", "IT", &[]).await;
    let tts = tts_db().await;
    let d = directory(&h, &tts, 50).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(d.clone().run_reconcile(Duration::from_millis(50), async {
        let _ = stopped.await;
    }));
    eventually("the backfill", WAIT, || async { d.user(&first).await.unwrap().is_some() }).await;
    // A change whose event never arrives reaches the directory anyway.
    rename(&h, &first, "Seen By Reconcile").await;
    let later = new_user(&h, "later@example.com", "IT", &[]).await;
    eventually("a reconcile", WAIT, || async {
        let renamed = d.user(&first).await.unwrap().is_some_and(|u| u.display_name == "Seen By Reconcile");
        renamed && d.user(&later).await.unwrap().is_some()
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, running).await.expect("stops on shutdown").unwrap();
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_key_without_auth_service_fills_nothing_and_is_retried_later() {
    let h = Harness::start().await;
    new_user(&h, "x@example.com", "IT", &[]).await;
    let tts = tts_db().await;
    let weak = key(&h, &[("tts", "agent")]).await;
    let d = Directory::new(tts.db.clone(), h.channel.clone(), &weak).unwrap();
    match d.backfill_if_empty().await {
        Err(DirectoryError::Auth { rpc: "ListUsers", code: Code::PermissionDenied, .. }) => {}
        other => panic!("expected ListUsers to be refused: {other:?}"),
    }
    assert!(d.last_full_sync().await.unwrap().is_none(), "not filled: the next start tries again");
}
}

// ---------------------------------------------------------------------------
// Cached look-ups
// ---------------------------------------------------------------------------

use map_kit::authn::{LookupConfig, UserLookup};

async fn lookup(h: &Harness, ttl: Duration) -> UserLookup {
    let key = key(h, &[("auth", "service")]).await;
    UserLookup::new(
        h.channel.clone(),
        &key,
        LookupConfig {
            ttl,
            ..LookupConfig::default()
        },
    )
    .unwrap()
}

fn name(user: &map_contracts::auth::v1::User) -> &str {
    &user.display_name
}

map_kit::db_tests! {
#[tokio::test]
async fn cached_lookups_ask_auth_once_within_the_ttl() {
    let h = Harness::start().await;
    let a = new_user(&h, "a@example.com", "IT", &[]).await;
    let b = new_user(&h, "b@example.com", "IT", &[]).await;
    let cached = lookup(&h, Duration::from_secs(30)).await;

    assert_eq!(name(&cached.user(&a).await.unwrap().unwrap()), "User a@example.com");
    rename(&h, &a, "A Two").await;
    // Within the TTL Auth is not asked again: the answer is the cached one.
    assert_eq!(name(&cached.user(&a).await.unwrap().unwrap()), "User a@example.com");
    // A batch asks only for what is not cached, in request order.
    let both = cached.users(&[b.clone(), a.clone(), b.clone()]).await.unwrap();
    let names: Vec<&str> = both.iter().map(|u| name(u)).collect();
    assert_eq!(names, ["User b@example.com", "User a@example.com", "User b@example.com"]);
    rename(&h, &b, "B Two").await;
    assert_eq!(name(&cached.user(&b).await.unwrap().unwrap()), "User b@example.com", "b was cached by the batch");

    // A short TTL: the change shows once the answer expires.
    let short = lookup(&h, Duration::from_millis(100)).await;
    assert_eq!(name(&short.user(&a).await.unwrap().unwrap()), "A Two");
    rename(&h, &a, "A Three").await;
    eventually("the cached answer to expire", WAIT, || async {
        short.user(&a).await.unwrap().is_some_and(|u| u.display_name == "A Three")
    })
    .await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn lookups_answer_not_found_for_unknown_users() {
    let h = Harness::start().await;
    let a = new_user(&h, "a@example.com", "IT", &[]).await;
    let l = lookup(&h, Duration::from_secs(30)).await;
    let unknown = uuid::Uuid::now_v7().to_string();

    assert!(l.user(&unknown).await.unwrap().is_none());
    assert!(l.user("not-a-uuid").await.unwrap().is_none());
    // A batch is all or nothing, naming the missing ids once each.
    let err = l.users(&[a.clone(), unknown.clone(), unknown.clone()]).await.unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "USERS_NOT_FOUND");
    let missing = tonic_types::StatusExt::get_details_error_info(&status)
        .and_then(|i| i.metadata.get("missing_user_ids").cloned());
    assert_eq!(missing, Some(unknown.clone()));
    // The known user is still found, alone and in a batch.
    assert_eq!(l.users(std::slice::from_ref(&a)).await.unwrap().len(), 1);

    // A key Auth refuses is this service's defect, not "no such user".
    let weak = key(&h, &[("tts", "agent")]).await;
    let refused = UserLookup::new(h.channel.clone(), &weak, LookupConfig::default()).unwrap();
    assert!(matches!(refused.user(&a).await, Err(ApiError::Internal(_))));
}
}
