//! Approval policies: for each proposal kind, the ordered levels of its
//! approval chain — a role and the amounts per currency above which it is
//! required. There is one policy per kind, always present: until first
//! changed it is `bms:approver` then `bms:finance_head`, both without
//! thresholds (version 1, no row). A change applies to later submissions
//! only: a submission copies its chain ([`crate::proposals::chain`]).

use map_contracts::{bms::v1 as pb, common::v1::Money};
use map_kit::{
    System, Violations,
    authn::Principal,
    clock::Clock,
    db::Db,
    wire::{
        currency,
        etag::{check_etag, etag},
        field_mask::update_paths,
        time::timestamp,
    },
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    sea_query::OnConflict,
};

use crate::{
    BmsError,
    entity::approval_policies,
    proposals::{
        Kind,
        chain::{APPROVER, FINANCE_HEAD, Level},
    },
};

/// At most this many levels.
pub const MAX_LEVELS: usize = 5;
/// At most this many characters of a level's description.
pub const MAX_DESCRIPTION: usize = 200;

/// A kind's policy in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The kind it governs.
    pub kind: Kind,
    /// Its levels, in chain order.
    pub levels: Vec<Level>,
    /// 1 for the default, then one more per change.
    pub version: i64,
    /// Who last changed it; empty for the default.
    pub updated_by: String,
    /// When last changed; `None` for the default.
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The default levels: an approver, then a finance head, always.
pub fn default_levels() -> Vec<Level> {
    [APPROVER, FINANCE_HEAD]
        .into_iter()
        .map(|role| Level {
            role: role.to_owned(),
            thresholds: Vec::new(),
            description: String::new(),
        })
        .collect()
}

/// The policy of `kind` in effect in `conn`.
pub async fn current<C: ConnectionTrait>(conn: &C, kind: Kind) -> Result<Policy, BmsError> {
    let row = approval_policies::Entity::find_by_id(kind.stored().to_owned())
        .one(conn)
        .await?;
    Ok(match row {
        Some(row) => Policy {
            kind,
            // Written by this module only; unreadable levels fall back to
            // the default rather than leaving proposals without a chain.
            levels: serde_json::from_str(&row.levels).unwrap_or_else(|_| default_levels()),
            version: row.version,
            updated_by: row.updated_by_user_id,
            updated_at: row.updated_at,
        },
        None => Policy {
            kind,
            levels: default_levels(),
            version: 1,
            updated_by: String::new(),
            updated_at: None,
        },
    })
}

/// On the wire.
pub fn to_proto(p: &Policy) -> pb::ApprovalPolicy {
    pb::ApprovalPolicy {
        kind: p.kind.to_proto().into(),
        levels: p
            .levels
            .iter()
            .map(|l| pb::ApprovalLevel {
                approver_role: l.role.clone(),
                thresholds: l
                    .thresholds
                    .iter()
                    .map(|(currency_code, amount_minor)| Money {
                        amount_minor: *amount_minor,
                        currency_code: currency_code.clone(),
                    })
                    .collect(),
                description: l.description.clone(),
            })
            .collect(),
        etag: etag(p.version),
        version: p.version,
        updated_by_user_id: p.updated_by.clone(),
        update_time: p.updated_at.map(timestamp),
    }
}

/// The levels of a request, checked: 1 to 5, each of a known role, the
/// first without thresholds, thresholds zero or more, one per currency.
fn levels(input: &[pb::ApprovalLevel]) -> Result<Vec<Level>, BmsError> {
    let mut v = Violations::default();
    if input.is_empty() || input.len() > MAX_LEVELS {
        v.add(
            "approval_policy.levels",
            format!("must hold 1 to {MAX_LEVELS} levels"),
        );
    }
    let mut out = Vec::with_capacity(input.len());
    for (i, level) in input.iter().enumerate() {
        let field = format!("approval_policy.levels[{i}]");
        if ![APPROVER, FINANCE_HEAD].contains(&level.approver_role.as_str()) {
            v.add(
                format!("{field}.approver_role"),
                format!("must be {APPROVER} or {FINANCE_HEAD}"),
            );
        }
        v.optional_text(
            &format!("{field}.description"),
            &level.description,
            MAX_DESCRIPTION,
        );
        if i == 0 && !level.thresholds.is_empty() {
            v.add(
                format!("{field}.thresholds"),
                "the first level always applies: it has no thresholds",
            );
        }
        let mut thresholds: Vec<(String, i64)> = Vec::new();
        for (j, t) in level.thresholds.iter().enumerate() {
            let field = format!("{field}.thresholds[{j}]");
            match currency::amount(&field, t) {
                Ok(m) => {
                    let code = m.currency.as_str().to_owned();
                    if thresholds.iter().any(|(c, _)| *c == code) {
                        v.add(field, format!("{code} appears twice in this level"));
                    } else {
                        thresholds.push((code, m.amount_minor));
                    }
                }
                Err(e) => {
                    v.add(e.field, e.description);
                }
            }
        }
        out.push(Level {
            role: level.approver_role.clone(),
            thresholds,
            description: level.description.trim().to_owned(),
        });
    }
    if v.is_empty() {
        Ok(out)
    } else {
        Err(BmsError::InvalidArgument(v.into_violations()))
    }
}

