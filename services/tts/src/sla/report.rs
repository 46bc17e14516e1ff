//! SLA reports (GetSlaReport, ExportSlaReport): the tickets created in a
//! period, counted by their resolution clock — met, breached, still open,
//! or without a policy — per priority, workflow or team, with the mean and
//! 90th percentile of business time to first response and to resolution.
//!
//! How a ticket counts, at the report's `now`:
//! - *without policy*: its `sla_policy_id` is empty or it has no resolution
//!   clock. A ticket whose policy stopped applying keeps its clocks
//!   suspended (they never stop again), so they would read as open for
//!   ever; it counts here too, and gives no durations;
//! - otherwise by its resolution clock's [`State`], the one GetTicket shows:
//!   *breached* once it recorded a breach or its business time at `now`
//!   reached the target (reaching it exactly is a breach, as the timers
//!   fire it); else *met* once stopped; else *open* (counting, paused or
//!   suspended, not past due).
//!
//! Durations are business time as the clocks counted it on their
//! calendars: to first response, the first-response clock's time once a
//! response stopped it (`first_response_at` set; a ticket closed unanswered
//! has none); to resolution, the resolution clock's time once stopped with
//! `resolved_at` set (cancelled or closed unresolved, or reopened and
//! counting again: none). Means are whole milliseconds rounded down; p90 is
//! the nearest rank (the ⌈0.9·n⌉-th smallest), both over the tickets that
//! have the value, unset when none has.
//!
//! Scale: tickets are read in keyset pages of [`PAGE`] in primary-key
//! order, not `(created_at, id)`: no index starts with `created_at`, so
//! every page of that order would scan and sort the table, while a page
//! after an id starts at its cursor in the primary key (UUIDv7, so it
//! follows creation closely). Only the columns the report needs are read,
//! with the pages' two clocks per ticket, all in one read transaction
//! (REPEATABLE READ on PostgreSQL; a deferred SQLite transaction reads one
//! WAL snapshot), so the pages agree with each other. Counts take constant
//! memory; the durations are kept, 8 bytes per ticket and value (16 MB for
//! a million tickets, twice while the total is made), because the p90 is
//! exact — a streaming sketch would make it approximate.
//!
//! The CSV export ([`export`]) is written from the report itself, so it sums
//! exactly to it.

mod export;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::{ApiError, FieldViolation, db::Db, wire::time::from_timestamp};
use sea_orm::{
    AccessMode, ColumnTrait as _, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr,
    EntityTrait as _, FromQueryResult, IsolationLevel, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, TransactionOptions, TransactionTrait as _,
};

use super::{
    clock::State,
    clocks::{self, Calendars, FIRST_RESPONSE, RESOLUTION},
};
use crate::{
    TtsError,
    entity::{ticket_sla_clocks, tickets},
    tickets::model::priority_rank,
};

/// Tickets read per page.
pub const PAGE: u64 = 1_000;

/// The longest period a report covers.
const MAX_DAYS: i64 = 366;

/// The group of the total row.
const TOTAL: &str = "total";

/// The report of `r` at `now`.
pub async fn report(
    db: &Db,
    r: &pb::GetSlaReportRequest,
    now: DateTime<Utc>,
) -> Result<pb::GetSlaReportResponse, TtsError> {
    let period = Period::parse(r.start_time.as_ref(), r.end_time.as_ref(), r.group_by)?;
    let txn = begin_read(db).await?;
    let groups = tally(&txn, &period, now).await?;
    txn.commit().await?;
    Ok(assemble(period.grouping, groups))
}

/// The report of `r` at `now` as CSV (see [`export`]).
pub async fn export_csv(
    db: &Db,
    r: &pb::ExportSlaReportRequest,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, TtsError> {
    let report = report(
        db,
        &pb::GetSlaReportRequest {
            start_time: r.start_time,
            end_time: r.end_time,
            group_by: r.group_by,
        },
        now,
    )
    .await?;
    export::write(&report).map_err(|e| TtsError::from(ApiError::Internal(e.into())))
}

/// How tickets are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Priority,
    Workflow,
    Team,
}

impl Grouping {
    /// The group of `t`.
    fn of(self, t: &Ticket) -> &str {
        match self {
            Grouping::Priority => &t.priority,
            Grouping::Workflow => &t.workflow_id,
            Grouping::Team => &t.department_code,
        }
    }
}

/// A checked request: tickets created in `[start, end)`, grouped.
#[derive(Debug)]
struct Period {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    grouping: Grouping,
}

