//! A workflow revision's content — its selector, steps and transitions — and
//! the checks it must pass, every violation listed at once with the field
//! it is about (`steps[2].role`, `transitions[0].to_step_id`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use map_kit::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};

/// Most steps in a revision.
pub const MAX_STEPS: usize = 100;
/// Most transitions in a revision.
pub const MAX_TRANSITIONS: usize = 500;
/// Longest name (workflow, step, transition).
pub const MAX_NAME: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 2000;
/// Longest key (step id, action).
pub const MAX_KEY: usize = 64;
/// Longest category or sub-category.
pub const MAX_CATEGORY: usize = 100;
/// Largest step weight.
pub const MAX_WEIGHT: i32 = 10_000;

/// A ticket's status, as a step sets it (the contract's `TicketStatus`
/// without CANCELLED, which no step may set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Opened and assigned; no work recorded yet.
    Open,
    /// Being worked on.
    InProgress,
    /// Waiting for the requester (SLA clocks pause by default).
    WaitingOnRequester,
    /// Waiting for a third party.
    OnHold,
    /// Solved; the requester may confirm or reopen.
    Resolved,
    /// Done for good.
    Closed,
}

/// What fires a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// An agent's TransitionTicket.
    Manual,
    /// The requester replied.
    RequesterReplied,
    /// The requester reopened the ticket.
    Reopened,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Key, lower snake case, unique in the revision.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role whose holders handle it, `tts:<role>`.
    pub role: String,
    /// Role it escalates to on breach; empty for none.
    pub escalation_role: String,
    /// Its SLA in seconds of business time; `None` for none.
    pub sla_seconds: Option<i64>,
    /// The ticket's status at this step; `None` when the request left it unset.
    pub status: Option<StepStatus>,
    /// A ticket here is done with the workflow.
    pub end: bool,
    /// Display order, smallest first.
    pub weight: i32,
}

/// One transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The step it leaves.
    pub from: String,
    /// The step it enters.
    pub to: String,
    /// Action key, lower snake case, unique among the transitions leaving `from`.
    pub action: String,
    /// Display label.
    pub name: String,
    /// TransitionTicket must carry a comment.
    pub requires_comment: bool,
    /// What fires it.
    pub trigger: Trigger,
}

/// Which tickets a workflow is for; an empty part matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Selector {
    /// Auth's department code.
    pub department_code: String,
    /// The help-desk category.
    pub category: String,
    /// Its sub-category.
    pub sub_category: String,
}

impl Selector {
    /// The key that makes "one published workflow per selector" a unique
    /// index: the three parts joined by a separator no part may contain.
    pub fn key(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}",
            self.department_code, self.category, self.sub_category
        )
    }
}

/// The steps and transitions of a revision, stored as one JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    /// The steps.
    pub steps: Vec<Step>,
    /// The transitions.
    pub transitions: Vec<Transition>,
    /// Where new tickets start.
    pub initial_step_id: String,
}

impl Graph {
    /// The step `id`.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The transition leaving `from` that `trigger` fires, if any (at most
    /// one, by validation; MANUAL transitions are chosen by action).
    pub fn triggered(&self, from: &str, trigger: Trigger) -> Option<&Transition> {
        self.transitions
            .iter()
            .find(|t| t.from == from && t.trigger == trigger)
    }
}

/// A revision's whole content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// Unique display name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Which tickets it is for.
    pub selector: Selector,
    /// Its steps and transitions.
    pub graph: Graph,
}

