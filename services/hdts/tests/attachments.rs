//! Files on help-desk tickets through a real gRPC server on port 0, on both
//! databases: UploadService takes a file in chunks and refuses what is too
//! large, out of order, mislabelled or not what its checksum says, naming
//! the field; someone else's upload is NOT_FOUND; a submission or reply
//! attaches the caller's complete uploads once (events carry the FileRef),
//! and GetAttachment streams the file back byte-identical to whoever may
//! see it — the requester (not an internal reply's), an agent — and
//! NOT_FOUND to anyone else. The UploadService's policy matrix is generated
//! from its table.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{
    common::v1::{self as common, FileRef},
    events::v1 as ev,
    hdts::v1 as pb,
};
use map_hdts::tickets::mirror::Mirror;
use map_kit::{
    bus::{Event, Handler as _},
    testing::{Caller, check_policy_matrix},
};
use prost::Name as _;
use support::{Fixture, fields, reason, sha256};
use tonic::Code;

/// A tiny PNG (signature and header are what the sniffer reads).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82";
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n";

async fn topic(fx: &Fixture) -> pb::HelpTopic {
    fx.create(pb::CreateHelpTopicRequest {
        name: "Printer problem".into(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        sub_category: "Printer".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn submission(topic: &pb::HelpTopic, attachments: Vec<FileRef>) -> pb::SubmitTicketRequest {
    pb::SubmitTicketRequest {
        subject: "Printer jams".into(),
        description: "See the photo".into(),
        help_topic_id: topic.id.clone(),
        attachments,
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

fn reply(
    ticket: &pb::Ticket,
    visibility: pb::ReplyVisibility,
    attachments: Vec<FileRef>,
) -> pb::AddReplyRequest {
    pb::AddReplyRequest {
        ticket_id: ticket.id.clone(),
        body: "attached".into(),
        visibility: visibility.into(),
        attachments,
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

fn start(name: &str, content_type: &str, size: i64) -> common::StartUploadRequest {
    common::StartUploadRequest {
        file_name: name.into(),
        content_type: content_type.into(),
        size_bytes: size,
    }
}

fn chunk(id: &str, offset: i64, data: &[u8]) -> common::AppendUploadChunkRequest {
    common::AppendUploadChunkRequest {
        upload_id: id.into(),
        offset,
        data: data.to_vec(),
    }
}

fn complete(id: &str, content: &[u8]) -> common::CompleteUploadRequest {
    common::CompleteUploadRequest {
        upload_id: id.into(),
        sha256: sha256(content),
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn uploads_are_checked_and_refused_naming_the_field() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let bob = fx.person(&[("hdts", "employee")]).await;
    let mut u = fx.uploads().await;
    // Too large as a whole, and by the chunk.
    let e = u.start_upload(ada.request(start("big.bin", "application/octet-stream", 10 * 1024 * 1024 + 1))).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["size_bytes".to_owned()]));
    let up = u.start_upload(ada.request(start("notes.txt", "text/plain", 2 * 1024 * 1024))).await.unwrap().into_inner().upload.unwrap();
    assert_eq!((up.state(), up.received_bytes), (common::UploadState::Open, 0));
    assert!(up.expire_time.is_some());
    let e = u.append_upload_chunk(ada.request(chunk(&up.id, 0, &vec![b'a'; 1024 * 1024 + 1]))).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["data".to_owned()]));
    // 1 MiB chunks, one retried; one out of order is refused.
    let content: Vec<u8> = b"abcdefghijklmnopqrstuvwxyz\n".iter().copied().cycle().take(2 * 1024 * 1024).collect();
    let (first, second) = content.split_at(1024 * 1024);
    u.append_upload_chunk(ada.request(chunk(&up.id, 0, first))).await.unwrap();
    let again = u.append_upload_chunk(ada.request(chunk(&up.id, 0, first))).await.unwrap().into_inner().upload.unwrap();
    assert_eq!(again.received_bytes, 1024 * 1024);
    let e = u.append_upload_chunk(ada.request(chunk(&up.id, 1024 * 1024 + 1, &second[1..]))).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["offset".to_owned()]));
    // Someone else's upload is not there for them.
    let e = u.append_upload_chunk(bob.request(chunk(&up.id, 1024 * 1024, second))).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = u.complete_upload(ada.request(complete(&up.id, &content))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "UPLOAD_INCOMPLETE"));
    u.append_upload_chunk(ada.request(chunk(&up.id, 1024 * 1024, second))).await.unwrap();
    let e = u.complete_upload(bob.request(complete(&up.id, &content))).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let done = u.complete_upload(ada.request(complete(&up.id, &content))).await.unwrap().into_inner();
    assert_eq!(done.file, Some(FileRef { system: "hdts".into(), id: up.id.clone() }));
    assert_eq!(done.upload.as_ref().map(|u| (u.state(), u.sha256.clone())), Some((common::UploadState::Complete, sha256(&content))));
    // Complete: immutable.
    let e = u.append_upload_chunk(ada.request(chunk(&up.id, 1024 * 1024, second))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "UPLOAD_COMPLETE"));
    let info = tonic_types::StatusExt::get_details_error_info(&e).unwrap();
    assert_eq!(info.domain, "map.hdts");

    // A wrong checksum, and a PDF that says it is a PNG.
    let e = fx.upload(&ada, "x.txt", "text/plain", b"hello", 2).await;
    assert!(e.is_ok());
    let up = u.start_upload(ada.request(start("x.txt", "text/plain", 5))).await.unwrap().into_inner().upload.unwrap();
    u.append_upload_chunk(ada.request(chunk(&up.id, 0, b"hello"))).await.unwrap();
    let e = u.complete_upload(ada.request(complete(&up.id, b"HELLO"))).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["sha256".to_owned()]));
    let e = fx.upload(&ada, "photo.png", "image/png", PDF, 16).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["content_type".to_owned()]));
    assert!(e.message().contains("application/pdf"), "{}", e.message());
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_submissions_attachment_reaches_its_viewers_only() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let bob = fx.person(&[("hdts", "employee")]).await;
    let agent = fx.person(&[("hdts", "agent")]).await;
    let mut c = fx.client().await;
    let photo = fx.upload(&ada, "jam.png", "image/png", PNG, 10).await.unwrap();
    let log: Vec<u8> = "tray 2: paper jam\n".repeat(100_000).into_bytes(); // 1.8 MB
    let notes = fx.upload(&ada, "printer.log", "text/plain", &log, 1024 * 1024).await.unwrap();
    let ticket = c.submit_ticket(ada.request(submission(&t, vec![photo.clone(), notes.clone()]))).await.unwrap().into_inner().ticket.unwrap();
    let shown: Vec<(String, String, i64, Option<FileRef>)> = ticket.attachments.iter().map(|a| (a.file_name.clone(), a.content_type.clone(), a.size_bytes, a.file.clone())).collect();
    assert_eq!(shown, [
        ("jam.png".to_owned(), "image/png".to_owned(), PNG.len() as i64, Some(photo.clone())),
        ("printer.log".to_owned(), "text/plain".to_owned(), log.len() as i64, Some(notes.clone())),
    ]);
    // GetTicket shows them too; the event carries the references.
    let got = c.get_ticket(ada.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(ticket.id.clone())) })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(got.attachments, ticket.attachments);
    let events = fx.events().await;
    let submitted = events.iter().find(|e| e.0 == "hdts.ticket.submitted").unwrap().2.to_msg::<ev::HdtsTicketSubmitted>().unwrap();
    let refs: Vec<Option<FileRef>> = submitted.ticket.unwrap().attachments.into_iter().map(|a| a.file).collect();
    assert_eq!(refs, [Some(photo.clone()), Some(notes.clone())]);

    // Back byte-identical to the requester and an agent; NOT_FOUND to Bob.
    let (meta, bytes) = fx.download(&ada, &photo).await.unwrap();
    assert_eq!((meta.file_name.as_str(), bytes.as_slice()), ("jam.png", PNG));
    assert_eq!(fx.download(&agent, &notes).await.unwrap().1, log);
    assert_eq!(fx.download(&bob, &photo).await.unwrap_err().code(), Code::NotFound);
    // A file of another system, and an upload never attached.
    let e = fx.download(&ada, &FileRef { system: "tts".into(), id: photo.id.clone() }).await.unwrap_err();
    assert_eq!(fields(&e), ["file.system"]);
    let loose = fx.upload(&ada, "loose.txt", "text/plain", b"loose", 8).await.unwrap();
    assert_eq!(fx.download(&ada, &loose).await.unwrap_err().code(), Code::NotFound);

    // A file is attached once, and only by its uploader; a refusal writes nothing.
    let before = fx.events().await.len();
    let e = c.submit_ticket(ada.request(submission(&t, vec![loose.clone(), photo.clone()]))).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["attachments[1]".to_owned()]));
    let e = c.submit_ticket(bob.request(submission(&t, vec![loose.clone()]))).await.unwrap_err();
    assert_eq!(fields(&e), ["attachments[0]"]);
    let e = c.submit_ticket(ada.request(submission(&t, vec![FileRef { system: "ams".into(), id: loose.id.clone() }]))).await.unwrap_err();
    assert_eq!(fields(&e), ["attachments[0].system"]);
    assert_eq!(fx.events().await.len(), before, "nothing written");
    assert_eq!(fx.download(&ada, &loose).await.unwrap_err().code(), Code::NotFound, "still unattached");
    let second = c.submit_ticket(ada.request(submission(&t, vec![loose.clone()]))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(second.number, "HD-000002", "the refused ones took no number");
    assert_eq!(fx.download(&ada, &loose).await.unwrap().1, b"loose");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn reply_attachments_follow_the_replys_visibility() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let agent = fx.person(&[("hdts", "agent")]).await;
    let mut c = fx.client().await;
    let ticket = c.submit_ticket(ada.request(submission(&t, Vec::new()))).await.unwrap().into_inner().ticket.unwrap();
    assert!(ticket.attachments.is_empty());
    let mine = fx.upload(&ada, "model.txt", "text/plain", b"T14 gen 3", 4).await.unwrap();
    let answer = c.add_reply(ada.request(reply(&ticket, pb::ReplyVisibility::Public, vec![mine.clone()]))).await.unwrap().into_inner();
    let r = answer.reply.unwrap();
    assert_eq!(r.attachments.iter().map(|a| a.file.clone()).collect::<Vec<_>>(), [Some(mine.clone())]);
    let internal = fx.upload(&agent, "warranty.pdf", "application/pdf", PDF, 1024).await.unwrap();
    c.add_reply(agent.request(reply(&ticket, pb::ReplyVisibility::Internal, vec![internal.clone()]))).await.unwrap();
    // The events carry the references.
    let replied: Vec<ev::HdtsTicketReplied> = fx.events().await.iter().filter(|e| e.0 == "hdts.ticket.replied").map(|e| e.2.to_msg().unwrap()).collect();
    let refs: Vec<Vec<Option<FileRef>>> = replied.iter().map(|r| r.attachments.iter().map(|a| a.file.clone()).collect()).collect();
    assert_eq!(refs, [vec![Some(mine.clone())], vec![Some(internal.clone())]]);
    // The requester gets the public reply's file, not the internal one's.
    assert_eq!(fx.download(&ada, &mine).await.unwrap().1, b"T14 gen 3");
    assert_eq!(fx.download(&agent, &mine).await.unwrap().1, b"T14 gen 3");
    assert_eq!(fx.download(&ada, &internal).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(fx.download(&agent, &internal).await.unwrap().1, PDF);
    // ListReplies shows each reply's files.
    let replies = c.list_replies(agent.request(pb::ListRepliesRequest { ticket_id: ticket.id.clone(), ..Default::default() })).await.unwrap().into_inner().replies;
    let listed: Vec<Vec<String>> = replies.iter().map(|r| r.attachments.iter().map(|a| a.file_name.clone()).collect()).collect();
    assert_eq!(listed, [vec!["model.txt".to_owned()], vec!["warranty.pdf".to_owned()]]);

    // A public TTS comment's files come back by reference: TTS holds them.
    let tts_file = ev::Attachment {
        file_name: "fix.png".into(),
        content_type: "image/png".into(),
        size_bytes: 70,
        file: Some(FileRef { system: "tts".into(), id: uuid::Uuid::now_v7().to_string() }),
    };
    let commented = ev::TtsTicketCommented {
        ticket: Some(ev::TtsTicketSnapshot {
            id: uuid::Uuid::now_v7().to_string(),
            number: "TT-000042".into(),
            hdts_ticket_id: ticket.id.clone(),
            status: ev::TtsTicketStatus::InProgress.into(),
            version: 2,
            ..Default::default()
        }),
        comment_id: uuid::Uuid::now_v7().to_string(),
        body: "Fixed, see photo".into(),
        public: true,
        attachments: vec![tts_file.clone()],
        ..Default::default()
    };
    let event = Event::new(ev::Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: "tts.ticket.commented".into(),
        source: "tts".into(),
        subject_version: 2,
        payload: Some(prost_types::Any { type_url: ev::TtsTicketCommented::type_url(), value: prost::Message::encode_to_vec(&commented) }),
        ..Default::default()
    });
    let txn = fx.db.db.begin_write().await.unwrap();
    Mirror::default().handle(&event, &txn).await.unwrap();
    txn.commit().await.unwrap();
    let replies = c.list_replies(ada.request(pb::ListRepliesRequest { ticket_id: ticket.id.clone(), ..Default::default() })).await.unwrap().into_inner().replies;
    let mirrored = replies.iter().find(|r| r.body == "Fixed, see photo").unwrap();
    let refs: Vec<Option<FileRef>> = mirrored.attachments.iter().map(|a| a.file.clone()).collect();
    assert_eq!(refs, vec![tts_file.file.clone()]);
    let e = fx.download(&ada, tts_file.file.as_ref().unwrap()).await.unwrap_err();
    assert_eq!(fields(&e), ["file.system"]);
}
}

#[tokio::test]
async fn every_upload_rpc_admits_exactly_the_callers_its_policy_names() {
    let fx = Fixture::start().await;
    let callers = [
        Caller::anonymous(),
        Caller::invalid("stranger", "authorization", "Bearer nobody"),
        fx.employee.clone(),
        fx.auth.person(&[("hdts", "agent")]),
        fx.admin.clone(),
        fx.auth.person(&[("tts", "agent")]),
        fx.auth.api_key(&[("auth", "service")]),
    ];
    check_policy_matrix(
        fx.server.channel().await,
        &map_hdts::grpc::policy::UPLOAD_SERVICE,
        &callers,
    )
    .await;
}
