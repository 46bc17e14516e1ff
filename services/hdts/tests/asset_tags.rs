//! The assets a help-desk ticket is about, on both databases: a submission
//! names AMS asset tags, kept as given (AMS does not run yet), shown on the
//! ticket and carried to TTS in `hdts.ticket.submitted`; a bad one is
//! refused by its index and nothing is submitted.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{events::v1 as ev, hdts::v1 as pb};
use support::{Fixture, fields};
use tonic::Code;

fn submission(asset_tags: &[&str]) -> pb::SubmitTicketRequest {
    pb::SubmitTicketRequest {
        subject: "Laptop will not boot".into(),
        description: "Black screen".into(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        sub_category: "Laptop".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        asset_tags: asset_tags.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_submission_names_its_assets_and_carries_them_to_tts() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let mut c = fx.client().await;
    let ticket = c.submit_ticket(ada.request(submission(&["LAP-00123", "dock_4.b"]))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(ticket.asset_tags, ["LAP-00123", "dock_4.b"]);
    let lookup = pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(ticket.id.clone())) };
    assert_eq!(c.get_ticket(ada.request(lookup)).await.unwrap().into_inner().ticket.unwrap().asset_tags, ["LAP-00123", "dock_4.b"]);
    let events = fx.events().await;
    let submitted = events.iter().find(|e| e.0 == "hdts.ticket.submitted").unwrap();
    let snapshot = submitted.2.to_msg::<ev::HdtsTicketSubmitted>().unwrap().ticket.unwrap();
    assert_eq!(snapshot.asset_tags, ["LAP-00123", "dock_4.b"]);
    // None is fine.
    let plain = c.submit_ticket(ada.request(submission(&[]))).await.unwrap().into_inner().ticket.unwrap();
    assert!(plain.asset_tags.is_empty());

    // A bad one is refused by its index; nothing is submitted.
    let before = fx.events().await.len();
    let e = c.submit_ticket(ada.request(submission(&["LAP-1", "LAP 2", "lap-1", &"A".repeat(65)]))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["asset_tags[1]", "asset_tags[2]", "asset_tags[3]"]);
    let many: Vec<String> = (0..11).map(|i| format!("LAP-{i}")).collect();
    let e = c.submit_ticket(ada.request(pb::SubmitTicketRequest { asset_tags: many, ..submission(&[]) })).await.unwrap_err();
    assert_eq!(fields(&e), ["asset_tags"]);
    assert_eq!(fx.events().await.len(), before, "nothing enqueued");
    let mine = c.list_tickets(ada.request(pb::ListTicketsRequest::default())).await.unwrap().into_inner();
    assert_eq!(mine.tickets.len(), 2);
}
}
