//! What an expense of an approved spending request takes from the
//! request's commitment on its line — up to the expense's amount, moved
//! from committed to spent — and what voiding it gives back while the
//! request is still approved. Called with the budget already taken, so a
//! commitment is never taken twice by racing expenses.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _,
    sea_query::{Expr, ExprTrait as _},
};

use super::{Kind, find, status};
use crate::{
    BmsError,
    entity::{expenses, proposal_lines, proposals},
};

/// The commitment `proposal_id` holds on `budget_line_id` and how much of
/// `amount` it covers: checked, not yet taken.
#[derive(Debug, Clone)]
pub struct Commitment {
    /// The proposal.
    pub proposal_id: String,
    /// Its line's position.
    pub position: i32,
    /// How much of the expense the commitment covers.
    pub covered: i64,
}

/// The commitment an expense of `amount` on `budget_line_id` may take
/// from `proposal_id`: NOT_FOUND when there is no such proposal,
/// FAILED_PRECONDITION NOT_SPENDING_REQUEST for a budget increase,
/// PROPOSAL_NOT_APPROVED unless approved, PROPOSAL_LINE_MISMATCH when it
/// has no line on that budget line.
pub async fn commitment(
    txn: &DatabaseTransaction,
    proposal_id: &str,
    budget_line_id: &str,
    amount: i64,
) -> Result<Commitment, BmsError> {
    let p = find(txn, proposal_id).await?;
    if Kind::of(&p.kind) != Kind::SpendingRequest {
        return Err(BmsError::precondition(
            "NOT_SPENDING_REQUEST",
            "a budget increase commits nothing to spend",
        ));
    }
    if p.status != status::APPROVED {
        return Err(BmsError::precondition(
            "PROPOSAL_NOT_APPROVED",
            format!("the proposal is {}, not approved", p.status),
        ));
    }
    let line = proposal_lines::Entity::find()
        .filter(proposal_lines::Column::ProposalId.eq(proposal_id))
        .filter(proposal_lines::Column::BudgetLineId.eq(budget_line_id))
        .one(txn)
        .await?
        .ok_or_else(|| {
            BmsError::precondition(
                "PROPOSAL_LINE_MISMATCH",
                "the proposal has no line on this budget line",
            )
        })?;
    Ok(Commitment {
        proposal_id: proposal_id.to_owned(),
        position: line.position,
        covered: Ord::max(Ord::min(amount, line.committed_minor), 0),
    })
}

/// Moves `covered` of the commitment from committed to spent (negative:
/// back), on the proposal's line and its totals; the proposal's version
/// grows by one.
pub async fn take(
    txn: &DatabaseTransaction,
    proposal_id: &str,
    position: i32,
    covered: i64,
    now: DateTime<Utc>,
) -> Result<(), BmsError> {
    if covered == 0 {
        return Ok(());
    }
    use proposal_lines::Column as L;
    proposal_lines::Entity::update_many()
        .col_expr(L::CommittedMinor, Expr::col(L::CommittedMinor).sub(covered))
        .col_expr(L::SpentMinor, Expr::col(L::SpentMinor).add(covered))
        .filter(L::ProposalId.eq(proposal_id))
        .filter(L::Position.eq(position))
        .exec(txn)
        .await?;
    use proposals::Column as P;
    proposals::Entity::update_many()
        .col_expr(
            P::CommittedTotalMinor,
            Expr::col(P::CommittedTotalMinor).sub(covered),
        )
        .col_expr(
            P::SpentTotalMinor,
            Expr::col(P::SpentTotalMinor).add(covered),
        )
        .col_expr(P::Version, Expr::col(P::Version).add(1))
        .col_expr(P::UpdatedAt, Expr::value(now))
        .filter(P::Id.eq(proposal_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Gives back to its spending request what the voided `expense` took of
/// the request's commitment, while the request is still approved (after
/// closing it stays released); returns how much went back.
pub async fn give_back(
    txn: &DatabaseTransaction,
    expense: &expenses::Model,
    now: DateTime<Utc>,
) -> Result<i64, BmsError> {
    if expense.proposal_id.is_empty() || expense.released_commitment_minor == 0 {
        return Ok(0);
    }
    let p = find(txn, &expense.proposal_id).await?;
    if p.status != status::APPROVED {
        return Ok(0);
    }
    let Some(line) = proposal_lines::Entity::find()
        .filter(proposal_lines::Column::ProposalId.eq(expense.proposal_id.as_str()))
        .filter(proposal_lines::Column::BudgetLineId.eq(expense.budget_line_id.as_str()))
        .one(txn)
        .await?
    else {
        return Ok(0);
    };
    let back = expense.released_commitment_minor;
    take(txn, &expense.proposal_id, line.position, -back, now).await?;
    Ok(back)
}
