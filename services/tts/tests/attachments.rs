//! Files on tickets through a real gRPC server on port 0, on both
//! databases: staff upload through TTS's UploadService and attach their own
//! complete uploads to a comment, once (a refusal names attachments[i] and
//! writes nothing); the comment, its history entry and
//! `tts.ticket.commented` carry the FileRefs; GetAttachment streams the
//! file back byte-identical; an HDTS submission's and reply's files arrive
//! by reference. The UploadService's policy matrix is generated from its
//! table.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{
    common::v1::{self as common, FileRef},
    events::v1::{self as ev, Envelope},
    tts::v1::{self as pb, upload_service_client::UploadServiceClient},
};
use map_kit::{
    bus::{Event, Handler as _},
    clock::Clock,
    outbox::entity as outbox,
    testing::{Caller, check_policy_matrix},
};
use map_tts::tickets::{Tickets, intake::Intake};
use prost::Message as _;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use sha2::Digest as _;
use support::{Fixture, fields, support};
use tonic::Code;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82";

/// `content` uploaded by `who` in chunks of `chunk` bytes, completed.
async fn upload(
    fx: &Fixture,
    who: &Caller,
    name: &str,
    content_type: &str,
    content: &[u8],
    chunk: usize,
) -> Result<FileRef, tonic::Status> {
    let mut u = UploadServiceClient::new(fx.server.channel().await);
    let up = u
        .start_upload(who.request(common::StartUploadRequest {
            file_name: name.into(),
            content_type: content_type.into(),
            size_bytes: content.len() as i64,
        }))
        .await?
        .into_inner()
        .upload
        .unwrap();
    for (i, piece) in content.chunks(chunk).enumerate() {
        u.append_upload_chunk(who.request(common::AppendUploadChunkRequest {
            upload_id: up.id.clone(),
            offset: (i * chunk) as i64,
            data: piece.to_vec(),
        }))
        .await?;
    }
    let sha256 = hex::encode(sha2::Sha256::digest(content));
    Ok(
        u.complete_upload(who.request(common::CompleteUploadRequest {
            upload_id: up.id,
            sha256,
        }))
        .await?
        .into_inner()
        .file
        .unwrap(),
    )
}

/// GetAttachment as `who`: the first message's metadata and the content.
async fn download(
    fx: &Fixture,
    who: &Caller,
    file: &FileRef,
) -> Result<(pb::Attachment, Vec<u8>), tonic::Status> {
    let mut stream = fx
        .tickets()
        .await
        .get_attachment(who.request(pb::GetAttachmentRequest {
            file: Some(file.clone()),
        }))
        .await?
        .into_inner();
    let (mut meta, mut content) = (None, Vec::new());
    while let Some(m) = stream.message().await? {
        assert_eq!(m.offset, content.len() as i64, "in order");
        meta = meta.or(m.attachment);
        content.extend(m.data);
    }
    Ok((meta.unwrap(), content))
}

fn comment(ticket: &pb::Ticket, attachments: Vec<FileRef>) -> pb::AddCommentRequest {
    pb::AddCommentRequest {
        ticket_id: ticket.id.clone(),
        body: "Photo of the error".into(),
        visibility: pb::CommentVisibility::Public.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        attachments,
    }
}

async fn outbox_types(fx: &Fixture) -> Vec<(String, prost_types::Any)> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Seq)
        .all(fx.db.db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            (
                row.event_type,
                ev::Envelope::decode(row.envelope.as_slice())
                    .unwrap()
                    .payload
                    .unwrap(),
            )
        })
        .collect()
}

fn event<M: prost::Name>(event_type: &str, payload: &M) -> Event {
    Event::new(Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.into(),
        source: "hdts".into(),
        subject_version: 1,
        payload: Some(prost_types::Any {
            type_url: M::type_url(),
            value: payload.encode_to_vec(),
        }),
        ..Default::default()
    })
}

