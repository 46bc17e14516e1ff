//! SearchTickets on both databases over one corpus, with the same expected
//! answers: PostgreSQL's full-text search and SQLite's FTS5 find the same
//! tickets in the same order — every word, whole words, any case, in the
//! subject and description together or in one comment (internal ones
//! too) — page through them with a token bound to the search, filter by
//! status, and refuse a query without words.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::tts::v1 as pb;
use support::{Fixture, fields, support};
use tonic::Code;

fn ticket(subject: &str, description: &str) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        subject: subject.into(),
        description: description.into(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        priority: pb::TicketPriority::Medium.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn search_finds_the_same_tickets_on_both_databases() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    fx.turns.set("tts:agent", &[&agent.principal.as_ref().unwrap().id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    let corpus = [
        ("Laptop will not boot", "Black screen after the update"),
        ("Printer jam on floor 3", "Paper stuck in tray two"),
        ("VPN drops", "The laptop loses the VPN every hour"),
        ("New monitor", "Please order a 27 inch screen"),
        ("Keyboard", "Keys stick; coffee involved"),
    ];
    let mut numbers = Vec::new();
    for (subject, description) in corpus {
        let t = c.create_ticket(agent.request(ticket(subject, description))).await.unwrap().into_inner().ticket.unwrap();
        numbers.push((t.id, t.number));
    }
    // A word only an internal comment holds.
    c.add_comment(agent.request(pb::AddCommentRequest {
        ticket_id: numbers[4].0.clone(),
        body: "Replaced under warranty (ticket-42).".into(),
        visibility: pb::CommentVisibility::Internal.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        attachments: vec![],
    }))
    .await
    .unwrap();
    let search = |query: &str, page_size: i32, page_token: &str| pb::SearchTicketsRequest {
        query: query.into(),
        page_size,
        page_token: page_token.into(),
        statuses: vec![],
    };
    let reader = c.clone();
    let found = |query: &'static str| {
        let mut c = reader.clone();
        let agent = agent.clone();
        async move {
            c.search_tickets(agent.request(search(query, 0, ""))).await.unwrap().into_inner().tickets.into_iter().map(|t| t.number).collect::<Vec<_>>()
        }
    };
    let n = |i: usize| numbers[i].1.clone();
    // Newest change first: the keyboard ticket was commented last.
    assert_eq!(found("LAPTOP").await, [n(2), n(0)]);
    assert_eq!(found("laptop vpn").await, [n(2)], "every word, subject and description together");
    assert_eq!(found("screen").await, [n(3), n(0)]);
    assert_eq!(found("warranty").await, [n(4)], "a word of an internal comment");
    assert_eq!(found("ticket 42").await, [n(4)], "punctuation separates words");
    assert_eq!(found("lap").await, Vec::<String>::new(), "whole words only");
    assert_eq!(found("laptop printer").await, Vec::<String>::new());

    // Paged: one and one, each ticket once; the token is bound to the search.
    let first = c.search_tickets(agent.request(search("the", 1, ""))).await.unwrap().into_inner();
    assert_eq!(first.tickets.iter().map(|t| t.number.clone()).collect::<Vec<_>>(), [n(2)]);
    let second = c.search_tickets(agent.request(search("the", 1, &first.next_page_token))).await.unwrap().into_inner();
    assert_eq!(second.tickets.iter().map(|t| t.number.clone()).collect::<Vec<_>>(), [n(0)]);
    assert!(second.next_page_token.is_empty());
    let e = c.search_tickets(agent.request(search("screen", 1, &first.next_page_token))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // By status: none is resolved.
    let mut resolved = search("laptop", 0, "");
    resolved.statuses = vec![pb::TicketStatus::Resolved.into()];
    assert!(c.search_tickets(agent.request(resolved)).await.unwrap().into_inner().tickets.is_empty());

    // No words, or FTS5/tsquery syntax only: refused, naming the field.
    for bad in ["", " -- ", "\"*\" & |"] {
        let e = c.search_tickets(agent.request(search(bad, 0, ""))).await.unwrap_err();
        assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["query".to_owned()]), "{bad:?}");
    }
    // Operators in a query are words or separators, never syntax.
    assert_eq!(found("laptop OR printer").await, Vec::<String>::new());
}
}