impl Period {
    /// The period of a request; every bad field at once.
    fn parse(
        start: Option<&prost_types::Timestamp>,
        end: Option<&prost_types::Timestamp>,
        group_by: i32,
    ) -> Result<Period, TtsError> {
        let mut bad = Vec::new();
        let mut time = |field: &str, t: Option<&prost_types::Timestamp>| {
            let problem = match t.map(|t| from_timestamp(field, t).ok()) {
                Some(Some(at)) => return Some(at),
                Some(None) => "is not a valid timestamp",
                None => "is required",
            };
            bad.push(violation(field, problem));
            None
        };
        let start = time("start_time", start);
        let end = time("end_time", end);
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                bad.push(violation("end_time", "must be after start_time"));
            } else if end - start > Duration::days(MAX_DAYS) {
                bad.push(violation(
                    "end_time",
                    format!("must be at most {MAX_DAYS} days after start_time"),
                ));
            }
        }
        let grouping = match pb::SlaReportGrouping::try_from(group_by) {
            Ok(pb::SlaReportGrouping::Priority) => Some(Grouping::Priority),
            Ok(pb::SlaReportGrouping::Workflow) => Some(Grouping::Workflow),
            Ok(pb::SlaReportGrouping::Team) => Some(Grouping::Team),
            Ok(pb::SlaReportGrouping::Unspecified) => {
                bad.push(violation("group_by", "is required"));
                None
            }
            Err(_) => {
                bad.push(violation("group_by", "is not a known grouping"));
                None
            }
        };
        match (start, end, grouping) {
            (Some(start), Some(end), Some(grouping)) if bad.is_empty() => Ok(Period {
                start,
                end,
                grouping,
            }),
            _ => Err(TtsError::InvalidArgument(bad)),
        }
    }
}

fn violation(field: &str, description: impl Into<String>) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        description: description.into(),
    }
}

/// A read transaction whose reads agree with each other.
async fn begin_read(db: &Db) -> Result<DatabaseTransaction, DbErr> {
    let postgres = db.backend() == DatabaseBackend::Postgres;
    db.conn()
        .begin_with_options(TransactionOptions {
            isolation_level: postgres.then_some(IsolationLevel::RepeatableRead),
            access_mode: postgres.then_some(AccessMode::ReadOnly),
            sqlite_transaction_mode: None,
        })
        .await
}

/// The columns of a ticket the report reads.
#[derive(Debug, FromQueryResult)]
struct Ticket {
    id: String,
    priority: String,
    workflow_id: String,
    department_code: String,
    sla_policy_id: String,
    first_response_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
}

/// How one ticket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    Met,
    Breached,
    Open,
    WithoutPolicy,
}

/// One ticket's part of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outcome {
    count: Count,
    /// Business milliseconds to the first response.
    first_response: Option<i64>,
    /// Business milliseconds to resolution.
    resolution: Option<i64>,
}

/// A ticket's first-response and resolution clocks.
#[derive(Default)]
struct Pair {
    first_response: Option<ticket_sla_clocks::Model>,
    resolution: Option<ticket_sla_clocks::Model>,
}

