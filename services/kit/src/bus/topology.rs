//! The platform's event topology: one table of every consumer queue and the
//! routing keys bound to it, and the names and arguments that every process
//! declares (ARCHITECTURE.md, "Events on RabbitMQ").
//!
//! Every event type the platform emits must be bound to at least one queue:
//! publishes are `mandatory`, so an unroutable event is a failed publish that
//! stays in the outbox. A unit test checks the table against the routing keys
//! listed in `proto/map/events/v1/events.proto`.

use crate::System;

/// The topic exchange every event is published to (before the prefix).
pub const EXCHANGE: &str = "map.events";
/// The direct exchange dead letters go through (before the prefix); each
/// queue's `.dlq` is bound to it with the queue's full name as key.
pub const DEAD_LETTER_EXCHANGE: &str = "map.events.dlx";
/// Broker-side redelivery limit of a quorum queue. Retries belong to the
/// consumer (it dead-letters a failing event itself); this limit only stops a
/// message that crashes its consumer process again and again.
pub const DELIVERY_LIMIT: i64 = 20;
/// Suffix of a queue's dead-letter queue.
pub const DLQ_SUFFIX: &str = ".dlq";

/// One consumer queue: who consumes it, what is bound to it and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    /// `<consumer-system>.<purpose>`, e.g. `tts.ticket-tasks`. Also the
    /// consumer's name in its inbox.
    pub name: &'static str,
    /// The system whose worker consumes it.
    pub consumer: System,
    /// Binding keys on [`EXCHANGE`] (`*` one word, `#` zero or more words).
    pub bindings: &'static [&'static str],
    /// What the consumer does with the events.
    pub purpose: &'static str,
}

/// Auth's directory: users, their roles, departments.
const DIRECTORY_EVENTS: &[&str] = &["auth.user.*", "auth.role.*", "auth.department.*"];

/// Every consumer queue of the platform. Every process declares all of them
/// (with their dead-letter queues) before it publishes, so an event published
/// before its consumer first started waits in the queue.
pub const QUEUES: &[QueueSpec] = &[
    QueueSpec {
        name: "tts.ticket-tasks",
        consumer: System::Tts,
        bindings: &["hdts.ticket.*"],
        purpose: "the platform's TICKET_TASKS queue: opens a TTS ticket for a submitted help-desk \
                  ticket (workflow, first step, round-robin assignee, SLA clocks) and applies \
                  replies, withdrawals, closes and reopens to it",
    },
    QueueSpec {
        name: "tts.user-sync",
        consumer: System::Tts,
        bindings: DIRECTORY_EVENTS,
        purpose: "TTS's local user directory; reassigns the open work of deactivated users and \
                  of users who lost a role",
    },
    QueueSpec {
        name: "tts.catalog-sync",
        consumer: System::Tts,
        bindings: &["hdts.topic.*"],
        purpose: "TTS's copy of HDTS's help-topic catalogue: tells a workflow's publisher which \
                  topics it receives, and lets a ticket move to another topic",
    },
    QueueSpec {
        name: "tts.sla-escalations",
        consumer: System::Tts,
        bindings: &["tts.sla.*"],
        purpose: "notifies the assignee of a warning and the escalation role of a breach, apart \
                  from the SLA timer that detects them",
    },
    QueueSpec {
        name: "hdts.ticket-updates",
        consumer: System::Hdts,
        bindings: &["tts.ticket.*"],
        purpose: "mirrors TTS status and public comments onto the employee's help-desk ticket \
                  and emails the requester",
    },
    QueueSpec {
        name: "hdts.user-sync",
        consumer: System::Hdts,
        bindings: DIRECTORY_EVENTS,
        purpose: "the help desk's local user directory (requesters, agents)",
    },
    QueueSpec {
        name: "ams.user-sync",
        consumer: System::Ams,
        bindings: DIRECTORY_EVENTS,
        purpose: "AMS's local user directory; flags assets checked out to deactivated users",
    },
    QueueSpec {
        name: "ams.asset-notices",
        consumer: System::Ams,
        bindings: &[
            "ams.asset.checked_out",
            "ams.asset.checked_in",
            "ams.asset.overdue",
            "ams.asset.disposed",
        ],
        purpose: "emails holders about checkouts, returns and overdue assets, apart from the \
                  request that recorded them",
    },
    QueueSpec {
        name: "ams.budget-bookings",
        consumer: System::Ams,
        bindings: &["bms.expense.*"],
        purpose: "shows on each asset the budget line that paid for it (BMS's bookings of AMS \
                  purchases, maintenance and corrections)",
    },
    QueueSpec {
        name: "bms.asset-expenses",
        consumer: System::Bms,
        bindings: &[
            "ams.asset.purchased",
            "ams.asset.maintained",
            "ams.asset.cost_corrected",
        ],
        purpose: "books asset purchases, maintenance costs and cost corrections on the \
                  department's budget line, once per AMS transaction, and warns when the line \
                  crosses a threshold",
    },
    QueueSpec {
        name: "bms.category-sync",
        consumer: System::Bms,
        bindings: &["ams.category.*"],
        purpose: "BMS's copy of AMS's category codes, which budget lines are keyed by",
    },
    QueueSpec {
        name: "bms.user-sync",
        consumer: System::Bms,
        bindings: DIRECTORY_EVENTS,
        purpose: "BMS's local user directory (submitters, approvers)",
    },
    QueueSpec {
        name: "bms.approvals",
        consumer: System::Bms,
        bindings: &["bms.proposal.*", "bms.budget.*"],
        purpose: "notifies the next approver role of a proposal and department heads of \
                  threshold crossings",
    },
];

