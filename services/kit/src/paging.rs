//! Paging of every List RPC (AIP-158): page-size bounds, and opaque page
//! tokens that carry a typed keyset cursor (the sort key of the page's last
//! row, any number of columns) authenticated with HMAC-SHA256 under the
//! configured `MAP_PAGE_TOKEN_KEY`. Every replica configured with the same
//! key accepts every replica's tokens; a token never issued, tampered with,
//! or reused with other filters is INVALID_ARGUMENT naming `page_token`.
//! [`Sort`] keeps a listing's `ORDER BY` and its keyset condition together,
//! for keys running either way (`priority desc`, then number ascending) and
//! for people-facing numbers ordered by value ([`Sort::number`]).
//!
//! ```
//! use map_kit::paging::{PageSize, Pager};
//! use serde::{Deserialize, Serialize};
//!
//! /// Tickets are listed by (priority, number).
//! #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! struct After { priority: i32, number: i64 }
//!
//! let pager = Pager::new(&[7; 32]);
//! let filters = ("open", "IT");
//! let size = PageSize::parse(2).unwrap();
//! // The query asks for one row more than the page: it tells whether
//! // another page follows.
//! let rows = vec![(1, 10), (1, 11), (2, 3)];
//! let (page, token) = pager.page("tickets", &filters, rows, size, |r| After {
//!     priority: r.0,
//!     number: r.1,
//! });
//! assert_eq!(page, [(1, 10), (1, 11)]);
//! let after: Option<After> = pager.open("tickets", &filters, &token).unwrap();
//! assert_eq!(after, Some(After { priority: 1, number: 11 }));
//! assert!(pager.open::<After>("tickets", &("closed", "IT"), &token).is_err());
//! ```

use std::{fmt, sync::Arc};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::hmac;
use sea_orm::{
    ColumnTrait, Condition, QueryOrder, Value,
    sea_query::{Expr, Func, Order},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::FieldViolation;

use crate::ApiError;

/// The page size when a request says 0.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page; larger requests are served this many (AIP-158).
pub const MAX_PAGE_SIZE: u64 = 500;
/// The shortest accepted `MAP_PAGE_TOKEN_KEY`, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// A validated `page_size`: 0 is the default, larger than the max is the max.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u64);

impl PageSize {
    /// INVALID_ARGUMENT naming `page_size` when negative.
    pub fn parse(size: i32) -> Result<PageSize, ApiError> {
        match u64::try_from(size) {
            Err(_) => Err(ApiError::invalid("page_size", "must not be negative")),
            Ok(0) => Ok(PageSize(DEFAULT_PAGE_SIZE)),
            Ok(n) => Ok(PageSize(n.min(MAX_PAGE_SIZE))),
        }
    }

    /// Rows in a page.
    pub fn get(self) -> u64 {
        self.0
    }

    /// Rows to fetch: one more than a page, to know whether another follows.
    pub fn fetch(self) -> u64 {
        self.0 + 1
    }
}

/// Mints and opens page tokens. Cloning is cheap.
#[derive(Clone)]
pub struct Pager {
    key: Arc<hmac::Key>,
}

impl fmt::Debug for Pager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pager([REDACTED])")
    }
}

impl Pager {
    /// A pager keyed with `key` (the decoded `MAP_PAGE_TOKEN_KEY`).
    pub fn new(key: &[u8]) -> Pager {
        Pager {
            key: Arc::new(hmac::Key::new(hmac::HMAC_SHA256, key)),
        }
    }

