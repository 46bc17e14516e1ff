//! ImportAssets: a batch of rows (at most 1000, all or nothing, problems as
//! field violations), or a CSV file from an upload, read chunk by chunk as
//! it streams from storage ([`csv_rows`]) and written in multi-row batches
//! as the rows come, with every bad row reported in the response body.
//!
//! A file is imported in one write transaction: valid rows are written as
//! they come unless the request validates only; an all-or-nothing import
//! stops writing at its first bad row and rolls back at the end. Memory
//! stays flat in the file's size but for the serials seen (kept to find a
//! serial repeated within the file) and at most [`MAX_ERRORS`] reported
//! errors.

pub mod csv_rows;

use std::collections::{HashMap, HashSet};

use futures::StreamExt as _;
use map_contracts::{ams::v1 as pb, events::v1 as ev};
use map_kit::{
    FieldViolation,
    authn::Principal,
    directory::entity::users,
    idempotency::Idempotent,
    uploads::{COMPLETE, entity::upload},
};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseTransaction, EntityTrait as _, QueryFilter as _,
};

use crate::{
    AmsError,
    assets::{
        Assets,
        register::{self, BATCH, NewAsset},
        to_proto,
    },
    categories::Category,
    entity::categories,
};
use csv_rows::{CsvAsset, CsvAssets, FileError, Record, RowError};
use map_kit::wire::currency::minor_digits;

/// Most rows of a batch from `rows`.
pub const MAX_ROWS: usize = 1000;
/// Most row errors a response lists (`error_count` counts them all).
pub const MAX_ERRORS: usize = 10_000;

/// What the database says about rows: categories, departments, holders
/// and serials, looked up once each and remembered for the import.
#[derive(Debug, Default)]
struct Checker {
    categories: HashMap<String, Option<String>>,
    departments: HashMap<String, bool>,
    holders: HashMap<String, Option<ev::UserRef>>,
    serials: HashSet<String>,
}

/// One problem of one row: the row's index in its batch, its column, why.
type Problem = (usize, &'static str, String);

impl Checker {
    /// The problems of `rows` against the database; each row's `holder`
    /// (a user id or an email, as written) resolved into its `NewAsset`.
    async fn check<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        rows: &mut [(NewAsset, String)],
    ) -> Result<Vec<Problem>, AmsError> {
        let mut problems = Vec::new();
        let serials: Vec<String> = rows
            .iter()
            .map(|(r, _)| r.serial.clone())
            .filter(|s| !s.is_empty() && !self.serials.contains(s))
            .collect();
        let taken = register::taken_serials(conn, &serials).await?;
        for (i, (row, holder)) in rows.iter_mut().enumerate() {
            if !self.categories.contains_key(&row.category_code) {
                let found: Option<Category> = categories::Entity::find()
                    .filter(categories::Column::Code.eq(row.category_code.clone()))
                    .one(conn)
                    .await?;
                self.categories
                    .insert(row.category_code.clone(), found.map(|c| c.name));
            }
            if self
                .categories
                .get(&row.category_code)
                .is_some_and(Option::is_none)
            {
                problems.push((i, "category_code", "is not a category code".into()));
            }
            if !self.departments.contains_key(&row.department_code) {
                let active =
                    map_kit::directory::read::department_is_active(conn, &row.department_code)
                        .await?;
                self.departments.insert(row.department_code.clone(), active);
            }
            if self.departments.get(&row.department_code) == Some(&false) {
                problems.push((i, "department_code", "is not an active department".into()));
            }
            if !row.serial.is_empty() {
                if taken.contains(&row.serial) {
                    problems.push((i, "serial", "is already used by another asset".into()));
                } else if !self.serials.insert(row.serial.clone()) {
                    problems.push((i, "serial", "is repeated in this import".into()));
                }
            }
            if !holder.is_empty() {
                if !self.holders.contains_key(holder.as_str()) {
                    let found = active_user(conn, holder).await?;
                    self.holders.insert(holder.clone(), found);
                }
                match self.holders.get(holder.as_str()).cloned().flatten() {
                    Some(user) => row.holder = Some(user),
                    None => problems.push((i, "holder", "is not an active user".into())),
                }
            }
        }
        Ok(problems)
    }

    fn category_names(&self) -> HashMap<String, String> {
        self.categories
            .iter()
            .filter_map(|(code, name)| Some((code.clone(), name.clone()?)))
            .collect()
    }
}