/// Every group of the period's tickets, tallied page by page.
async fn tally<C: ConnectionTrait>(
    conn: &C,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, Tally>, TtsError> {
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    let mut calendars = Calendars::default();
    let mut after: Option<String> = None;
    loop {
        let page = read_page(conn, period, after.as_deref()).await?;
        let mut pairs = read_clocks(conn, &page).await?;
        for t in &page {
            let pair = pairs.remove(&t.id).unwrap_or_default();
            let outcome = judge(conn, t, pair, &mut calendars, now).await?;
            let group = period.grouping.of(t);
            match groups.get_mut(group) {
                Some(tally) => tally.add(outcome),
                None => groups.entry(group.to_owned()).or_default().add(outcome),
            }
        }
        match page.last() {
            Some(last) if page.len() as u64 == PAGE => after = Some(last.id.clone()),
            _ => return Ok(groups),
        }
    }
}

/// The next page of the period's tickets after id `after`.
async fn read_page<C: ConnectionTrait>(
    conn: &C,
    period: &Period,
    after: Option<&str>,
) -> Result<Vec<Ticket>, TtsError> {
    use tickets::Column as T;
    let mut query = tickets::Entity::find()
        .select_only()
        .columns([
            T::Id,
            T::Priority,
            T::WorkflowId,
            T::DepartmentCode,
            T::SlaPolicyId,
            T::FirstResponseAt,
            T::ResolvedAt,
        ])
        .filter(T::CreatedAt.gte(period.start))
        .filter(T::CreatedAt.lt(period.end));
    if let Some(after) = after {
        query = query.filter(T::Id.gt(after));
    }
    Ok(query
        .order_by_asc(T::Id)
        .limit(PAGE)
        .into_model::<Ticket>()
        .all(conn)
        .await?)
}

/// The first-response and resolution clocks of `page`, by ticket.
async fn read_clocks<C: ConnectionTrait>(
    conn: &C,
    page: &[Ticket],
) -> Result<HashMap<String, Pair>, TtsError> {
    use ticket_sla_clocks::Column as K;
    if page.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = ticket_sla_clocks::Entity::find()
        .filter(K::TicketId.is_in(page.iter().map(|t| t.id.clone())))
        .filter(K::Clock.is_in([FIRST_RESPONSE, RESOLUTION]))
        .all(conn)
        .await?;
    let mut pairs: HashMap<String, Pair> = HashMap::with_capacity(page.len());
    for row in rows {
        let pair = pairs.entry(row.ticket_id.clone()).or_default();
        if row.clock == RESOLUTION {
            pair.resolution = Some(row);
        } else {
            pair.first_response = Some(row);
        }
    }
    Ok(pairs)
}

/// How `t` counts at `now`, with its clocks.
async fn judge<C: ConnectionTrait>(
    conn: &C,
    t: &Ticket,
    pair: Pair,
    calendars: &mut Calendars,
    now: DateTime<Utc>,
) -> Result<Outcome, TtsError> {
    let resolution = match pair.resolution {
        Some(row) if !t.sla_policy_id.is_empty() => row,
        _ => {
            return Ok(Outcome {
                count: Count::WithoutPolicy,
                first_response: None,
                resolution: None,
            });
        }
    };
    let clock = clocks::from_row(&resolution);
    let calendar = calendars.of_policy(conn, &resolution.policy_id).await?;
    let count = match clock.state(calendar, now) {
        State::Breached => Count::Breached,
        State::Met => Count::Met,
        State::Running | State::Paused | State::Warned => Count::Open,
    };
    Ok(Outcome {
        count,
        first_response: pair
            .first_response
            .filter(|c| c.stopped_at.is_some() && t.first_response_at.is_some())
            .map(|c| c.elapsed_ms),
        resolution: (clock.stopped_at.is_some() && t.resolved_at.is_some())
            .then_some(resolution.elapsed_ms),
    })
}

/// One group's counts and durations.
#[derive(Debug, Default)]
struct Tally {
    met: i64,
    breached: i64,
    open: i64,
    without_policy: i64,
    /// Business milliseconds to first response, in no order.
    first_response: Vec<i64>,
    /// Business milliseconds to resolution, in no order.
    resolution: Vec<i64>,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        match o.count {
            Count::Met => self.met += 1,
            Count::Breached => self.breached += 1,
            Count::Open => self.open += 1,
            Count::WithoutPolicy => self.without_policy += 1,
        }
        self.first_response.extend(o.first_response);
        self.resolution.extend(o.resolution);
    }

    /// The row of `group`.
    fn row(&mut self, group: String) -> pb::SlaReportRow {
        pb::SlaReportRow {
            group,
            met: self.met,
            breached: self.breached,
            open: self.open,
            without_policy: self.without_policy,
            mean_first_response: mean(&self.first_response).map(wire),
            p90_first_response: p90(&mut self.first_response).map(wire),
            mean_resolution: mean(&self.resolution).map(wire),
            p90_resolution: p90(&mut self.resolution).map(wire),
        }
    }

    /// Takes in `other`'s counts and durations.
    fn absorb(&mut self, mut other: Tally) {
        self.met += other.met;
        self.breached += other.breached;
        self.open += other.open;
        self.without_policy += other.without_policy;
        self.first_response.append(&mut other.first_response);
        self.resolution.append(&mut other.resolution);
    }
}

/// The rows in the contract's order, and the total: its counts the sums of
/// the rows', its durations over every ticket.
fn assemble(grouping: Grouping, groups: BTreeMap<String, Tally>) -> pb::GetSlaReportResponse {
    let mut groups: Vec<(String, Tally)> = groups.into_iter().collect();
    if grouping == Grouping::Priority {
        // Most urgent first; a word no priority has (0) after the known ones.
        groups.sort_by_key(|(group, _)| std::cmp::Reverse(priority_rank(group)));
    }
    let mut total = Tally::default();
    let rows = groups
        .into_iter()
        .map(|(group, mut tally)| {
            let row = tally.row(group);
            total.absorb(tally);
            row
        })
        .collect();
    pb::GetSlaReportResponse {
        rows,
        total: Some(total.row(TOTAL.to_owned())),
    }
}

/// The mean, whole milliseconds rounded down; `None` for no value.
fn mean(values: &[i64]) -> Option<i64> {
    let n = i128::try_from(values.len()).ok().filter(|n| *n > 0)?;
    let sum: i128 = values.iter().map(|v| i128::from(*v)).sum();
    i64::try_from(sum.div_euclid(n)).ok()
}

/// The 90th percentile by nearest rank: the ⌈0.9·n⌉-th smallest value
/// (reorders `values`); `None` for no value.
fn p90(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = (values.len() * 9).div_ceil(10);
    let (_, nth, _) = values.select_nth_unstable(rank - 1);
    Some(*nth)
}

/// Milliseconds on the wire.
fn wire(ms: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests;