/// ApprovalPolicyService over the database.
#[derive(Debug, Clone)]
pub struct ApprovalPolicies {
    db: Db,
    clock: Clock,
}

impl ApprovalPolicies {
    /// Over `db`.
    pub fn new(db: Db, clock: Clock) -> ApprovalPolicies {
        ApprovalPolicies { db, clock }
    }

    /// GetApprovalPolicy.
    pub async fn get(
        &self,
        r: &pb::GetApprovalPolicyRequest,
    ) -> Result<pb::GetApprovalPolicyResponse, BmsError> {
        let kind =
            Kind::from_proto(r.kind).ok_or_else(|| BmsError::invalid("kind", "is required"))?;
        Ok(pb::GetApprovalPolicyResponse {
            approval_policy: Some(to_proto(&current(self.db.conn(), kind).await?)),
        })
    }

    /// UpdateApprovalPolicy: the levels replaced if the etag is current.
    pub async fn update(
        &self,
        actor: &Principal,
        r: &pb::UpdateApprovalPolicyRequest,
    ) -> Result<pb::UpdateApprovalPolicyResponse, BmsError> {
        let input = r
            .approval_policy
            .as_ref()
            .ok_or_else(|| BmsError::invalid("approval_policy", "is required"))?;
        let kind = Kind::from_proto(input.kind)
            .ok_or_else(|| BmsError::invalid("approval_policy.kind", "is required"))?;
        if input.etag.is_empty() {
            return Err(BmsError::invalid("approval_policy.etag", "is required"));
        }
        let paths = update_paths(r.update_mask.as_ref(), &["levels"])?;
        debug_assert!(paths.contains("levels"));
        let levels = levels(&input.levels)?;
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        let before = current(&txn, kind).await?;
        check_etag(
            System::Bms,
            "approval_policy.etag",
            &input.etag,
            before.version,
        )?;
        let stored = serde_json::to_string(&levels).unwrap_or_default();
        let row = approval_policies::ActiveModel {
            kind: Set(kind.stored().to_owned()),
            levels: Set(stored),
            version: Set(before.version + 1),
            updated_by_user_id: Set(actor.id.clone()),
            updated_at: Set(Some(now)),
        };
        let changed = if before.updated_at.is_none() && before.version == 1 {
            // The default: the first change inserts the row; a racing first
            // change finds it there and is stale.
            approval_policies::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(approval_policies::Column::Kind)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?
        } else {
            approval_policies::Entity::update_many()
                .set(row)
                .filter(approval_policies::Column::Kind.eq(kind.stored()))
                .filter(approval_policies::Column::Version.eq(before.version))
                .exec(&txn)
                .await?
                .rows_affected
        };
        if changed != 1 {
            return Err(BmsError::EtagMismatch);
        }
        let after = current(&txn, kind).await?;
        txn.commit().await?;
        tracing::info!(
            kind = kind.stored(),
            version = after.version,
            "approval policy changed"
        );
        Ok(pb::UpdateApprovalPolicyResponse {
            approval_policy: Some(to_proto(&after)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(role: &str, thresholds: &[(&str, i64)]) -> pb::ApprovalLevel {
        pb::ApprovalLevel {
            approver_role: role.into(),
            thresholds: thresholds
                .iter()
                .map(|(c, a)| Money {
                    amount_minor: *a,
                    currency_code: (*c).into(),
                })
                .collect(),
            description: String::new(),
        }
    }

    fn fields(r: Result<Vec<Level>, BmsError>) -> Vec<String> {
        match r {
            Err(BmsError::InvalidArgument(v)) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn levels_are_checked_field_by_field() {
        assert!(
            levels(&[
                level(APPROVER, &[]),
                level(FINANCE_HEAD, &[("PHP", 1_000_000)])
            ])
            .is_ok()
        );
        assert_eq!(fields(levels(&[])), ["approval_policy.levels"]);
        assert_eq!(
            fields(levels(&[level("bms:viewer", &[])])),
            ["approval_policy.levels[0].approver_role"]
        );
        assert_eq!(
            fields(levels(&[level(APPROVER, &[("USD", 1)])])),
            ["approval_policy.levels[0].thresholds"]
        );
        assert_eq!(
            fields(levels(&[
                level(APPROVER, &[]),
                level(FINANCE_HEAD, &[("USD", 1), ("USD", 2), ("XYZ", 1)]),
                level(FINANCE_HEAD, &[("USD", -1)]),
            ])),
            [
                "approval_policy.levels[1].thresholds[1]",
                "approval_policy.levels[1].thresholds[2].currency_code",
                "approval_policy.levels[2].thresholds[0].amount_minor",
            ]
        );
        let six: Vec<_> = (0..6).map(|_| level(APPROVER, &[])).collect();
        assert_eq!(fields(levels(&six)), ["approval_policy.levels"]);
    }
}