/// The queue spec of a logical queue name (without prefix), if any.
pub fn queue(name: &str) -> Option<&'static QueueSpec> {
    QUEUES.iter().find(|q| q.name == name)
}

/// The queues a system's worker consumes.
pub fn queues_of(system: System) -> impl Iterator<Item = &'static QueueSpec> {
    QUEUES.iter().filter(move |q| q.consumer == system)
}

/// The logical names of the queues `event_type` is routed to.
pub fn routes(event_type: &str) -> Vec<&'static str> {
    QUEUES
        .iter()
        .filter(|q| q.bindings.iter().any(|b| topic_matches(b, event_type)))
        .map(|q| q.name)
        .collect()
}

/// Broker names under a prefix (`MAP_AMQP_PREFIX`), so test runs and shared
/// brokers never collide.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Names {
    prefix: String,
}

impl Names {
    /// Names under `prefix` (validated by the configuration).
    pub fn new(prefix: impl Into<String>) -> Self {
        Names {
            prefix: prefix.into(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The events exchange.
    pub fn exchange(&self) -> String {
        format!("{}{EXCHANGE}", self.prefix)
    }

    /// The dead-letter exchange.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}{DEAD_LETTER_EXCHANGE}", self.prefix)
    }

    /// A queue's broker name.
    pub fn queue(&self, logical: &str) -> String {
        format!("{}{logical}", self.prefix)
    }

    /// A queue's dead-letter queue's broker name.
    pub fn dead_letter_queue(&self, logical: &str) -> String {
        format!("{}{logical}{DLQ_SUFFIX}", self.prefix)
    }
}

/// AMQP topic matching: the key and pattern are dot-separated words; `*`
/// matches exactly one word, `#` zero or more.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    matches_words(&pattern, &key)
}

fn matches_words(pattern: &[&str], key: &[&str]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((&"#", rest)) => (0..=key.len()).any(|skip| matches_words(rest, &key[skip..])),
        Some((&word, rest)) => match key.split_first() {
            Some((k, key_rest)) => (word == "*" || word == *k) && matches_words(rest, key_rest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn wildcards_follow_amqp_topic_rules() {
        assert!(topic_matches("hdts.ticket.*", "hdts.ticket.submitted"));
        assert!(!topic_matches("hdts.ticket.*", "hdts.ticket"));
        assert!(!topic_matches(
            "hdts.ticket.*",
            "hdts.ticket.submitted.again"
        ));
        assert!(!topic_matches("hdts.ticket.*", "tts.ticket.created"));
        assert!(topic_matches("auth.#", "auth.user.created"));
        assert!(topic_matches("auth.#", "auth"));
        assert!(topic_matches("#", "anything.at.all"));
        assert!(topic_matches("#.created", "auth.user.created"));
        assert!(!topic_matches("#.created", "auth.user.updated"));
        assert!(topic_matches("*.user.*", "auth.user.created"));
        assert!(topic_matches("ams.asset.purchased", "ams.asset.purchased"));
        assert!(!topic_matches("ams.asset.purchased", "ams.asset.disposed"));
    }

    /// Every event type of the contracts reaches a queue; a new event type
    /// without a binding would be stuck in its producer's outbox.
    #[test]
    fn every_event_type_of_the_contracts_is_routed() {
        let proto = include_str!("../../../../proto/map/events/v1/events.proto");
        let types: Vec<&str> = proto
            .lines()
            .filter_map(|l| l.trim().strip_prefix("// - "))
            .filter_map(|l| l.split_once(':').map(|(t, _)| t.trim()))
            .collect();
        assert!(types.len() >= 25, "found only {types:?}");
        for t in types {
            assert!(!routes(t).is_empty(), "{t} is bound to no queue");
        }
    }

    #[test]
    fn queue_names_are_unique_and_owned_by_their_consumer() {
        let mut seen = HashSet::new();
        for q in QUEUES {
            assert!(seen.insert(q.name), "{} twice", q.name);
            assert!(
                q.name.starts_with(&format!("{}.", q.consumer)),
                "{} is not named <consumer>.<purpose>",
                q.name
            );
            assert!(!q.bindings.is_empty());
        }
        assert_eq!(
            routes("auth.user.created"),
            [
                "tts.user-sync",
                "hdts.user-sync",
                "ams.user-sync",
                "bms.user-sync"
            ]
        );
        assert_eq!(
            routes("auth.department.updated"),
            routes("auth.user.created")
        );
        assert_eq!(routes("hdts.ticket.submitted"), ["tts.ticket-tasks"]);
        assert_eq!(routes("hdts.topic.updated"), ["tts.catalog-sync"]);
    }

    #[test]
    fn names_take_the_prefix() {
        let n = Names::new("t1.");
        assert_eq!(n.exchange(), "t1.map.events");
        assert_eq!(n.dead_letter_exchange(), "t1.map.events.dlx");
        assert_eq!(n.queue("tts.ticket-tasks"), "t1.tts.ticket-tasks");
        assert_eq!(
            n.dead_letter_queue("tts.ticket-tasks"),
            "t1.tts.ticket-tasks.dlq"
        );
    }
}