/// Whether `s` is a lower snake case key: `[a-z][a-z0-9_]*`, at most 64.
pub fn is_key(s: &str) -> bool {
    (1..=MAX_KEY).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Every violation of `def`; `role_exists` says whether a `tts:<role>` role
/// exists in Auth. Empty when the definition is valid.
pub fn violations(def: &Definition, role_exists: &dyn Fn(&str) -> bool) -> Vec<FieldViolation> {
    let mut v = Violations::default();
    v.text("name", &def.name, MAX_NAME);
    v.optional_text("description", &def.description, MAX_DESCRIPTION);
    check_selector(&mut v, &def.selector);
    let g = &def.graph;
    check_steps(&mut v, g, role_exists);
    check_transitions(&mut v, g);
    if g.initial_step_id.is_empty() {
        v.add("initial_step_id", "is required");
    } else if g.step(&g.initial_step_id).is_none() {
        v.add("initial_step_id", "names no step of the workflow");
    } else if g.steps.len() <= MAX_STEPS {
        check_reachability(&mut v, g);
    }
    v.into_violations()
}

fn check_selector(v: &mut Violations, s: &Selector) {
    for (field, value) in [("category", &s.category), ("sub_category", &s.sub_category)] {
        v.optional_text(field, value, MAX_CATEGORY);
        if value.contains('\u{1f}') || value.trim() != value {
            v.add(
                field,
                "must not start or end with spaces or hold control characters",
            );
        }
    }
    if !s.sub_category.is_empty() && s.category.is_empty() {
        v.add("sub_category", "needs a category");
    }
}

fn check_steps(v: &mut Violations, g: &Graph, role_exists: &dyn Fn(&str) -> bool) {
    if g.steps.is_empty() {
        v.add("steps", "at least one step is required");
    }
    if g.steps.len() > MAX_STEPS {
        v.add("steps", format!("at most {MAX_STEPS} steps"));
    }
    let mut seen = BTreeSet::new();
    for (i, s) in g.steps.iter().enumerate() {
        let at = |f: &str| format!("steps[{i}].{f}");
        if !is_key(&s.id) {
            v.add(
                at("id"),
                "must be lower snake case, 1 to 64 characters (e.g. triage)",
            );
        } else if !seen.insert(s.id.as_str()) {
            v.add(at("id"), format!("repeats the step id {:?}", s.id));
        }
        v.text(&at("name"), &s.name, MAX_NAME);
        check_role(v, &at("role"), &s.role, true, role_exists);
        check_role(
            v,
            &at("escalation_role"),
            &s.escalation_role,
            false,
            role_exists,
        );
        if s.sla_seconds.is_some_and(|d| d <= 0) {
            v.add(at("sla"), "must be positive when set");
        }
        if s.status.is_none() {
            v.add(
                at("ticket_status"),
                "is required (any status but CANCELLED)",
            );
        }
        if !(0..=MAX_WEIGHT).contains(&s.weight) {
            v.add(at("weight"), format!("must be 0 to {MAX_WEIGHT}"));
        }
    }
    if !g.steps.is_empty() && !g.steps.iter().any(|s| s.end) {
        v.add("steps", "no step is an end step (end: true)");
    }
}

fn check_role(
    v: &mut Violations,
    field: &str,
    role: &str,
    required: bool,
    role_exists: &dyn Fn(&str) -> bool,
) {
    if role.is_empty() {
        if required {
            v.add(field, "is required, e.g. tts:agent");
        }
        return;
    }
    match role.strip_prefix("tts:") {
        Some(name) if !name.is_empty() => {
            if !role_exists(role) {
                v.add(field, format!("{role} is not a role of tts in Auth"));
            }
        }
        _ => {
            v.add(field, "must be a TTS role, tts:<role> (e.g. tts:agent)");
        }
    }
}

fn check_transitions(v: &mut Violations, g: &Graph) {
    if g.transitions.len() > MAX_TRANSITIONS {
        v.add(
            "transitions",
            format!("at most {MAX_TRANSITIONS} transitions"),
        );
    }
    let mut actions = BTreeSet::new();
    let mut triggers = BTreeSet::new();
    for (i, t) in g.transitions.iter().enumerate() {
        let at = |f: &str| format!("transitions[{i}].{f}");
        for (field, step) in [("from_step_id", &t.from), ("to_step_id", &t.to)] {
            if step.is_empty() {
                v.add(at(field), "is required");
            } else if g.step(step).is_none() {
                v.add(
                    at(field),
                    format!("names no step of the workflow ({step:?})"),
                );
            }
        }
        if !is_key(&t.action) {
            v.add(
                at("action"),
                "must be lower snake case, 1 to 64 characters (e.g. resolve)",
            );
        } else if !actions.insert((t.from.as_str(), t.action.as_str())) {
            v.add(
                at("action"),
                format!("repeats the action {:?} of step {:?}", t.action, t.from),
            );
        }
        v.text(&at("name"), &t.name, MAX_NAME);
        if t.trigger != Trigger::Manual && !triggers.insert((t.from.as_str(), t.trigger)) {
            v.add(
                at("trigger"),
                format!(
                    "step {:?} already has a transition fired by {:?}: a trigger must move a ticket one way",
                    t.from, t.trigger
                ),
            );
        }
    }
}

/// Every step reachable from the initial one; an end reachable from every step.
fn check_reachability(v: &mut Violations, g: &Graph) {
    let mut forward: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut backward: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &g.transitions {
        forward.entry(&t.from).or_default().push(&t.to);
        backward.entry(&t.to).or_default().push(&t.from);
    }
    let from_start = reach(&forward, [g.initial_step_id.as_str()]);
    let to_an_end = reach(
        &backward,
        g.steps.iter().filter(|s| s.end).map(|s| s.id.as_str()),
    );
    for (i, s) in g.steps.iter().enumerate() {
        if !from_start.contains(s.id.as_str()) {
            v.add(
                format!("steps[{i}].id"),
                format!("step {:?} cannot be reached from the initial step", s.id),
            );
        }
        if g.steps.iter().any(|s| s.end) && !to_an_end.contains(s.id.as_str()) {
            v.add(
                format!("steps[{i}].id"),
                format!("no end step can be reached from step {:?}", s.id),
            );
        }
    }
}

fn reach<'a>(
    edges: &BTreeMap<&'a str, Vec<&'a str>>,
    starts: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<&'a str> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = starts.into_iter().collect();
    while let Some(n) = queue.pop_front() {
        if seen.insert(n) {
            queue.extend(edges.get(n).into_iter().flatten().copied());
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, status: StepStatus, end: bool) -> Step {
        Step {
            id: id.into(),
            name: id.into(),
            role: "tts:agent".into(),
            escalation_role: String::new(),
            sla_seconds: None,
            status: Some(status),
            end,
            weight: 0,
        }
    }

    fn go(from: &str, to: &str, action: &str, trigger: Trigger) -> Transition {
        Transition {
            from: from.into(),
            to: to.into(),
            action: action.into(),
            name: action.into(),
            requires_comment: false,
            trigger,
        }
    }

    /// triage → work ⇄ waiting → resolved (→ work on reopen).
    fn support() -> Definition {
        Definition {
            name: "Support".into(),
            description: String::new(),
            selector: Selector::default(),
            graph: Graph {
                steps: vec![
                    step("triage", StepStatus::Open, false),
                    step("work", StepStatus::InProgress, false),
                    step("waiting", StepStatus::WaitingOnRequester, false),
                    step("resolved", StepStatus::Resolved, true),
                ],
                transitions: vec![
                    go("triage", "work", "start", Trigger::Manual),
                    go("work", "waiting", "ask", Trigger::Manual),
                    go("waiting", "work", "replied", Trigger::RequesterReplied),
                    go("work", "resolved", "resolve", Trigger::Manual),
                    go("resolved", "work", "reopened", Trigger::Reopened),
                ],
                initial_step_id: "triage".into(),
            },
        }
    }

    fn fields(def: &Definition) -> Vec<String> {
        violations(def, &|r| ["tts:agent", "tts:manager"].contains(&r))
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn a_well_formed_workflow_passes() {
        assert_eq!(fields(&support()), Vec::<String>::new());
    }

    #[test]
    fn every_violation_is_listed_at_once_by_field() {
        let mut def = support();
        def.name.clear();
        def.selector.sub_category = "Laptops".into();
        def.graph.steps[1].role = "tts:nobody".into();
        def.graph.steps[2].role = "ams:manager".into();
        def.graph.steps[3].id = "Resolved!".into();
        def.graph
            .steps
            .push(step("work", StepStatus::OnHold, false));
        def.graph
            .transitions
            .push(go("work", "gone", "ask", Trigger::Manual));
        def.graph
            .transitions
            .push(go("waiting", "work", "again", Trigger::RequesterReplied));
        def.graph.steps[0].sla_seconds = Some(0);
        def.graph.steps[0].status = None;
        let got = fields(&def);
        for expected in [
            "name",
            "sub_category",
            "steps[0].sla",
            "steps[0].ticket_status",
            "steps[1].role",
            "steps[2].role",
            "steps[3].id",
            "steps[4].id",
            "transitions[5].to_step_id",
            "transitions[5].action",
            "transitions[6].trigger",
        ] {
            assert!(
                got.contains(&expected.to_owned()),
                "{expected} missing from {got:?}"
            );
        }
    }

    #[test]
    fn unreachable_steps_and_steps_without_a_way_to_an_end_are_named() {
        let mut def = support();
        def.graph
            .steps
            .push(step("orphan", StepStatus::OnHold, false));
        // "stuck" is reachable but leads nowhere.
        def.graph
            .steps
            .push(step("stuck", StepStatus::OnHold, false));
        def.graph
            .transitions
            .push(go("work", "stuck", "park", Trigger::Manual));
        let got = violations(&def, &|_| true);
        let about = |id: &str, what: &str| {
            got.iter()
                .any(|f| f.description.contains(&format!("{id:?}")) && f.description.contains(what))
        };
        assert!(about("orphan", "cannot be reached"), "{got:?}");
        assert!(about("stuck", "no end step"), "{got:?}");
        assert!(!about("work", "cannot be reached"), "{got:?}");
        assert_eq!(
            got.iter().filter(|f| f.field == "steps[4].id").count(),
            2,
            "{got:?}"
        );
    }

    #[test]
    fn a_workflow_without_an_end_or_an_initial_step_is_refused() {
        let mut def = support();
        def.graph.steps[3].end = false;
        def.graph.initial_step_id = "nowhere".into();
        let got = fields(&def);
        assert!(got.contains(&"steps".to_owned()), "{got:?}");
        assert!(got.contains(&"initial_step_id".to_owned()), "{got:?}");
    }

    #[test]
    fn triggers_pick_the_one_transition_they_fire() {
        let def = support();
        assert_eq!(
            def.graph
                .triggered("waiting", Trigger::RequesterReplied)
                .map(|t| t.to.as_str()),
            Some("work")
        );
        assert_eq!(
            def.graph
                .triggered("resolved", Trigger::Reopened)
                .map(|t| t.to.as_str()),
            Some("work")
        );
        assert!(
            def.graph
                .triggered("work", Trigger::RequesterReplied)
                .is_none()
        );
    }
}