fn hdts_file(name: &str) -> ev::Attachment {
    ev::Attachment {
        file_name: name.into(),
        content_type: "image/png".into(),
        size_bytes: 70,
        file: Some(FileRef {
            system: "hdts".into(),
            id: uuid::Uuid::now_v7().to_string(),
        }),
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_comments_files_go_out_by_reference_and_staff_fetch_them() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let bob = fx.person(&[("tts", "agent")]).await;
    let manager = fx.person(&[("tts", "manager")]).await;
    let mut c = fx.tickets().await;
    let ticket = c.create_ticket(ada.request(pb::CreateTicketRequest {
        subject: "Printer jams".into(),
        description: "Tray 2".into(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        priority: pb::TicketPriority::Medium.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    })).await.unwrap().into_inner().ticket.unwrap();
    assert!(ticket.attachments.is_empty());
    let photo = upload(&fx, &ada, "jam.png", "image/png", PNG, 9).await.unwrap();
    assert_eq!(photo.system, "tts");
    let log: Vec<u8> = "E-204 paper jam\n".repeat(80_000).into_bytes();
    let notes = upload(&fx, &ada, "printer.log", "text/plain", &log, 1024 * 1024).await.unwrap();

    // Bob may not attach Ada's files; a refusal writes nothing.
    let before = outbox_types(&fx).await.len();
    let e = c.add_comment(bob.request(comment(&ticket, vec![photo.clone()]))).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["attachments[0]".to_owned()]));
    let e = c.add_comment(ada.request(comment(&ticket, vec![FileRef { system: "hdts".into(), id: photo.id.clone() }]))).await.unwrap_err();
    assert_eq!(fields(&e), ["attachments[0].system"]);
    assert_eq!(outbox_types(&fx).await.len(), before, "nothing written");

    let added = c.add_comment(ada.request(comment(&ticket, vec![photo.clone(), notes.clone()]))).await.unwrap().into_inner();
    let files: Vec<(String, i64, Option<FileRef>)> = added.comment.as_ref().unwrap().attachments.iter().map(|a| (a.file_name.clone(), a.size_bytes, a.file.clone())).collect();
    assert_eq!(files, [("jam.png".to_owned(), PNG.len() as i64, Some(photo.clone())), ("printer.log".to_owned(), log.len() as i64, Some(notes.clone()))]);
    assert_eq!(added.ticket.unwrap().version, ticket.version + 1);
    // Once only.
    let e = c.add_comment(ada.request(comment(&ticket, vec![photo.clone()]))).await.unwrap_err();
    assert_eq!(fields(&e), ["attachments[0]"]);
    // The event and the history carry the references.
    let commented = outbox_types(&fx).await.into_iter().filter(|e| e.0 == "tts.ticket.commented").map(|e| e.1.to_msg::<ev::TtsTicketCommented>().unwrap()).collect::<Vec<_>>();
    assert_eq!(commented.len(), 1);
    assert_eq!(commented[0].attachments.iter().map(|a| a.file.clone()).collect::<Vec<_>>(), [Some(photo.clone()), Some(notes.clone())]);
    let history = c.list_ticket_events(ada.request(pb::ListTicketEventsRequest { ticket_id: ticket.id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
    let noted = history.iter().find_map(|e| match &e.details {
        Some(pb::ticket_event::Details::Commented(d)) => d.comment.clone(),
        _ => None,
    }).unwrap();
    assert_eq!(noted.attachments.len(), 2);

    // Any of the staff gets the files back byte-identical.
    let (meta, bytes) = download(&fx, &manager, &photo).await.unwrap();
    assert_eq!((meta.content_type.as_str(), bytes.as_slice()), ("image/png", PNG));
    assert_eq!(download(&fx, &bob, &notes).await.unwrap().1, log);
    // Not attached, or another system's: not here.
    let loose = upload(&fx, &ada, "loose.txt", "text/plain", b"loose", 2).await.unwrap();
    assert_eq!(download(&fx, &ada, &loose).await.unwrap_err().code(), Code::NotFound);
    let e = download(&fx, &ada, &FileRef { system: "hdts".into(), id: photo.id.clone() }).await.unwrap_err();
    assert_eq!(fields(&e), ["file.system"]);
    // Too large for TTS too.
    let e = upload(&fx, &ada, "huge.bin", "application/octet-stream", &vec![0u8; 10 * 1024 * 1024 + 1], 1024 * 1024).await.unwrap_err();
    assert_eq!(fields(&e), ["size_bytes"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn an_hdts_submissions_and_replys_files_arrive_by_reference() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let agent_id = agent.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&agent_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));
    let hdts_id = uuid::Uuid::now_v7().to_string();
    let shot = hdts_file("screen.png");
    let submitted = event("hdts.ticket.submitted", &ev::HdtsTicketSubmitted {
        ticket: Some(ev::HdtsTicketSnapshot {
            id: hdts_id.clone(),
            number: "HD-000001".into(),
            requester: Some(ev::UserRef { user_id: uuid::Uuid::now_v7().to_string(), ..Default::default() }),
            subject: "Laptop will not boot".into(),
            department_code: "IT".into(),
            category: "Hardware".into(),
            priority: ev::TicketPriority::High.into(),
            attachments: vec![shot.clone()],
            version: 1,
            ..Default::default()
        }),
    });
    let deliver = |e: Event| {
        let (fx, intake) = (&fx, &intake);
        async move {
            if let Some(p) = intake.prepare(&e).await.unwrap() {
                e.set_prepared(p);
            }
            let txn = fx.db.db.begin_write().await.unwrap();
            intake.handle(&e, &txn).await.unwrap();
            txn.commit().await.unwrap();
        }
    };
    deliver(submitted).await;
    let mut c = fx.tickets().await;
    let listed = c.list_tickets(agent.request(pb::ListTicketsRequest::default())).await.unwrap().into_inner().tickets;
    assert_eq!(listed.len(), 1);
    let ticket = &listed[0];
    assert_eq!(ticket.attachments.iter().map(|a| a.file.clone()).collect::<Vec<_>>(), vec![shot.file.clone()]);
    let created = outbox_types(&fx).await.into_iter().find(|e| e.0 == "tts.ticket.created").unwrap().1.to_msg::<ev::TtsTicketCreated>().unwrap();
    assert_eq!(created.ticket.unwrap().attachments, vec![shot.clone()], "the snapshot carries them");
    // A reply's files become the comment's, by reference.
    let log = hdts_file("log.txt");
    deliver(event("hdts.ticket.replied", &ev::HdtsTicketReplied {
        ticket: Some(ev::HdtsTicketSnapshot { id: hdts_id.clone(), version: 2, ..Default::default() }),
        reply_id: uuid::Uuid::now_v7().to_string(),
        body: "Here is the log".into(),
        public: true,
        attachments: vec![log.clone()],
        ..Default::default()
    })).await;
    let history = c.list_ticket_events(agent.request(pb::ListTicketEventsRequest { ticket_id: ticket.id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
    let mirrored = history.iter().find_map(|e| match &e.details {
        Some(pb::ticket_event::Details::Commented(d)) => d.comment.clone(),
        _ => None,
    }).unwrap();
    assert_eq!(mirrored.attachments.iter().map(|a| a.file.clone()).collect::<Vec<_>>(), vec![log.file.clone()]);
    // HDTS holds those: TTS does not serve them.
    let e = download(&fx, &agent, log.file.as_ref().unwrap()).await.unwrap_err();
    assert_eq!(fields(&e), ["file.system"]);
}
}

#[tokio::test]
async fn every_upload_rpc_admits_exactly_the_callers_its_policy_names() {
    let fx = Fixture::start().await;
    let callers = fx.policy_callers();
    check_policy_matrix(
        fx.server.channel().await,
        &map_tts::grpc::policy::UPLOAD_SERVICE,
        &callers,
    )
    .await;
}
