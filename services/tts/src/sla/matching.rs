//! Which SLA policy a ticket follows: the most specific active policy of
//! its priority — one for its help topic, else one for its workflow, else
//! one for its department, else the priority's own. The unique index over
//! active scopes (migration m0009) leaves at most one per rank.

use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _, sea_query::Condition,
};

use crate::{
    TtsError,
    entity::{sla_policies, tickets},
};

/// How specific a policy is: the higher, the more.
fn rank(p: &sla_policies::Model) -> u8 {
    if !p.help_topic_id.is_empty() {
        3
    } else if !p.workflow_id.is_empty() {
        2
    } else if !p.department_code.is_empty() {
        1
    } else {
        0
    }
}

/// The policy `ticket` follows; `None` when no active policy applies.
pub async fn policy_for<C: ConnectionTrait>(
    conn: &C,
    ticket: &tickets::Model,
) -> Result<Option<sla_policies::Model>, TtsError> {
    use sla_policies::Column as P;
    let mut scopes = Condition::any().add(
        Condition::all()
            .add(P::HelpTopicId.eq(""))
            .add(P::WorkflowId.eq(""))
            .add(P::DepartmentCode.eq("")),
    );
    for (column, value) in [
        (P::HelpTopicId, &ticket.help_topic_id),
        (P::WorkflowId, &ticket.workflow_id),
        (P::DepartmentCode, &ticket.department_code),
    ] {
        if !value.is_empty() {
            scopes = scopes.add(column.eq(value.clone()));
        }
    }
    let candidates = sla_policies::Entity::find()
        .filter(P::Active.eq(true))
        .filter(P::Priority.eq(ticket.priority.clone()))
        .filter(scopes)
        .all(conn)
        .await?;
    Ok(candidates.into_iter().max_by_key(rank))
}
