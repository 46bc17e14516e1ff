//! Approval chains, pure: which steps a submission gets from its kind's
//! policy and its requested total, and who may decide the pending step.
//!
//! A level applies when the requested total is greater than the level's
//! threshold in the proposal's currency, and always when the level has no
//! threshold in that currency; the first level always applies. The steps
//! are decided in order. A step is decided by a caller who holds its role
//! or `bms:finance_head`, who is not the requester, who belongs to the
//! proposal's department unless a finance head, and who decided no other
//! step of the same submission.

use chrono::{DateTime, Utc};
use map_kit::{System, authn::Principal};
use serde::{Deserialize, Serialize};

/// The role that may decide every step and approve for every department.
pub const FINANCE_HEAD: &str = "bms:finance_head";
/// The role of an ordinary approval step.
pub const APPROVER: &str = "bms:approver";

/// One level of an approval policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// `bms:approver` or `bms:finance_head`.
    pub role: String,
    /// (currency, minor units): the amounts above which it applies.
    pub thresholds: Vec<(String, i64)>,
    /// What it is for.
    #[serde(default)]
    pub description: String,
}

/// A step's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Not decided yet.
    Pending,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
    /// Returned for revision.
    Returned,
}

/// One step of a submission's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Position of the policy level it comes from, from 1.
    pub level: i32,
    /// The role that decides it.
    pub role: String,
    /// The threshold in the proposal's currency the total exceeded; `None`
    /// when the level always applies.
    pub threshold_minor: Option<i64>,
    /// The decision so far.
    pub decision: Decision,
    /// Who decided; empty while pending.
    #[serde(default)]
    pub decided_by: String,
    /// When decided.
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's comment.
    #[serde(default)]
    pub comment: String,
}

/// The steps of a submission of `total` minor units of `currency` under
/// `levels`, all pending.
pub fn steps(levels: &[Level], currency: &str, total: i64) -> Vec<Step> {
    levels
        .iter()
        .enumerate()
        .filter_map(|(i, level)| {
            let threshold = level
                .thresholds
                .iter()
                .find(|(c, _)| c == currency)
                .map(|(_, t)| *t);
            let applies = i == 0 || threshold.is_none_or(|t| total > t);
            applies.then(|| Step {
                level: i32::try_from(i + 1).unwrap_or(i32::MAX),
                role: level.role.clone(),
                threshold_minor: if i == 0 { None } else { threshold },
                decision: Decision::Pending,
                decided_by: String::new(),
                decided_at: None,
                comment: String::new(),
            })
        })
        .collect()
}

/// The first pending step, with its index.
pub fn pending(steps: &[Step]) -> Option<(usize, &Step)> {
    steps
        .iter()
        .enumerate()
        .find(|(_, s)| s.decision == Decision::Pending)
}

/// Why a caller may not decide the pending step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The caller is the requester.
    SelfApproval,
    /// The caller holds neither the step's role nor finance head.
    LacksRole,
    /// The caller is of another department and not a finance head.
    OtherDepartment,
    /// The caller decided another step of this submission.
    DuplicateApprover,
}

impl Refusal {
    /// The reason of the PERMISSION_DENIED it answers.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::SelfApproval => "SELF_APPROVAL",
            Refusal::LacksRole => "NOT_APPROVER",
            Refusal::OtherDepartment => "OTHER_DEPARTMENT",
            Refusal::DuplicateApprover => "DUPLICATE_APPROVER",
        }
    }

    /// For people.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::SelfApproval => "the requester never decides their own proposal",
            Refusal::LacksRole => "the caller does not hold the pending step's role",
            Refusal::OtherDepartment => {
                "an approver decides for their own department unless a finance head"
            }
            Refusal::DuplicateApprover => "the caller decided another step of this submission",
        }
    }
}

/// Whether `who` holds `role` ("bms:approver").
pub fn holds(who: &Principal, role: &str) -> bool {
    let name = role.strip_prefix("bms:").unwrap_or(role);
    who.has_role(System::Bms, name)
}