/// The active user whose id or email is `who`.
async fn active_user<C: ConnectionTrait>(
    conn: &C,
    who: &str,
) -> Result<Option<ev::UserRef>, AmsError> {
    let column = if who.contains('@') {
        users::Column::Email
    } else {
        users::Column::Id
    };
    let value = if who.contains('@') {
        who.to_lowercase()
    } else {
        who.to_owned()
    };
    let found = users::Entity::find()
        .filter(column.eq(value))
        .filter(users::Column::Active.eq(true))
        .one(conn)
        .await?;
    Ok(found.map(|u| ev::UserRef {
        user_id: u.id,
        display_name: u.display_name,
        email: u.email,
    }))
}

/// The row of a batch as a CreateAssetRequest, to check it the same way.
fn row_request(r: &pb::ImportAssetRow) -> pb::CreateAssetRequest {
    pb::CreateAssetRequest {
        name: r.name.clone(),
        serial: r.serial.clone(),
        category_code: r.category_code.clone(),
        department_code: r.department_code.clone(),
        location: r.location.clone(),
        purchase_cost: r.purchase_cost.clone(),
        purchase_date: r.purchase_date,
        notes: r.notes.clone(),
        supplier: r.supplier.clone(),
        purchase_reference: r.purchase_reference.clone(),
        request_id: String::new(),
        warranty_end_date: r.warranty_end_date,
        model: r.model.clone(),
    }
}

/// A file's record as a NewAsset (its holder resolved by the checker).
fn from_csv(a: CsvAsset) -> Option<(NewAsset, String)> {
    let currency = map_kit::wire::money::Currency::parse(&a.currency)?;
    Some((
        NewAsset {
            name: a.name,
            serial: a.serial,
            model: a.model,
            category_code: a.category_code,
            department_code: a.department_code,
            location: a.location,
            cost: map_kit::wire::money::Money::new(a.cost_minor, currency),
            purchase_date: a.purchase_date,
            warranty_end_date: a.warranty_end_date,
            supplier: a.supplier,
            purchase_reference: a.purchase_reference,
            notes: a.notes,
            holder: None,
        },
        a.holder,
    ))
}

/// What an import from a file has seen so far.
#[derive(Debug, Default)]
struct Tally {
    rows: i64,
    created: i64,
    error_count: i64,
    errors: Vec<pb::ImportRowError>,
    first_number: String,
    last_number: String,
    /// Line of the last bad record counted (errors come in file order).
    last_bad_line: Option<u64>,
}

impl Tally {
    fn error(&mut self, e: RowError) {
        if self.last_bad_line != Some(e.line) {
            self.last_bad_line = Some(e.line);
            self.error_count += 1;
        }
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(pb::ImportRowError {
                line: i64::try_from(e.line).unwrap_or(i64::MAX),
                column: e.column,
                reason: e.reason,
            });
        }
    }
}

impl Assets {
    /// ImportAssets (see the module docs).
    pub async fn import(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::ImportAssetsRequest,
    ) -> Result<pb::ImportAssetsResponse, AmsError> {
        match (r.rows.is_empty(), r.upload_id.is_empty()) {
            (false, true) => self.import_rows(actor, key, r).await,
            (true, false) => self.import_file(actor, key, r).await,
            _ => Err(AmsError::invalid(
                "rows",
                "set exactly one of rows and upload_id",
            )),
        }
    }