    /// A pager with a fresh random key: `map dev` and tests, where one
    /// process mints and opens every token.
    pub fn random() -> Pager {
        use rand::RngCore as _;
        let mut key = [0u8; MIN_KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        Pager::new(&key)
    }

    /// From `MAP_PAGE_TOKEN_KEY`'s value: base64 (standard or URL-safe,
    /// padded or not) of at least 32 random bytes, e.g. the output of
    /// `openssl rand -base64 32`. The error never repeats the value.
    pub fn from_base64(value: &str) -> Result<Pager, String> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let value = value.trim();
        let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, B64]
            .iter()
            .find_map(|engine| engine.decode(value).ok())
            .ok_or("is not base64 (generate one with `openssl rand -base64 32`)")?;
        if decoded.len() < MIN_KEY_BYTES {
            return Err(format!(
                "must decode to at least {MIN_KEY_BYTES} bytes, not {} (generate one with `openssl rand -base64 32`)",
                decoded.len()
            ));
        }
        Ok(Pager::new(&decoded))
    }

    /// A token continuing a listing after `cursor`. `listing` names the List
    /// (e.g. `users`) and `filters` its request's filters and order: a token
    /// opens only for the same listing with the same filters.
    pub fn issue<C: Serialize>(
        &self,
        listing: &str,
        filters: &impl Serialize,
        cursor: &C,
    ) -> String {
        let cursor = to_json(cursor);
        let tag = hmac::sign(&self.key, &signed(listing, &to_json(filters), &cursor));
        format!("{}.{}", B64.encode(&cursor), B64.encode(tag.as_ref()))
    }

    /// The cursor a token carries; `None` for the empty token (the first
    /// page); INVALID_ARGUMENT naming `page_token` for anything this key did
    /// not issue for this listing and these filters.
    pub fn open<C: DeserializeOwned>(
        &self,
        listing: &str,
        filters: &impl Serialize,
        token: &str,
    ) -> Result<Option<C>, ApiError> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || ApiError::invalid("page_token", "is not a token issued for this listing");
        let (cursor, tag) = token.split_once('.').ok_or_else(bad)?;
        let cursor = B64.decode(cursor).map_err(|_| bad())?;
        let tag = B64.decode(tag).map_err(|_| bad())?;
        hmac::verify(
            &self.key,
            &signed(listing, &to_json(filters), &cursor),
            &tag,
        )
        .map_err(|_| bad())?;
        serde_json::from_slice(&cursor).map(Some).map_err(|_| bad())
    }

    /// Cuts `rows` (fetched with [`PageSize::fetch`]) to a page and mints
    /// the next page's token from its last row; the token is empty on the
    /// last page.
    pub fn page<T, C: Serialize>(
        &self,
        listing: &str,
        filters: &impl Serialize,
        mut rows: Vec<T>,
        size: PageSize,
        cursor: impl Fn(&T) -> C,
    ) -> (Vec<T>, String) {
        let page = usize::try_from(size.get()).unwrap_or(usize::MAX);
        if rows.len() <= page {
            return (rows, String::new());
        }
        rows.truncate(page);
        let token = rows
            .last()
            .map(|last| self.issue(listing, filters, &cursor(last)))
            .unwrap_or_default();
        (rows, token)
    }
}

/// What the tag covers: a version, the listing, its filters, the cursor.
fn signed(listing: &str, filters: &[u8], cursor: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(24 + listing.len() + filters.len() + cursor.len());
    message.extend_from_slice(b"map page token v1\0");
    message.extend_from_slice(listing.as_bytes());
    message.push(0);
    message.extend_from_slice(filters);
    message.push(0);
    message.extend_from_slice(cursor);
    message
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    // Serializing plain data (numbers, strings, tuples, derived structs)
    // cannot fail; an empty vector would only make tokens fail to open.
    serde_json::to_vec(value).unwrap_or_default()
}

/// The keyset condition "the row's sort key comes after `last`", for a sort
/// on `columns` ascending: `(a, b, c) > (x, y, z)` written as
/// `a > x OR (a = x AND (b > y OR (b = y AND c > z)))`, which both
/// PostgreSQL and SQLite answer from an index on `(a, b, c)`.
pub fn after<C: ColumnTrait>(last: Vec<(C, Value)>) -> Condition {
    let mut keys = last.into_iter().rev();
    let Some((column, value)) = keys.next() else {
        return Condition::all();
    };
    let mut condition = Condition::all().add(column.gt(value));
    for (column, value) in keys {
        condition = Condition::any()
            .add(column.gt(value.clone()))
            .add(Condition::all().add(column.eq(value)).add(condition));
    }
    condition
}

/// Which way one key of a [`Sort`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Direction {
    /// Smallest first.
    Ascending,
    /// Largest first.
    Descending,
}

impl Direction {
    /// The direction of a listing that orders by one field, `field`
    /// ascending by default (AIP-132: empty, `field`, `field asc`) or
    /// `field desc`; a violation naming `order_by` for anything else.
    pub fn of_one_field(order_by: &str, field: &str) -> Result<Direction, FieldViolation> {
        match order_by.split_whitespace().collect::<Vec<_>>().as_slice() {
            [] => Ok(Direction::Ascending),
            [f] | [f, "asc"] if *f == field => Ok(Direction::Ascending),
            [f, "desc"] if *f == field => Ok(Direction::Descending),
            _ => Err(FieldViolation {
                field: "order_by".into(),
                description: format!(
                    "supported: \"{field}\" (the default: oldest first), \"{field} desc\""
                ),
            }),
        }
    }
}