/// Whether `who`, of `department`, may decide `step` of `steps` of a
/// proposal of `requester` in `proposal_department`.
pub fn may_decide(
    who: &Principal,
    department: &str,
    requester: &str,
    proposal_department: &str,
    steps: &[Step],
    step: &Step,
) -> Result<(), Refusal> {
    if who.id == requester {
        return Err(Refusal::SelfApproval);
    }
    let finance_head = holds(who, FINANCE_HEAD);
    if !finance_head && !holds(who, &step.role) {
        return Err(Refusal::LacksRole);
    }
    if !finance_head && !department.eq_ignore_ascii_case(proposal_department) {
        return Err(Refusal::OtherDepartment);
    }
    if steps
        .iter()
        .any(|s| s.decision != Decision::Pending && s.decided_by == who.id)
    {
        return Err(Refusal::DuplicateApprover);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use map_kit::authn::{PrincipalKind, RoleRef};

    use super::*;

    fn levels() -> Vec<Level> {
        vec![
            Level {
                role: APPROVER.into(),
                thresholds: vec![],
                description: String::new(),
            },
            Level {
                role: FINANCE_HEAD.into(),
                thresholds: vec![("PHP".into(), 1_000_000), ("USD".into(), 20_000)],
                description: String::new(),
            },
        ]
    }

    fn person(id: &str, roles: &[&str]) -> Principal {
        Principal {
            id: id.into(),
            kind: PrincipalKind::User,
            email: String::new(),
            display_name: String::new(),
            department: String::new(),
            roles: roles
                .iter()
                .map(|r| RoleRef {
                    system: "bms".into(),
                    role: (*r).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_level_applies_above_its_threshold_or_without_one_in_the_currency() {
        let roles = |total, currency| -> Vec<String> {
            steps(&levels(), currency, total)
                .into_iter()
                .map(|s| s.role)
                .collect()
        };
        assert_eq!(roles(800_000, "PHP"), [APPROVER]);
        assert_eq!(
            roles(1_000_000, "PHP"),
            [APPROVER],
            "at the threshold: not above"
        );
        assert_eq!(roles(1_000_001, "PHP"), [APPROVER, FINANCE_HEAD]);
        assert_eq!(
            roles(5_000, "EUR"),
            [APPROVER, FINANCE_HEAD],
            "no EUR threshold"
        );
        let two = steps(&levels(), "USD", 20_001);
        assert_eq!(two[1].level, 2);
        assert_eq!(two[1].threshold_minor, Some(20_000));
        assert_eq!(two[0].threshold_minor, None);
        assert!(two.iter().all(|s| s.decision == Decision::Pending));
    }

    #[test]
    fn who_may_decide() {
        let mut chain = steps(&levels(), "EUR", 1);
        let approver = person("a", &["approver"]);
        let head = person("h", &["finance_head"]);
        let viewer = person("v", &["viewer"]);
        let step = chain[0].clone();
        let decide = |who: &Principal, dept: &str, chain: &[Step], step: &Step| {
            may_decide(who, dept, "r", "IT", chain, step)
        };
        assert_eq!(decide(&approver, "it", &chain, &step), Ok(()));
        assert_eq!(
            decide(&approver, "HR", &chain, &step),
            Err(Refusal::OtherDepartment)
        );
        assert_eq!(decide(&head, "HR", &chain, &step), Ok(()), "any department");
        assert_eq!(
            decide(&viewer, "IT", &chain, &step),
            Err(Refusal::LacksRole)
        );
        let requester = person("r", &["approver", "finance_head"]);
        assert_eq!(
            decide(&requester, "IT", &chain, &step),
            Err(Refusal::SelfApproval)
        );
        // the approver decided step 1; step 2 (finance head) needs another
        chain[0].decision = Decision::Approved;
        chain[0].decided_by = "a".into();
        let second = chain[1].clone();
        assert_eq!(
            decide(&approver, "IT", &chain, &second),
            Err(Refusal::LacksRole)
        );
        let both = person("a", &["approver", "finance_head"]);
        assert_eq!(
            decide(&both, "IT", &chain, &second),
            Err(Refusal::DuplicateApprover)
        );
        assert_eq!(decide(&head, "IT", &chain, &second), Ok(()));
        assert_eq!(pending(&chain).map(|(i, _)| i), Some(1));
    }
}