    async fn import_rows(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::ImportAssetsRequest,
    ) -> Result<pb::ImportAssetsResponse, AmsError> {
        if r.rows.len() > MAX_ROWS {
            return Err(AmsError::invalid(
                "rows",
                format!("must hold at most {MAX_ROWS} rows (upload a CSV file for more)"),
            ));
        }
        let today = self.clock().now().date_naive();
        let mut wrong: Vec<FieldViolation> = Vec::new();
        let mut rows = Vec::with_capacity(r.rows.len());
        // The index in `r.rows` of each of `rows`.
        let mut index = Vec::with_capacity(r.rows.len());
        for (i, row) in r.rows.iter().enumerate() {
            let prefix = format!("rows[{i}].");
            match register::from_request(&prefix, &row_request(row)) {
                Ok(new) => {
                    wrong.extend(register::violations(&prefix, &new, today));
                    let mut holder = row.holder_user_id.clone();
                    if !holder.is_empty() && uuid::Uuid::try_parse(&holder).is_err() {
                        wrong.push(FieldViolation {
                            field: format!("{prefix}holder_user_id"),
                            description: "must be a UUID".into(),
                        });
                        holder.clear();
                    }
                    rows.push((new, holder));
                    index.push(i);
                }
                Err(v) => wrong.extend(v),
            }
        }
        let txn = self.db().begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        // Every problem in one answer, the database's too (one per field).
        let mut checker = Checker::default();
        let problems = checker.check(&txn, &mut rows).await?;
        let flagged: HashSet<String> = wrong.iter().map(|v| v.field.clone()).collect();
        for (j, column, reason) in problems {
            let column = if column == "holder" {
                "holder_user_id"
            } else {
                column
            };
            let field = format!("rows[{}].{column}", index[j]);
            if !flagged.contains(&field) {
                wrong.push(FieldViolation {
                    field,
                    description: reason,
                });
            }
        }
        if !wrong.is_empty() {
            return Err(AmsError::InvalidArgument(wrong));
        }
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        if r.validate_only {
            return Ok(pb::ImportAssetsResponse {
                row_count: count,
                ..Default::default()
            });
        }
        let created = self
            .register(
                &txn,
                actor,
                rows.into_iter().map(|(a, _)| a).collect(),
                &checker.category_names(),
                r.opening_balance,
            )
            .await?;
        let response = pb::ImportAssetsResponse {
            row_count: count,
            created_count: count,
            first_number: created
                .first()
                .map(|a| a.number.clone())
                .unwrap_or_default(),
            last_number: created.last().map(|a| a.number.clone()).unwrap_or_default(),
            assets: created.iter().map(to_proto).collect(),
            ..Default::default()
        };
        key.record(&txn, &response, self.clock().now()).await?;
        txn.commit().await?;
        tracing::info!(assets = count, "assets imported from rows");
        Ok(response)
    }