/// A keyset sort over any expressions (columns, a `CASE` rank, a length),
/// each ascending or descending: the `ORDER BY` of a listing and the
/// condition "comes after the page's last row", kept together so they can
/// never disagree. The keys must end with a unique one (an id, a number),
/// or rows that tie on every key could be skipped between pages.
///
/// ```
/// use map_kit::paging::{Direction, Sort};
/// use sea_orm::sea_query::Expr;
///
/// // Newest first, ties broken by id.
/// let sort = Sort::default()
///     .key(Expr::col("created_at"), Direction::Descending)
///     .key(Expr::col("id"), Direction::Descending);
/// let after = sort.after(vec![7.into(), "b".into()]);
/// # let _ = after;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Sort {
    keys: Vec<(Expr, Direction)>,
}

impl Sort {
    /// The sort with `expr` as its next (less significant) key.
    #[must_use]
    pub fn key(mut self, expr: impl Into<Expr>, direction: Direction) -> Sort {
        self.keys.push((expr.into(), direction));
        self
    }

    /// The sort with a people-facing number stored as text in `column`
    /// (`TT-000123`, see [`crate::counters`]) as its next keys, in the order
    /// of the numbers' values: by length, then by text. The digits are
    /// zero-padded to six, so text alone would put `TT-1000000` before
    /// `TT-999999`; of two numbers with one prefix the longer is the larger.
    /// The page's last row gives the keys' values with [`number_values`].
    #[must_use]
    pub fn number<C: ColumnTrait>(self, column: C, direction: Direction) -> Sort {
        self.key(Func::char_length(column.into_expr()), direction)
            .key(column.into_expr(), direction)
    }

    /// `query` ordered by the keys.
    pub fn order<Q: QueryOrder>(&self, mut query: Q) -> Q {
        for (expr, direction) in &self.keys {
            let order = match direction {
                Direction::Ascending => Order::Asc,
                Direction::Descending => Order::Desc,
            };
            query = query.order_by(expr.clone(), order);
        }
        query
    }

    /// The condition "the row comes after the one whose keys are `last`"
    /// (one value per key, in key order): `k1 > v1 OR (k1 = v1 AND (k2 > v2
    /// OR …))`, with `<` for a descending key, and `k1 >= v1` beside it. Extra values are ignored; a
    /// missing one leaves its key out.
    pub fn after(&self, last: Vec<Value>) -> Condition {
        // Here only: its `min`/`max` would shadow `Ord`'s in the module.
        use sea_orm::sea_query::ExprTrait as _;
        let mut keys: Vec<(Expr, Direction, Value)> = self
            .keys
            .iter()
            .zip(last)
            .map(|((expr, direction), value)| (expr.clone(), *direction, value))
            .collect();
        let past = |expr: Expr, direction: Direction, value: Value| match direction {
            Direction::Ascending => expr.gt(value),
            Direction::Descending => expr.lt(value),
        };
        // The first key bounded on its own too (`k1 >= v1 AND …`): an index
        // led by it then starts at the cursor instead of filtering every row
        // before it.
        let bound = (keys.len() > 1).then(|| {
            let (expr, direction, value) = keys[0].clone();
            match direction {
                Direction::Ascending => expr.gte(value),
                Direction::Descending => expr.lte(value),
            }
        });
        let Some((expr, direction, value)) = keys.pop() else {
            return Condition::all();
        };
        let mut condition = Condition::all().add(past(expr, direction, value));
        while let Some((expr, direction, value)) = keys.pop() {
            condition = Condition::any()
                .add(past(expr.clone(), direction, value.clone()))
                .add(Condition::all().add(expr.eq(value)).add(condition));
        }
        match bound {
            Some(bound) => Condition::all().add(bound).add(condition),
            None => condition,
        }
    }
}

