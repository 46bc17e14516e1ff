//! SearchTickets: the tickets whose subject and description together, or
//! one of whose comments, hold every word of a query, most recently updated
//! first, in keyset pages. PostgreSQL matches full-text expressions over
//! GIN indexes; SQLite (`map dev`) matches its FTS5 tables (migration
//! m0005). Both see the same words — the query is split here into runs of
//! letters and digits, lower-cased, so neither engine's query syntax is
//! ever exposed — and order the same way, so they return the same tickets.

use chrono::{DateTime, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::{FieldViolation, paging::PageSize};
use sea_orm::{DatabaseBackend, EntityTrait as _, Statement, Value};
use serde::Serialize;

use super::{Tickets, model};
use crate::{TtsError, entity::tickets};

/// Most words a query may hold.
pub const MAX_WORDS: usize = 8;
/// Longest query.
pub const MAX_QUERY: usize = 200;

/// The search a page token binds.
#[derive(Debug, Serialize)]
struct Search<'a> {
    words: &'a [String],
    statuses: &'a [&'static str],
}

/// The words of `query`: runs of letters and digits, lower-cased, each once.
pub fn words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = w.to_lowercase();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

impl Tickets {
    /// SearchTickets.
    pub async fn search(
        &self,
        r: &pb::SearchTicketsRequest,
    ) -> Result<(Vec<pb::Ticket>, String), TtsError> {
        let size = PageSize::parse(r.page_size)?;
        let words = words(&r.query);
        let mut bad = Vec::new();
        if words.is_empty() || words.len() > MAX_WORDS || r.query.chars().count() > MAX_QUERY {
            bad.push(FieldViolation {
                field: "query".into(),
                description: format!(
                    "needs 1 to {MAX_WORDS} words (letters and digits) in at most {MAX_QUERY} \
                     characters"
                ),
            });
        }
        let (statuses, wrong) = model::stored_statuses(&r.statuses);
        bad.extend(wrong);
        if !bad.is_empty() {
            return Err(TtsError::InvalidArgument(bad));
        }
        let search = Search {
            words: &words,
            statuses: &statuses,
        };
        let after: Option<(DateTime<Utc>, String)> =
            self.pager.open("ticket-search", &search, &r.page_token)?;
        let statement = statement(self.db.backend(), &words, &statuses, after, size.fetch());
        let rows = tickets::Entity::find()
            .from_raw_sql(statement)
            .all(self.db.conn())
            .await?;
        let (rows, token) = self.pager.page("ticket-search", &search, rows, size, |t| {
            (t.updated_at, t.id.clone())
        });
        Ok((
            rows.iter().map(|t| model::to_proto(t, None)).collect(),
            token,
        ))
    }
}

/// The query of one page on `backend`.
fn statement(
    backend: DatabaseBackend,
    words: &[String],
    statuses: &[&'static str],
    after: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Statement {
    let postgres = backend == DatabaseBackend::Postgres;
    let mut values: Vec<Value> = Vec::new();
    let param = |v: Value, values: &mut Vec<Value>| {
        values.push(v);
        if postgres {
            format!("${}", values.len())
        } else {
            "?".to_owned()
        }
    };
    let matching = if postgres {
        // Words are letters and digits only: `&` between them is the whole
        // tsquery syntax used.
        let q = param(words.join(" & ").into(), &mut values);
        // The indexed expressions of migration m0005, exactly.
        format!(
            "SELECT id FROM tickets WHERE to_tsvector('simple', regexp_replace(\
             subject || ' ' || description, '[^[:alnum:]]+', ' ', 'g')) @@ to_tsquery('simple', {q}) \
             UNION SELECT ticket_id FROM comments WHERE to_tsvector('simple', regexp_replace(\
             body, '[^[:alnum:]]+', ' ', 'g')) @@ to_tsquery('simple', {q})"
        )
    } else {
        // Each word quoted: FTS5's operators never apply.
        let phrase = words
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" ");
        let a = param(phrase.clone().into(), &mut values);
        let b = param(phrase.into(), &mut values);
        format!(
            "SELECT ticket_id FROM tickets_fts WHERE tickets_fts MATCH {a} \
             UNION SELECT ticket_id FROM comments_fts WHERE comments_fts MATCH {b}"
        )
    };
    let mut sql = format!("SELECT * FROM tickets WHERE id IN ({matching})");
    if !statuses.is_empty() {
        let list = statuses
            .iter()
            .map(|s| param((*s).into(), &mut values))
            .collect::<Vec<_>>()
            .join(", ");
        sql.push_str(&format!(" AND status IN ({list})"));
    }
    if let Some((at, id)) = after {
        let (a1, i) = (param(at.into(), &mut values), param(id.into(), &mut values));
        let a2 = param(at.into(), &mut values);
        sql.push_str(&format!(
            " AND (updated_at < {a1} OR (updated_at = {a2} AND id < {i}))"
        ));
    }
    sql.push_str(&format!(" ORDER BY updated_at DESC, id DESC LIMIT {limit}"));
    Statement::from_sql_and_values(backend, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits_lower_cased_once() {
        assert_eq!(
            words("Laptop  won't boot: T14, laptop!"),
            ["laptop", "won", "t", "boot", "t14"]
        );
        assert!(words(" -- \"\" * ").is_empty());
        assert_eq!(words("Ünïcode ÉCRAN"), ["ünïcode", "écran"]);
    }
}