    async fn import_file(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::ImportAssetsRequest,
    ) -> Result<pb::ImportAssetsResponse, AmsError> {
        let file = upload::Entity::find_by_id(r.upload_id.clone())
            .filter(upload::Column::UploaderUserId.eq(actor.id.clone()))
            .filter(upload::Column::State.eq(COMPLETE))
            .one(self.db().conn())
            .await?
            .ok_or(AmsError::NotFound("upload"))?;
        let txn = self.db().begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let today = self.clock().now().date_naive();
        let mut reader = CsvAssets::new(minor_digits);
        let mut checker = Checker::default();
        let mut tally = Tally::default();
        let mut pending: Vec<(u64, NewAsset, String)> = Vec::with_capacity(BATCH);
        // Format errors since the last batch, reported with the batch's
        // database problems in line order.
        let mut deferred: Vec<RowError> = Vec::new();
        let mut content = std::pin::pin!(self.uploads().content(&file.id, file.size_bytes));
        let mut done = false;
        while !done {
            let records = match content.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(AmsError::from)?;
                    reader.feed(&chunk.data)
                }
                None => {
                    done = true;
                    reader.finish()
                }
            }
            .map_err(file_error)?;
            for record in records {
                match record {
                    Record::Bad(errors) => deferred.extend(errors),
                    Record::Row(row) => {
                        let line = row.line;
                        match from_csv(row) {
                            Some((new, holder)) => {
                                let v = register::violations("", &new, today);
                                if v.is_empty() {
                                    pending.push((line, new, holder));
                                } else {
                                    for bad in v {
                                        deferred.push(RowError {
                                            line,
                                            column: bad.field,
                                            reason: bad.description,
                                        });
                                    }
                                }
                            }
                            None => deferred.push(RowError {
                                line,
                                column: "currency".into(),
                                reason: "unknown currency".into(),
                            }),
                        }
                    }
                }
            }
            if done || pending.len() + deferred.len() >= BATCH {
                let batch = (&mut pending, &mut deferred);
                self.import_batch(&txn, actor, r, &mut checker, &mut tally, batch)
                    .await?;
            }
        }
        tally.rows = i64::try_from(reader.rows_read()).unwrap_or(i64::MAX);
        let keep = !(r.validate_only || r.all_or_nothing && tally.error_count > 0);
        let response = pb::ImportAssetsResponse {
            assets: Vec::new(),
            row_count: tally.rows,
            created_count: if keep { tally.created } else { 0 },
            error_count: tally.error_count,
            first_number: if keep {
                tally.first_number
            } else {
                String::new()
            },
            last_number: if keep {
                tally.last_number
            } else {
                String::new()
            },
            errors: tally.errors,
        };
        if keep {
            key.record(&txn, &response, self.clock().now()).await?;
            txn.commit().await?;
        } else {
            txn.rollback().await?;
        }
        tracing::info!(
            rows = response.row_count,
            created = response.created_count,
            errors = response.error_count,
            "assets imported from a file"
        );
        Ok(response)
    }

    /// Checks the `pending` rows of a file against the database, reports
    /// their problems and the `deferred` format errors of the same stretch
    /// of the file in line order, and writes the good rows (unless the
    /// import writes nothing, or nothing more after a bad row).
    async fn import_batch(
        &self,
        txn: &DatabaseTransaction,
        actor: &Principal,
        r: &pb::ImportAssetsRequest,
        checker: &mut Checker,
        tally: &mut Tally,
        (pending, deferred): (&mut Vec<(u64, NewAsset, String)>, &mut Vec<RowError>),
    ) -> Result<(), AmsError> {
        let lines: Vec<u64> = pending.iter().map(|(l, _, _)| *l).collect();
        let mut rows: Vec<(NewAsset, String)> = pending.drain(..).map(|(_, a, h)| (a, h)).collect();
        let problems = checker.check(txn, &mut rows).await?;
        let mut bad = HashSet::new();
        let mut errors = std::mem::take(deferred);
        for (i, column, reason) in problems {
            bad.insert(i);
            errors.push(RowError {
                line: lines[i],
                column: column.to_owned(),
                reason,
            });
        }
        // Stable: the problems of one record keep their order.
        errors.sort_by_key(|e| e.line);
        errors.into_iter().for_each(|e| tally.error(e));
        let writing = !(r.validate_only || r.all_or_nothing && tally.error_count > 0);
        if !writing {
            return Ok(());
        }
        let good: Vec<NewAsset> = rows
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !bad.contains(i))
            .map(|(_, (a, _))| a)
            .collect();
        if good.is_empty() {
            return Ok(());
        }
        let created = self
            .register(
                txn,
                actor,
                good,
                &checker.category_names(),
                r.opening_balance,
            )
            .await?;
        tally.created += i64::try_from(created.len()).unwrap_or(i64::MAX);
        if tally.first_number.is_empty() {
            tally.first_number = created
                .first()
                .map(|a| a.number.clone())
                .unwrap_or_default();
        }
        if let Some(last) = created.last() {
            tally.last_number = last.number.clone();
        }
        Ok(())
    }
}

/// INVALID_ARGUMENT naming `upload_id` for a file nothing can be read from.
fn file_error(e: FileError) -> AmsError {
    let why = match e {
        FileError::Empty => "is an empty file: the first line must name the columns".to_owned(),
        FileError::NotUtf8Header => "has a header that is not UTF-8".to_owned(),
        FileError::MissingColumns(c) => format!("lacks the required columns {}", c.join(", ")),
        FileError::UnknownColumns(c) => format!("has unknown columns {}", c.join(", ")),
        FileError::DuplicateColumn(c) => format!("names the column {c} twice"),
        FileError::HeaderTooLong => "has a header longer than 64 KiB".to_owned(),
    };
    AmsError::invalid("upload_id", why)
}
