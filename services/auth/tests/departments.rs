//! DepartmentService end to end on both databases: departments created,
//! listed, read and changed through the real server, each change with its
//! event (full snapshot, version) in the outbox; stale etags and bad input
//! refused with nothing written; users only in active departments; and the
//! migration that turns the codes users already carry into departments.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use map_contracts::{
    auth::v1::{self as pb, department_service_client::DepartmentServiceClient},
    events::v1 as ev,
};
use map_kit::outbox::entity as outbox;
use prost::Message as _;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use tonic::{Code, transport::Channel};

fn client(h: &Harness) -> DepartmentServiceClient<Channel> {
    DepartmentServiceClient::new(h.channel.clone())
}

/// Every department event in the outbox, in order: (type, subject, version,
/// payload's snapshot, changed fields).
async fn department_events(
    h: &Harness,
) -> Vec<(String, String, i64, ev::DepartmentSnapshot, Vec<String>)> {
    let rows = outbox::Entity::find()
        .order_by_asc(outbox::Column::Seq)
        .all(h.db.db.conn())
        .await
        .unwrap();
    rows.into_iter()
        .filter(|r| r.event_type.starts_with("auth.department."))
        .map(|r| {
            let envelope = ev::Envelope::decode(r.envelope.as_slice()).unwrap();
            let bytes = envelope.payload.unwrap().value;
            let (snapshot, changed) = match r.event_type.as_str() {
                "auth.department.created" => (
                    ev::AuthDepartmentCreated::decode(bytes.as_slice())
                        .unwrap()
                        .department,
                    Vec::new(),
                ),
                _ => {
                    let p = ev::AuthDepartmentUpdated::decode(bytes.as_slice()).unwrap();
                    (p.department, p.changed_fields)
                }
            };
            (
                r.event_type,
                r.subject,
                r.subject_version,
                snapshot.unwrap(),
                changed,
            )
        })
        .collect()
}

async fn create(
    h: &Harness,
    cred: &Cred,
    code: &str,
    name: &str,
) -> Result<pb::Department, tonic::Status> {
    client(h)
        .create_department(req(
            pb::CreateDepartmentRequest {
                department: Some(pb::Department {
                    code: code.into(),
                    name: name.into(),
                    ..Default::default()
                }),
            },
            cred,
        ))
        .await
        .map(|r| r.into_inner().department.unwrap())
}

async fn update(
    h: &Harness,
    cred: &Cred,
    department: pb::Department,
    paths: &[&str],
) -> Result<pb::Department, tonic::Status> {
    client(h)
        .update_department(req(
            pb::UpdateDepartmentRequest {
                department: Some(department),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            },
            cred,
        ))
        .await
        .map(|r| r.into_inner().department.unwrap())
}