/// The values of the keys [`Sort::number`] adds, for the number `text`.
pub fn number_values(text: &str) -> [Value; 2] {
    let length = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    [length.into(), text.into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_only_for_their_listing_filters_and_key() {
        let pager = Pager::new(&[1; 32]);
        let t = pager.issue("users", &("active", true), &("0190-abc", 7));
        let opened: Result<Option<(String, i64)>, _> = pager.open("users", &("active", true), &t);
        assert_eq!(opened.ok().flatten(), Some(("0190-abc".to_owned(), 7)));
        let refused = |r: Result<Option<(String, i64)>, ApiError>| matches!(r, Err(ApiError::InvalidArgument(v)) if v[0].field == "page_token");
        assert!(refused(pager.open("users", &("active", false), &t)));
        assert!(refused(pager.open("roles", &("active", true), &t)));
        assert!(refused(Pager::new(&[2; 32]).open(
            "users",
            &("active", true),
            &t
        )));
        let (cursor, tag) = t.split_once('.').unwrap_or_default();
        let forged = format!("{}.{tag}", B64.encode(br#"["0190-abd",7]"#));
        assert_ne!(forged, t);
        assert!(refused(pager.open("users", &("active", true), &forged)));
        for junk in ["x", "abc.def", "never-issued", "...", cursor] {
            assert!(refused(pager.open("users", &(), junk)), "{junk}");
        }
        assert!(matches!(
            pager.open::<(String, i64)>("users", &(), ""),
            Ok(None)
        ));
    }

    #[test]
    fn a_token_of_another_cursor_type_is_refused() {
        let pager = Pager::random();
        let t = pager.issue("roles", &(), &"tts:agent");
        assert!(pager.open::<(String, String)>("roles", &(), &t).is_err());
    }

    #[test]
    fn keys_come_from_base64_of_at_least_32_bytes() {
        let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let a = Pager::from_base64(&key).unwrap_or_else(|e| panic!("{e}"));
        let b = Pager::from_base64(&format!(" {}\n", key.trim_end_matches('=')))
            .unwrap_or_else(|e| panic!("{e}"));
        let t = a.issue("users", &(), &1);
        assert_eq!(b.open::<i32>("users", &(), &t).ok().flatten(), Some(1));
        let short = base64::engine::general_purpose::STANDARD.encode([9u8; 16]);
        let e = Pager::from_base64(&short).err().unwrap_or_default();
        assert!(e.contains("at least 32 bytes, not 16"), "{e}");
        let e = Pager::from_base64("not base64!").err().unwrap_or_default();
        assert!(
            e.starts_with("is not base64") && !e.contains("not base64!"),
            "{e}"
        );
    }

    #[test]
    fn pages_cut_at_the_size_and_the_last_has_no_token() {
        let pager = Pager::random();
        let size = PageSize::parse(2).unwrap_or_else(|e| panic!("{e}"));
        let (page, token) = pager.page("n", &(), vec![1, 2, 3], size, |n| *n);
        assert_eq!(page, [1, 2]);
        assert_eq!(pager.open::<i32>("n", &(), &token).ok().flatten(), Some(2));
        let (page, token) = pager.page("n", &(), vec![3], size, |n| *n);
        assert_eq!((page, token.as_str()), (vec![3], ""));
    }

    #[test]
    fn a_one_field_order_reads_every_spelling_and_names_order_by_otherwise() {
        for (order_by, direction) in [
            ("", Direction::Ascending),
            ("time", Direction::Ascending),
            (" time  asc ", Direction::Ascending),
            ("time desc", Direction::Descending),
        ] {
            assert_eq!(
                Direction::of_one_field(order_by, "time").ok(),
                Some(direction)
            );
        }
        for wrong in ["create_time", "time up", "time desc, id"] {
            let refused = Direction::of_one_field(wrong, "time").err();
            assert_eq!(
                refused.map(|v| v.field),
                Some("order_by".to_owned()),
                "{wrong}"
            );
        }
    }

    #[test]
    fn a_sort_orders_and_continues_each_key_its_own_way() {
        use sea_orm::{DbBackend, EntityTrait as _, QueryFilter as _, QueryTrait as _};
        let sort = Sort::default()
            .key(Expr::col("rank"), Direction::Descending)
            .key(Expr::col("number"), Direction::Ascending);
        let sql = sort
            .order(crate::outbox::entity::Entity::find())
            .filter(sort.after(vec![3.into(), "TT-000007".into()]))
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(
            sql.ends_with(
                r#"WHERE "rank" <= 3 AND ("rank" < 3 OR ("rank" = 3 AND "number" > 'TT-000007')) ORDER BY "rank" DESC, "number" ASC"#
            ),
            "{sql}"
        );
        assert_eq!(
            Sort::default().after(vec![1.into()]),
            Condition::all(),
            "no keys: no condition"
        );
    }

    #[test]
    fn page_sizes() {
        assert!(PageSize::parse(-1).is_err());
        assert_eq!(PageSize::parse(0).ok(), Some(PageSize(DEFAULT_PAGE_SIZE)));
        assert_eq!(PageSize::parse(10_000).ok(), Some(PageSize(MAX_PAGE_SIZE)));
        assert_eq!(PageSize::parse(7).map(PageSize::fetch).ok(), Some(8));
    }
}
