//! Uploads on both databases, through the domain: a file sent in chunks is
//! read back byte-identical; a retried chunk changes nothing; a gap, an
//! overlap, a chunk or a file too large, a wrong checksum and a mislabelled
//! file are refused naming the field (the last two deleting the upload);
//! someone else's upload is NOT_FOUND; a complete upload is immutable and
//! attached once; stale uploads are pruned, attached files never.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::TryStreamExt as _;
use map_contracts::common::v1::FileRef;
use map_kit::{
    System,
    clock::ManualClock,
    testing::TestDb,
    uploads::{self, MAX_CHUNK_BYTES, UploadError, UploadLimits, Uploads, entity},
};
use sea_orm::{EntityTrait as _, PaginatorTrait as _};
use sha2::{Digest as _, Sha256};

const ANA: &str = "0190a9b2-0000-7000-8000-00000000a0a0";
const BEN: &str = "0190a9b2-0000-7000-8000-00000000b0b0";

/// A tiny PNG (its signature and header are what the sniffer reads).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82";
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

struct Fixture {
    db: TestDb,
    clock: ManualClock,
    uploads: Uploads,
}

async fn fixture() -> Fixture {
    let db = TestDb::new::<map_migrations::hdts::Migrator>().await;
    let clock = ManualClock::at_system_time();
    let uploads = Uploads::new(
        System::Hdts,
        db.db.clone(),
        clock.clock(),
        UploadLimits::default(),
    );
    Fixture { db, clock, uploads }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `content` uploaded by `who` in chunks of `chunk` bytes and completed.
async fn upload(
    u: &Uploads,
    who: &str,
    name: &str,
    content_type: &str,
    content: &[u8],
    chunk: usize,
) -> Result<entity::upload::Model, UploadError> {
    let started = u
        .start(who, name, content_type, content.len() as i64)
        .await?;
    for (i, piece) in content.chunks(chunk).enumerate() {
        u.append(who, &started.id, (i * chunk) as i64, piece)
            .await?;
    }
    u.complete(who, &started.id, &sha256(content)).await
}

async fn read_back(u: &Uploads, file: &entity::upload::Model) -> Vec<u8> {
    let chunks: Vec<uploads::Chunk> = u
        .content(&file.id, file.size_bytes)
        .try_collect()
        .await
        .unwrap();
    chunks.into_iter().flat_map(|c| c.data).collect()
}

/// The fields an INVALID_ARGUMENT names.
fn fields(e: &UploadError) -> Vec<String> {
    match e {
        UploadError::InvalidArgument(v) => v.iter().map(|f| f.field.clone()).collect(),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

async fn stored(fx: &Fixture) -> (u64, u64) {
    (
        entity::upload::Entity::find()
            .count(fx.db.db.conn())
            .await
            .unwrap(),
        entity::chunk::Entity::find()
            .count(fx.db.db.conn())
            .await
            .unwrap(),
    )
}

fn refs(ids: &[&str]) -> Vec<FileRef> {
    ids.iter()
        .map(|id| FileRef {
            system: "hdts".into(),
            id: (*id).into(),
        })
        .collect()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_file_sent_in_chunks_is_read_back_byte_identical() {
    let fx = fixture().await;
    // 2.5 MiB of text in 1 MiB chunks, and a small PNG in 7-byte chunks.
    let text: Vec<u8> = "help desk log line, ñ included\n".repeat(90_000).into_bytes();
    let big = upload(&fx.uploads, ANA, "log.txt", "text/plain; charset=utf-8", &text, MAX_CHUNK_BYTES)
        .await
        .unwrap();
    assert_eq!(big.state, "complete");
    assert_eq!(big.content_type, "text/plain");
    assert_eq!(big.sha256.as_deref(), Some(sha256(&text).as_str()));
    assert_eq!(read_back(&fx.uploads, &big).await, text);
    let png = upload(&fx.uploads, ANA, "dot.png", "image/png", PNG, 7).await.unwrap();
    assert_eq!(read_back(&fx.uploads, &png).await, PNG);
    let wire = uploads::to_proto(&png);
    assert_eq!((wire.size_bytes, wire.received_bytes), (PNG.len() as i64, PNG.len() as i64));
    // Completing again with the same checksum is a no-op.
    let again = fx.uploads.complete(ANA, &png.id, &sha256(PNG).to_uppercase()).await.unwrap();
    assert_eq!(again, png);
}

#[tokio::test]
async fn a_retried_chunk_changes_nothing_and_gaps_and_overlaps_are_refused() {
    let fx = fixture().await;
    let content = b"0123456789abcdef";
    let up = fx.uploads.start(ANA, "a.txt", "text/plain", 16).await.unwrap();
    let first = fx.uploads.append(ANA, &up.id, 0, &content[..8]).await.unwrap();
    assert_eq!(first.received_bytes, 8);
    // The same chunk again (the answer was lost): accepted, nothing moves.
    let retried = fx.uploads.append(ANA, &up.id, 0, &content[..8]).await.unwrap();
    assert_eq!(retried.received_bytes, 8);
    assert_eq!(stored(&fx).await, (1, 1));
    // Two copies of the next chunk at once (a client retrying too soon):
    // both succeed, the chunk is stored once.
    let (a, b) = tokio::join!(
        fx.uploads.append(ANA, &up.id, 8, &content[8..12]),
        fx.uploads.append(ANA, &up.id, 8, &content[8..12]),
    );
    assert_eq!((a.unwrap().received_bytes, b.unwrap().received_bytes), (12, 12));
    assert_eq!(stored(&fx).await, (1, 2));
    // A gap, and an overlap with other bytes, name the offset expected.
    let gap = fx.uploads.append(ANA, &up.id, 14, &content[14..]).await.unwrap_err();
    assert_eq!(fields(&gap), ["offset"]);
    assert!(gap.to_string().contains("offset 12"), "{gap}");
    let overlap = fx.uploads.append(ANA, &up.id, 0, b"XXXXXXXX").await.unwrap_err();
    assert_eq!(fields(&overlap), ["offset"]);
    let shifted = fx.uploads.append(ANA, &up.id, 4, &content[4..8]).await.unwrap_err();
    assert_eq!(fields(&shifted), ["offset"]);
    // Bytes past the declared size.
    let past = fx.uploads.append(ANA, &up.id, 12, b"0123456789").await.unwrap_err();
    assert_eq!(fields(&past), ["data"]);
    // Completing early says how much is missing.
    let early = fx.uploads.complete(ANA, &up.id, &sha256(content)).await.unwrap_err();
    assert!(matches!(early, UploadError::Incomplete { received: 12, size: 16 }), "{early:?}");
    fx.uploads.append(ANA, &up.id, 12, &content[12..]).await.unwrap();
    let done = fx.uploads.complete(ANA, &up.id, &sha256(content)).await.unwrap();
    assert_eq!(read_back(&fx.uploads, &done).await, content);
    // Complete: immutable, even a repeat of its last chunk.
    let late = fx.uploads.append(ANA, &up.id, 12, &content[12..]).await.unwrap_err();
    assert!(matches!(late, UploadError::Complete(_)), "{late:?}");
    assert_eq!(stored(&fx).await, (1, 3));
}

#[tokio::test]
async fn too_large_files_and_chunks_are_refused_naming_the_field() {
    let fx = fixture().await;
    let small = fx.uploads.clone().with_limits(UploadLimits { max_file_bytes: 1000 });
    let e = small.start(ANA, "big.bin", "application/octet-stream", 1001).await.unwrap_err();
    assert_eq!(fields(&e), ["size_bytes"]);
    let e = fx.uploads.start(ANA, "big.bin", "application/octet-stream", 10 * 1024 * 1024 + 1).await.unwrap_err();
    assert_eq!(fields(&e), ["size_bytes"]);
    let e = fx.uploads.start(ANA, "../etc/passwd", "nope", 0).await.unwrap_err();
    assert_eq!(fields(&e), ["file_name", "content_type", "size_bytes"]);
    assert_eq!(stored(&fx).await, (0, 0), "nothing stored");
    // Exactly the limit is fine; a chunk over 1 MiB is not.
    let up = fx.uploads.start(ANA, "big.bin", "application/octet-stream", 10 * 1024 * 1024).await.unwrap();
    let e = fx.uploads.append(ANA, &up.id, 0, &vec![7u8; MAX_CHUNK_BYTES + 1]).await.unwrap_err();
    assert_eq!(fields(&e), ["data"]);
    let e = fx.uploads.append(ANA, &up.id, 0, &[]).await.unwrap_err();
    assert_eq!(fields(&e), ["data"]);
    assert_eq!(stored(&fx).await, (1, 0), "no chunk stored");
}

#[tokio::test]
async fn a_wrong_checksum_or_a_mislabelled_file_is_refused_and_deleted() {
    let fx = fixture().await;
    let up = fx.uploads.start(ANA, "a.txt", "text/plain", 5).await.unwrap();
    fx.uploads.append(ANA, &up.id, 0, b"hello").await.unwrap();
    let e = fx.uploads.complete(ANA, &up.id, "abc").await.unwrap_err();
    assert_eq!(fields(&e), ["sha256"], "malformed");
    let e = fx.uploads.complete(ANA, &up.id, &sha256(b"hellO")).await.unwrap_err();
    assert_eq!(fields(&e), ["sha256"]);
    assert_eq!(stored(&fx).await, (0, 0), "the upload went with its chunks");
    let gone = fx.uploads.complete(ANA, &up.id, &sha256(b"hello")).await.unwrap_err();
    assert!(matches!(gone, UploadError::NotFound), "{gone:?}");

    // A PDF declared as a PNG; text declared as a PNG; a PNG declared as text.
    for (declared, content) in [("image/png", PDF), ("image/png", b"just text".as_slice()), ("text/plain", PNG)] {
        let e = upload(&fx.uploads, ANA, "x", declared, content, 16).await.unwrap_err();
        assert_eq!(fields(&e), ["content_type"], "{declared}");
    }
    let e = upload(&fx.uploads, ANA, "x.png", "image/png", PDF, 16).await.unwrap_err();
    assert!(e.to_string().contains("application/pdf"), "{e}");
    assert_eq!(stored(&fx).await, (0, 0));
    // Declared as what it is, it is fine.
    upload(&fx.uploads, ANA, "x.pdf", "application/pdf", PDF, 16).await.unwrap();
}

#[tokio::test]
async fn someone_elses_upload_is_not_found() {
    let fx = fixture().await;
    let up = fx.uploads.start(ANA, "a.txt", "text/plain", 5).await.unwrap();
    let e = fx.uploads.append(BEN, &up.id, 0, b"hello").await.unwrap_err();
    assert!(matches!(e, UploadError::NotFound), "{e:?}");
    fx.uploads.append(ANA, &up.id, 0, b"hello").await.unwrap();
    let e = fx.uploads.complete(BEN, &up.id, &sha256(b"hello")).await.unwrap_err();
    assert!(matches!(e, UploadError::NotFound), "{e:?}");
    let done = fx.uploads.complete(ANA, &up.id, &sha256(b"hello")).await.unwrap();
    // Nor may anyone else attach it.
    let txn = fx.db.db.begin_write().await.unwrap();
    let e = fx.uploads.attach(&txn, BEN, "attachments", &refs(&[&done.id]), "ticket/1").await.unwrap_err();
    assert_eq!(fields(&e), ["attachments[0]"]);
}

#[tokio::test]
async fn a_complete_upload_is_attached_once_by_its_uploader() {
    let fx = fixture().await;
    let a = upload(&fx.uploads, ANA, "a.txt", "text/plain", b"alpha", 8).await.unwrap();
    let b = upload(&fx.uploads, ANA, "b.png", "image/png", PNG, 8).await.unwrap();
    let open = fx.uploads.start(ANA, "c.txt", "text/plain", 3).await.unwrap();
    // Not attached yet: not found for reading.
    assert!(matches!(fx.uploads.attached(&a.id).await, Err(UploadError::NotFound)));
    // An open upload, another system's file, an unknown one, one named twice:
    // all named, and nothing attached.
    let mut bad = refs(&[&a.id, &open.id, "nope", &a.id]);
    bad.push(FileRef { system: "tts".into(), id: b.id.clone() });
    let txn = fx.db.db.begin_write().await.unwrap();
    let e = fx.uploads.attach(&txn, ANA, "attachments", &bad, "ticket/1").await.unwrap_err();
    assert_eq!(fields(&e), ["attachments[3]", "attachments[4].system"]);
    let e = fx.uploads.attach(&txn, ANA, "attachments", &refs(&[&a.id, &open.id, "nope"]), "ticket/1").await.unwrap_err();
    assert_eq!(fields(&e), ["attachments[1]", "attachments[2]"]);
    drop(txn);
    let txn = fx.db.db.begin_write().await.unwrap();
    let attached = fx.uploads.attach(&txn, ANA, "attachments", &refs(&[&b.id, &a.id]), "ticket/1").await.unwrap();
    txn.commit().await.unwrap();
    let names: Vec<&str> = attached.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(names, ["b.png", "a.txt"], "in the order given");
    assert_eq!(attached[0].content_type, "image/png");
    assert_eq!(attached[0].size_bytes, PNG.len() as i64);
    assert_eq!(attached[0].file, Some(FileRef { system: "hdts".into(), id: b.id.clone() }));
    assert_eq!(fx.uploads.attached(&a.id).await.unwrap().attached_to.as_deref(), Some("ticket/1"));
    // Once only.
    let txn = fx.db.db.begin_write().await.unwrap();
    let e = fx.uploads.attach(&txn, ANA, "files", &refs(&[&a.id]), "reply/2").await.unwrap_err();
    assert_eq!(fields(&e), ["files[0]"]);
    let many: Vec<String> = (0..21).map(|i| format!("f{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let e = fx.uploads.attach(&txn, ANA, "attachments", &refs(&many), "reply/2").await.unwrap_err();
    assert_eq!(fields(&e), ["attachments"]);
}

#[tokio::test]
async fn stale_uploads_are_pruned_and_attached_files_kept() {
    let fx = fixture().await;
    let day = Duration::from_secs(24 * 3600);
    let open = fx.uploads.start(ANA, "open.txt", "text/plain", 10).await.unwrap();
    fx.uploads.append(ANA, &open.id, 0, b"01234").await.unwrap();
    let unused = upload(&fx.uploads, ANA, "unused.txt", "text/plain", b"unused", 4).await.unwrap();
    let used = upload(&fx.uploads, ANA, "used.txt", "text/plain", b"used", 4).await.unwrap();
    let txn = fx.db.db.begin_write().await.unwrap();
    fx.uploads.attach(&txn, ANA, "attachments", &refs(&[&used.id]), "ticket/1").await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(uploads::prune(&fx.db.db, fx.clock.now()).await.unwrap(), 0, "nothing stale yet");
    // Half a day on, a new upload starts; a day after the first ones, they go.
    fx.clock.advance(day / 2);
    let recent = fx.uploads.start(ANA, "recent.txt", "text/plain", 3).await.unwrap();
    fx.clock.advance(day / 2 + Duration::from_secs(1));
    // Expired: refused as if gone, before the pruner ran.
    let e = fx.uploads.append(ANA, &open.id, 5, b"56789").await.unwrap_err();
    assert!(matches!(e, UploadError::NotFound), "{e:?}");
    assert_eq!(uploads::prune(&fx.db.db, fx.clock.now()).await.unwrap(), 2);
    let left: Vec<String> = entity::upload::Entity::find().all(fx.db.db.conn()).await.unwrap().into_iter().map(|u| u.file_name).collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&"used.txt".to_owned()) && left.contains(&"recent.txt".to_owned()), "{left:?}");
    assert!(matches!(fx.uploads.attached(&unused.id).await, Err(UploadError::NotFound)));
    // The attached file's chunks stay; the pruned ones' went with them.
    assert_eq!(stored(&fx).await, (2, 1));
    assert_eq!(read_back(&fx.uploads, &fx.uploads.attached(&used.id).await.unwrap()).await, b"used");
    // A week later the attached file is still there; the recent one is not.
    fx.clock.advance(7 * day);
    assert_eq!(uploads::prune(&fx.db.db, fx.clock.now()).await.unwrap(), 1);
    assert!(fx.uploads.attached(&used.id).await.is_ok());
    let _ = recent;
}

#[tokio::test]
async fn the_workers_pruner_prunes_on_its_own_until_shut_down() {
    let fx = fixture().await;
    fx.uploads.start(ANA, "stale.txt", "text/plain", 3).await.unwrap();
    fx.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let pruner = tokio::spawn(uploads::run_pruner(
        fx.db.db.clone(),
        fx.clock.clock(),
        Duration::from_millis(20),
        async move {
            let _ = stopped.await;
        },
    ));
    let db = fx.db.db.clone();
    let pruned = map_kit::testing::poll_until(Duration::from_secs(10), || {
        let db = db.clone();
        async move { entity::upload::Entity::find().count(db.conn()).await.unwrap() == 0 }
    })
    .await;
    assert!(pruned, "the pruner never pruned the stale upload");
    // And on its next round, one started since (and gone stale).
    fx.uploads.start(ANA, "later.txt", "text/plain", 3).await.unwrap();
    fx.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let pruned = map_kit::testing::poll_until(Duration::from_secs(10), || {
        let db = db.clone();
        async move { entity::upload::Entity::find().count(db.conn()).await.unwrap() == 0 }
    })
    .await;
    assert!(pruned, "the pruner did not run again");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), pruner).await.unwrap().unwrap();
}
}