async fn list_all(h: &Harness, cred: &Cred, show_inactive: bool) -> Vec<String> {
    let mut codes = Vec::new();
    let mut token = String::new();
    loop {
        let page = client(h)
            .list_departments(req(
                pb::ListDepartmentsRequest {
                    page_size: 2,
                    page_token: token,
                    order_by: String::new(),
                    show_inactive,
                },
                cred,
            ))
            .await
            .unwrap()
            .into_inner();
        codes.extend(page.departments.into_iter().map(|d| d.code));
        if page.next_page_token.is_empty() {
            return codes;
        }
        token = page.next_page_token;
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn departments_change_with_their_events_and_etags() {
    let h = Harness::start().await;
    let (admin_user, admin) = h.admin().await;
    let (_, employee) = h.signed_in("employee@example.com", &[]).await;
    let before = department_events(&h).await.len();

    let hr = create(&h, &admin, "HR", " Human Resources ").await.unwrap();
    assert_eq!((hr.code.as_str(), hr.name.as_str(), hr.active, hr.version), ("HR", "Human Resources", true, 1));
    assert!(!hr.etag.is_empty());
    // Anyone signed in reads; the list pages by code.
    assert_eq!(list_all(&h, &employee, false).await, ["FINANCE", "HR", "IT"]);
    let got = client(&h)
        .get_department(req(pb::GetDepartmentRequest { code: "HR".into() }, &employee))
        .await
        .unwrap()
        .into_inner()
        .department
        .unwrap();
    assert_eq!(got, hr);

    let renamed = update(&h, &admin, pb::Department { name: "People".into(), ..hr.clone() }, &["name"]).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.version), ("People", 2));
    assert_ne!(renamed.etag, hr.etag);

    // A stale etag (the one read before the rename) changes nothing.
    let stale = update(&h, &admin, pb::Department { name: "Staff".into(), ..hr.clone() }, &["name"]).await;
    let status = expect_err(stale, Code::Aborted);
    assert_eq!(reason(&status), "ETAG_MISMATCH");
    // Changing nothing is no change: same version, no event.
    let same = update(&h, &admin, renamed.clone(), &["name"]).await.unwrap();
    assert_eq!(same.version, 2);

    let inactive = update(&h, &admin, pb::Department { active: false, ..renamed.clone() }, &["active"]).await.unwrap();
    assert_eq!((inactive.active, inactive.version), (false, 3));
    assert_eq!(list_all(&h, &employee, false).await, ["FINANCE", "IT"]);
    assert_eq!(list_all(&h, &employee, true).await, ["FINANCE", "HR", "IT"]);

    let events: Vec<_> = department_events(&h).await[before..].to_vec();
    let summary: Vec<String> = events
        .iter()
        .map(|(t, s, v, snap, changed)| {
            format!(
                "{t} {s} v{v}: {} active={} snapshot v{} changed={changed:?}",
                snap.name, snap.active, snap.version
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "auth.department.created HR v1: Human Resources active=true snapshot v1 changed=[]",
            "auth.department.updated HR v2: People active=true snapshot v2 changed=[\"name\"]",
            "auth.department.updated HR v3: People active=false snapshot v3 changed=[\"active\"]",
        ]
    );
    // The created event names the administrator.
    let created = outbox::Entity::find()
        .order_by_asc(outbox::Column::Seq)
        .all(h.db.db.conn())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.event_type == "auth.department.created" && r.subject == "HR")
        .unwrap();
    let envelope = ev::Envelope::decode(created.envelope.as_slice()).unwrap();
    let payload = ev::AuthDepartmentCreated::decode(envelope.payload.unwrap().value.as_slice()).unwrap();
    assert_eq!(payload.actor_user_id, admin_user.id);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bad_input_and_missing_roles_change_nothing() {
    let h = Harness::start().await;
    let (_, admin) = h.admin().await;
    let (_, employee) = h.signed_in("employee@example.com", &[]).await;
    let before = department_events(&h).await;

    for (code, name, field) in [
        ("it", "lower case", "department.code"),
        ("2ND", "digit first", "department.code"),
        ("OPS", "", "department.name"),
        ("OPS", &"x".repeat(201), "department.name"),
    ] {
        let status = expect_err(create(&h, &admin, code, name).await, Code::InvalidArgument);
        assert_eq!(fields(&status), [field], "{code} {name}");
    }
    let status = expect_err(create(&h, &admin, "IT", "Again").await, Code::AlreadyExists);
    assert_eq!(reason(&status), "DEPARTMENT_EXISTS");
    let status = expect_err(create(&h, &employee, "OPS", "Operations").await, Code::PermissionDenied);
    assert_eq!(reason(&status), "ROLE_REQUIRED");

    let it = client(&h)
        .get_department(req(pb::GetDepartmentRequest { code: "IT".into() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .department
        .unwrap();
    for (paths, field) in [(&[][..], "update_mask"), (&["code"][..], "update_mask")] {
        let status = expect_err(update(&h, &admin, it.clone(), paths).await, Code::InvalidArgument);
        assert_eq!(fields(&status), [field]);
    }
    let no_etag = pb::Department { etag: String::new(), name: "X".into(), ..it.clone() };
    let status = expect_err(update(&h, &admin, no_etag, &["name"]).await, Code::InvalidArgument);
    assert_eq!(fields(&status), ["department.etag"]);
    let unknown = pb::Department { code: "NOPE".into(), ..it.clone() };
    expect_err(update(&h, &admin, unknown, &["name"]).await, Code::NotFound);
    expect_err(
        client(&h).get_department(req(pb::GetDepartmentRequest { code: "NOPE".into() }, &admin)).await,
        Code::NotFound,
    );
    let bad_order = client(&h)
        .list_departments(req(pb::ListDepartmentsRequest { order_by: "name".into(), ..Default::default() }, &admin))
        .await;
    assert_eq!(fields(&expect_err(bad_order, Code::InvalidArgument)), ["order_by"]);

    assert_eq!(department_events(&h).await.len(), before.len(), "no event for a refused change");
    assert_eq!(list_all(&h, &admin, true).await, ["FINANCE", "IT"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn users_belong_only_to_active_departments() {
    let h = Harness::start().await;
    let (_, admin) = h.admin().await;
    let mut a = h.admin_client();
    let refused = a
        .create_user(req(
            pb::CreateUserRequest {
                email: "nobody@example.com".into(),
                display_name: "Nobody".into(),
                department: "NOPE".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await;
    assert_eq!(fields(&expect_err(refused, Code::InvalidArgument)), ["department"]);

    let user = h.user("moving@example.com", &[]).await;
    let finance = client(&h)
        .get_department(req(pb::GetDepartmentRequest { code: "FINANCE".into() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .department
        .unwrap();
    update(&h, &admin, pb::Department { active: false, ..finance }, &["active"]).await.unwrap();
    let moved = a
        .update_user(req(
            pb::UpdateUserRequest {
                user: Some(pb::User {
                    id: user.id.clone(),
                    department: "FINANCE".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["department".into()] }),
            },
            &admin,
        ))
        .await;
    assert_eq!(fields(&expect_err(moved, Code::InvalidArgument)), ["user.department"]);
    let unchanged = h.auth.get_user(&user.id).await.unwrap();
    assert_eq!((unchanged.department.as_str(), unchanged.version), ("IT", user.version));
}
}

map_kit::db_tests! {
#[tokio::test]
async fn the_upgrade_turns_the_codes_users_carry_into_departments() {
    use map_auth::entity::{departments, users};
    use sea_orm::{ActiveModelTrait as _, ActiveValue::Set};
    use sea_orm_migration::MigratorTrait as _;
    type Migrator = map_migrations::auth::Migrator;

    let db = map_kit::testing::TestDb::empty(map_kit::testing::Backend::current()).await;
    let conn = db.db.conn();
    // The database as the previous release left it (every migration before
    // the departments'), users with free-text departments.
    let previous = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m0003_departments")
        .map(|i| u32::try_from(i).unwrap())
        .expect("the departments migration");
    Migrator::up(conn, Some(previous)).await.unwrap();
    let first = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    for (i, department) in ["IT", "Finance Dept", "IT", ""].iter().enumerate() {
        let at = first + chrono::Duration::days(i64::try_from(i).unwrap());
        users::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            email: Set(format!("u{i}@example.com")),
            email_normalized: Set(format!("u{i}@example.com")),
            display_name: Set(format!("U{i}")),
            department: Set((*department).to_owned()),
            active: Set(true),
            password_hash: Set("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            version: Set(1),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(conn)
        .await
        .unwrap();
    }
    Migrator::up(conn, None).await.unwrap();
    let made: Vec<(String, String, bool, i64, chrono::DateTime<chrono::Utc>)> = departments::Entity::find()
        .order_by_asc(departments::Column::Code)
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.code, d.name, d.active, d.version, d.created_at))
        .collect();
    assert_eq!(
        made,
        [
            ("Finance Dept".to_owned(), "Finance Dept".to_owned(), true, 1, first + chrono::Duration::days(1)),
            ("IT".to_owned(), "IT".to_owned(), true, 1, first),
        ]
    );
}
}
