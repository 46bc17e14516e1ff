//! Requests by `request_id`, on both databases: a retry gets the first
//! answer and the change it made is not made again; the same id with a
//! different request, or for another method, is INVALID_ARGUMENT naming the
//! field; an answer rolled back with its change is forgotten with it; a
//! malformed id is refused before anything is read.
#![allow(clippy::unwrap_used)]

use map_kit::{ApiError, System, counters::next_number, idempotency::Idempotent, testing::TestDb};
use prost_types::Duration;

const METHOD: &str = "map.tts.v1.TicketService/CreateTicket";
const ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

/// The "change": takes a number and answers with it, unless the request
/// was answered before. Commits when `commit`.
async fn answer(db: &TestDb, key: &Idempotent, commit: bool) -> Result<i64, ApiError> {
    let txn = db.db.begin_write().await?;
    if let Some(first) = key.replay::<Duration, _>(&txn).await? {
        return Ok(first.seconds);
    }
    let n = next_number(&txn, "TT").await?;
    let response = Duration {
        seconds: n.value,
        nanos: 0,
    };
    key.record(&txn, &response, chrono::Utc::now()).await?;
    if commit {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(n.value)
}

fn request(n: i64) -> Duration {
    Duration {
        seconds: n,
        nanos: 0,
    }
}

fn violation_field(e: &ApiError) -> Option<&str> {
    match e {
        ApiError::InvalidArgument(v) => v.first().map(|f| f.field.as_str()),
        _ => None,
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_retry_gets_the_first_answer_and_changes_nothing() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    let key = Idempotent::new(System::Tts, "request_id", ID, METHOD, &request(7)).unwrap();
    assert_eq!(answer(&db, &key, true).await.unwrap(), 1);
    let again = Idempotent::new(System::Tts, "request_id", &ID.to_uppercase(), METHOD, &request(7)).unwrap();
    assert_eq!(answer(&db, &again, true).await.unwrap(), 1, "the first answer");
    // Nothing was made twice: the next new request gets number 2.
    let other = Idempotent::new(System::Tts, "request_id", "01890a5d-ac96-774b-bcce-b302099a8058", METHOD, &request(7)).unwrap();
    assert_eq!(answer(&db, &other, true).await.unwrap(), 2);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn the_same_id_for_a_different_request_is_refused_by_name() {
    let db = TestDb::new::<map_migrations::hdts::Migrator>().await;
    let key = Idempotent::new(System::Hdts, "request_id", ID, METHOD, &request(1)).unwrap();
    answer(&db, &key, true).await.unwrap();
    let changed = Idempotent::new(System::Hdts, "request_id", ID, METHOD, &request(2)).unwrap();
    let e = answer(&db, &changed, true).await.unwrap_err();
    assert_eq!(violation_field(&e), Some("request_id"), "{e:?}");
    let elsewhere = Idempotent::new(System::Hdts, "request_id", ID, "map.hdts.v1.HelpDeskService/AddReply", &request(1)).unwrap();
    let e = answer(&db, &elsewhere, true).await.unwrap_err();
    assert_eq!(violation_field(&e), Some("request_id"), "{e:?}");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn an_answer_rolled_back_with_its_change_is_forgotten() {
    let db = TestDb::new::<map_migrations::ams::Migrator>().await;
    let key = Idempotent::new(System::Ams, "request_id", ID, METHOD, &request(1)).unwrap();
    assert_eq!(answer(&db, &key, false).await.unwrap(), 1);
    // The retry does the work for real: the number given back is taken again.
    assert_eq!(answer(&db, &key, true).await.unwrap(), 1);
    assert_eq!(answer(&db, &key, true).await.unwrap(), 1);
}
}

#[test]
fn a_malformed_request_id_is_refused_by_name() {
    for bad in ["", "not-a-uuid", "01890a5d-ac96-774b-bcce"] {
        let e = Idempotent::new(System::Bms, "spending.request_id", bad, METHOD, &request(1))
            .unwrap_err();
        assert_eq!(
            violation_field(&e),
            Some("spending.request_id"),
            "{bad:?}: {e:?}"
        );
    }
}
