//! `map bench asset-import`: a CSV file of assets uploaded in 1 MiB chunks
//! (map-kit's uploads, as UploadService stores them) and imported by
//! ImportAssets (the domain's `Assets::import`, what the RPC runs) on
//! PostgreSQL, first at `--baseline-rows` (10,000 in the full run), then at
//! `--rows` (100,000).
//!
//! The file is realistic: 14 columns, a fifth of the rows checked out to a
//! person of the directory (by email), locations and suppliers with commas
//! (quoted), notes with quoted quotes, an empty warranty now and then.
//!
//! For each size, in order:
//! 1. `plain insert` (the ceiling, same run): the same rows, same columns,
//!    as multi-row `INSERT`s of 500 rows in one transaction into
//!    `assets_plain`, a copy of `assets` with its indexes
//!    (`LIKE assets INCLUDING ALL`), nothing else written;
//! 2. the upload (timed, not the target);
//! 3. `asset import`: rows per second end to end (read from storage,
//!    parsed, checked, registered with their ledger entries and events,
//!    committed), its ratio to (1) (target ≥ 0.5×), and the process's
//!    resident memory sampled every 10 ms: before, at the peak, and the
//!    increase — which should not grow with the file (the import keeps the
//!    serials it has seen, a few MiB at 100,000 rows, and little else).
//!
//! Then, for the larger file, where the import's time goes: the file
//! parsed alone (no database) and the rows registered alone
//! (`Assets::register`: assets, ledger and outbox, no parsing or checks).
//!
//! The client's SHA-256 of the file, which CompleteUpload checks, is
//! PostgreSQL's `sha256()` of the chunks it stored (map-ams links no
//! SHA-256 of its own outside its tests); the kit then checks it against
//! its own digest of the bytes.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use chrono::{Duration as Days, NaiveDate};
use map_bench::Report;
use map_contracts::{ams::v1 as pb, events::v1 as ev};
use map_kit::{
    System,
    db::Db,
    idempotency::Idempotent,
    uploads::{MAX_CHUNK_BYTES, Uploads},
    wire::{
        currency::minor_digits,
        money::{Currency, Money},
    },
};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait as _, DbErr, EntityTrait as _, QueryTrait as _, Statement,
    sea_query::Alias,
};

use super::{BenchResult, Mix, category, department, manager, reference_data, verdict};
use crate::{
    assets::{Assets, register::NewAsset},
    entity::assets,
    import::csv_rows::{CsvAssets, Record},
};

/// `map bench asset-import` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AssetImportArgs {
    /// Rows of the measured file.
    #[arg(long, default_value_t = 20_000)]
    pub rows: u64,
    /// Rows of the smaller file imported first (its memory is compared).
    #[arg(long, default_value_t = 2_000)]
    pub baseline_rows: u64,
    /// People in the directory; one row in five is checked out to one.
    #[arg(long, default_value_t = 500)]
    pub holders: u64,
    /// The PostgreSQL server to make the run's database on.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
}

/// Target: the import at least half as fast as the plain insert.
const TARGET_RATIO: f64 = 0.5;
/// Rows per plain multi-row insert (the import's own batch).
const PLAIN_BATCH: usize = crate::assets::register::BATCH;
const MODELS: [&str; 8] = [
    "Latitude 5440",
    "MacBook Pro 14",
    "ThinkPad T14",
    "EliteBook 840",
    "UltraSharp U2723",
    "iPhone 15",
    "Surface Pro 9",
    "OptiPlex 7010",
];
const SUPPLIERS: [&str; 5] = ["Dell, Inc.", "Apple", "Lenovo Group", "HP Inc.", "CDW, LLC"];
const HEADER: &str = "name,category_code,department_code,purchase_cost,currency,purchase_date,\
                      serial,model,location,warranty_end_date,supplier,purchase_reference,notes,holder\n";

/// One synthetic row: row `i` is always the same but for its serial, which
/// names its file.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    category: String,
    department: String,
    cost_minor: i64,
    purchased: NaiveDate,
    serial: String,
    model: &'static str,
    location: String,
    warranty: Option<NaiveDate>,
    supplier: &'static str,
    reference: String,
    notes: String,
    /// The holder's index among the directory's people.
    holder: Option<u64>,
}

impl Row {
    fn new(file: &str, i: u64, holders: u64) -> Row {
        let mut mix = Mix::new(i);
        let model = MODELS[mix.below(MODELS.len() as u64) as usize];
        let epoch = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default();
        let purchased = epoch + Days::days(i64::try_from(mix.below(1800)).unwrap_or(0));
        let place = mix.below(super::LOCATIONS);
        Row {
            name: format!("{model} #{i:06}"),
            category: category(mix.below(super::CATEGORIES)),
            department: department(mix.below(super::DEPARTMENTS)),
            cost_minor: 20_000 + i64::try_from(mix.below(400_000)).unwrap_or(0),
            purchased,
            serial: format!("SN-{file}-{i:08}"),
            model,
            location: format!("Building {}, floor {}", 1 + place % 20, 1 + place / 20),
            warranty: (mix.below(5) != 0).then(|| purchased + Days::days(3 * 365)),
            supplier: SUPPLIERS[mix.below(SUPPLIERS.len() as u64) as usize],
            reference: format!("PO-{}-{:05}", purchased.format("%Y"), i / 50),
            notes: if mix.below(10) == 0 {
                format!(
                    "Bought for the \"Q{}\" refresh, see ticket TT-{i:06}",
                    1 + i % 4
                )
            } else {
                String::new()
            },
            holder: (mix.below(5) == 0).then(|| mix.below(holders.max(1))),
        }
    }

    /// The row as a CSV record (with its line end).
    fn write_csv(&self, out: &mut Vec<u8>) {
        let cost = format!("{}.{:02}", self.cost_minor / 100, self.cost_minor % 100);
        let purchased = self.purchased.to_string();
        let warranty = self.warranty.map(|d| d.to_string()).unwrap_or_default();
        let holder = self
            .holder
            .map(|h| format!("person{h}@bench.local"))
            .unwrap_or_default();
        let fields: [&str; 14] = [
            &self.name,
            &self.category,
            &self.department,
            &cost,
            "USD",
            &purchased,
            &self.serial,
            self.model,
            &self.location,
            &warranty,
            self.supplier,
            &self.reference,
            &self.notes,
            &holder,
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if f.contains([',', '"', '\n', '\r']) {
                out.push(b'"');
                out.extend_from_slice(f.replace('"', "\"\"").as_bytes());
                out.push(b'"');
            } else {
                out.extend_from_slice(f.as_bytes());
            }
        }
        out.push(b'\n');
    }

    /// The row as the import registers it (its holder resolved), its cost
    /// in `usd`.
    fn new_asset(&self, usd: Currency) -> NewAsset {
        NewAsset {
            name: self.name.clone(),
            serial: self.serial.clone(),
            model: self.model.to_owned(),
            category_code: self.category.clone(),
            department_code: self.department.clone(),
            location: self.location.clone(),
            cost: Money::new(self.cost_minor, usd),
            purchase_date: self.purchased,
            warranty_end_date: self.warranty,
            supplier: self.supplier.to_owned(),
            purchase_reference: self.reference.clone(),
            notes: self.notes.clone(),
            holder: self.holder.map(|h| ev::UserRef {
                user_id: super::person_id(h),
                display_name: format!("Person {h}"),
                email: format!("person{h}@bench.local"),
            }),
        }
    }

    /// The row as the `assets` row the import would write, numbered `number`.
    fn stored(&self, number: u64) -> assets::ActiveModel {
        let now = chrono::Utc::now();
        let out = self.holder.is_some();
        assets::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            number: Set(format!("AST-{number:06}")),
            name: Set(self.name.clone()),
            serial: Set(self.serial.clone()),
            model: Set(self.model.to_owned()),
            category_code: Set(self.category.clone()),
            department_code: Set(self.department.clone()),
            location: Set(self.location.clone()),
            location_normalized: Set(self.location.to_lowercase()),
            status: Set(if out { "checked_out" } else { "in_stock" }.to_owned()),
            holder_user_id: Set(self.holder.map(super::person_id)),
            holder_location: Set(None),
            holder_deactivated: Set(false),
            checkout_transaction_id: Set(out.then(|| uuid::Uuid::now_v7().to_string())),
            expected_return_at: Set(None),
            cost_minor: Set(self.cost_minor),
            currency: Set("USD".to_owned()),
            purchase_date: Set(self.purchased),
            warranty_end_date: Set(self.warranty),
            supplier: Set(self.supplier.to_owned()),
            purchase_reference: Set(self.reference.clone()),
            notes: Set(self.notes.clone()),
            opening_balance: Set(false),
            version: Set(if out { 2 } else { 1 }),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }
}

/// The file `file` of `rows` rows, made in pieces of about 1 MiB (at most
/// [`MAX_CHUNK_BYTES`]) so neither the bench nor the upload holds it whole.
#[derive(Debug)]
struct CsvFile {
    file: String,
    rows: u64,
    holders: u64,
    next: u64,
    header: bool,
}

impl CsvFile {
    fn new(file: &str, rows: u64, holders: u64) -> CsvFile {
        CsvFile {
            file: file.to_owned(),
            rows,
            holders,
            next: 0,
            header: true,
        }
    }

    /// The next piece, or `None` at the end of the file.
    fn piece(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(MAX_CHUNK_BYTES);
        if std::mem::take(&mut self.header) {
            out.extend_from_slice(HEADER.as_bytes());
        }
        // A record is far below 4 KiB.
        while self.next < self.rows && out.len() + 4096 <= MAX_CHUNK_BYTES {
            Row::new(&self.file, self.next, self.holders).write_csv(&mut out);
            self.next += 1;
        }
        (!out.is_empty()).then_some(out)
    }

    /// Its size in bytes (made once without keeping it).
    fn size(file: &str, rows: u64, holders: u64) -> u64 {
        let mut f = CsvFile::new(file, rows, holders);
        std::iter::from_fn(|| f.piece())
            .map(|p| p.len() as u64)
            .sum()
    }
}

/// The resident set size of this process, in KiB (`VmRSS`).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Samples [`rss_kib`] every 10 ms on a thread of its own until stopped.
#[derive(Debug)]
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl RssSampler {
    fn start() -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut peak, mut samples) = (0, 0);
            loop {
                if let Some(kib) = rss_kib() {
                    peak = peak.max(kib);
                    samples += 1;
                }
                if stopped.load(Ordering::Relaxed) {
                    return (peak, samples);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        });
        RssSampler { stop, thread }
    }

    /// The peak RSS seen (KiB) and the number of samples.
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Uploads file `file` as the manager through the kit's uploads: its id,
/// its size and the seconds taken.
async fn upload(
    db: &Db,
    uploads: &Uploads,
    file: &str,
    rows: u64,
    holders: u64,
) -> BenchResult<(String, u64, f64)> {
    let size = CsvFile::size(file, rows, holders);
    let started = Instant::now();
    let who = manager().id;
    let open = uploads
        .start(
            &who,
            "assets.csv",
            "text/csv",
            i64::try_from(size).unwrap_or(i64::MAX),
        )
        .await?;
    let mut csv = CsvFile::new(file, rows, holders);
    let mut offset = 0;
    while let Some(piece) = csv.piece() {
        uploads.append(&who, &open.id, offset, &piece).await?;
        offset += i64::try_from(piece.len()).unwrap_or(i64::MAX);
    }
    let digest = db
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            db.backend(),
            "SELECT encode(sha256(string_agg(data, ''::bytea ORDER BY byte_offset)), 'hex') AS sha \
             FROM upload_chunks WHERE upload_id = $1",
            [open.id.clone().into()],
        ))
        .await?
        .map(|r| r.try_get::<String>("", "sha"))
        .transpose()?
        .unwrap_or_default();
    uploads.complete(&who, &open.id, &digest).await?;
    Ok((open.id, size, started.elapsed().as_secs_f64()))
}

/// The plain ceiling: `rows` rows of file `file` inserted into
/// `assets_plain` in one transaction, 500 a statement; the seconds taken.
async fn plain_insert(db: &Db, file: &str, rows: u64, holders: u64) -> Result<f64, DbErr> {
    let conn = db.conn();
    conn.execute_unprepared("TRUNCATE assets_plain").await?;
    let started = Instant::now();
    let txn = db.begin_write().await?;
    let mut i = 0;
    while i < rows {
        let end = (i + PLAIN_BATCH as u64).min(rows);
        let models: Vec<assets::ActiveModel> = (i..end)
            .map(|k| Row::new(file, k, holders).stored(k + 1))
            .collect();
        let mut insert = assets::Entity::insert_many(models);
        insert.query().into_table(Alias::new("assets_plain"));
        txn.execute_raw(insert.build(db.backend())).await?;
        i = end;
    }
    txn.commit().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// What one size measured.
#[derive(Debug)]
struct Measured {
    rows: u64,
    import_s: f64,
    peak_increase_kib: u64,
}

fn report(scenario: String, seconds: f64, rows: u64, notes: Vec<String>) -> Report {
    Report {
        scenario,
        concurrency: 1,
        target_rate: None,
        duration_s: seconds,
        calls: rows,
        errors: 0,
        throughput: rows as f64 / seconds.max(f64::MIN_POSITIVE),
        latency: map_bench::Latency::of(&map_bench::new_histogram()),
        first_error: None,
        notes,
    }
}

/// Runs the scenario on `db` (migrated, empty, PostgreSQL).
pub async fn run(db: &Db, args: &AssetImportArgs) -> BenchResult<Vec<Report>> {
    reference_data(db, args.holders.max(1)).await?;
    db.conn()
        .execute_unprepared("CREATE TABLE assets_plain (LIKE assets INCLUDING ALL)")
        .await?;
    let (_, assets) = super::domain(db);
    let actor = manager();
    let mut reports = Vec::new();
    let mut measured: Vec<Measured> = Vec::new();
    let sizes = [args.baseline_rows.min(args.rows), args.rows];
    for (n, rows) in sizes.into_iter().enumerate() {
        let rows = rows.max(1);
        let file = format!("f{n}");
        let plain_s = plain_insert(db, &file, rows, args.holders).await?;
        let plain_rate = rows as f64 / plain_s;
        reports.push(report(
            format!("asset import: plain insert @{rows}"),
            plain_s,
            rows,
            vec![format!(
                "the ceiling: the same {rows} rows, same columns, 500 a statement, one transaction, \
                 into a copy of assets with its indexes; {plain_s:.2} s"
            )],
        ));

        let (upload_id, size, upload_s) =
            upload(db, assets.uploads(), &file, rows, args.holders).await?;
        let request = pb::ImportAssetsRequest {
            upload_id,
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        };
        let key = Idempotent::new(
            System::Ams,
            "request_id",
            &request.request_id,
            "map.ams.v1.AssetService/ImportAssets",
            &request,
        )?;
        let before = rss_kib().unwrap_or(0);
        let sampler = RssSampler::start();
        let started = Instant::now();
        let answer = assets.import(&actor, &key, &request).await;
        let import_s = started.elapsed().as_secs_f64();
        let (peak, samples) = sampler.finish();
        let answer = answer?;
        let rate = answer.created_count as f64 / import_s;
        let ratio = rate / plain_rate;
        let increase = peak.saturating_sub(before);
        let mut notes = vec![
            format!(
                "file: {rows} rows, {:.1} MiB, uploaded in {} chunks of 1 MiB in {upload_s:.2} s (not measured)",
                mib(size / 1024),
                size.div_ceil(MAX_CHUNK_BYTES as u64)
            ),
            format!(
                "ImportAssets: {} rows read, {} created, {} errors, {} … {}, in {import_s:.2} s",
                answer.row_count,
                answer.created_count,
                answer.error_count,
                answer.first_number,
                answer.last_number
            ),
            format!(
                "{ratio:.2}× the plain insert ({plain_rate:.0} rows/s) — target ≥ {TARGET_RATIO}×: {}",
                verdict(ratio >= TARGET_RATIO)
            ),
            format!(
                "memory (VmRSS, {samples} samples every 10 ms): {:.1} MiB before, {:.1} MiB at the peak, +{:.1} MiB",
                mib(before),
                mib(peak),
                mib(increase)
            ),
        ];
        if let Some(e) = answer.errors.first() {
            notes.push(format!(
                "first row error: line {} {}: {}",
                e.line, e.column, e.reason
            ));
        }
        measured.push(Measured {
            rows,
            import_s,
            peak_increase_kib: increase,
        });
        let mut r = report(
            format!("asset import: ImportAssets @{rows}"),
            import_s,
            u64::try_from(answer.created_count).unwrap_or(0),
            notes,
        );
        if answer.created_count != i64::try_from(rows).unwrap_or(i64::MAX) {
            r.errors = rows.saturating_sub(u64::try_from(answer.created_count).unwrap_or(0));
            r.first_error = Some("not every row was created".into());
        }
        reports.push(r);
    }
    if let [small, big] = measured.as_slice()
        && let Some(last) = reports.last_mut()
    {
        last.notes.push(format!(
            "memory against the file's size: +{:.1} MiB at {} rows, +{:.1} MiB at {} rows ({:.1}× the rows, {:.2}× the increase)",
            mib(small.peak_increase_kib),
            small.rows,
            mib(big.peak_increase_kib),
            big.rows,
            big.rows as f64 / small.rows.max(1) as f64,
            big.peak_increase_kib as f64 / small.peak_increase_kib.max(1) as f64
        ));
        last.notes.push(format!(
            "time against the file's size: {:.2} s at {} rows, {:.2} s at {} rows",
            small.import_s, small.rows, big.import_s, big.rows
        ));
    }
    reports.extend(breakdown(db, &assets, args).await?);
    Ok(reports)
}

/// Where the import's time goes, for the larger file: parsing alone, and
/// registering the same rows alone.
async fn breakdown(db: &Db, assets: &Assets, args: &AssetImportArgs) -> BenchResult<Vec<Report>> {
    let rows = args.rows.max(1);
    // Parsing: the reader over the same pieces, no database.
    let mut csv = CsvFile::new("f1", rows, args.holders);
    let mut pieces = Vec::new();
    while let Some(p) = csv.piece() {
        pieces.push(p);
    }
    let started = Instant::now();
    let mut reader = CsvAssets::new(minor_digits);
    let mut parsed = 0u64;
    let mut bad = 0u64;
    for p in &pieces {
        for r in reader.feed(p).map_err(|e| format!("{e:?}"))? {
            match r {
                Record::Row(_) => parsed += 1,
                Record::Bad(_) => bad += 1,
            }
        }
    }
    for r in reader.finish().map_err(|e| format!("{e:?}"))? {
        match r {
            Record::Row(_) => parsed += 1,
            Record::Bad(_) => bad += 1,
        }
    }
    let parse_s = started.elapsed().as_secs_f64();
    drop(pieces);

    // Registering: the rows of a third file, checked already, written as
    // the import writes them (assets, ledger, outbox), 500 at a time.
    let names: HashMap<String, String> = (0..super::CATEGORIES)
        .map(|c| (category(c), format!("Category {}", c + 1)))
        .collect();
    let usd = Currency::parse("USD").ok_or("USD is not a currency")?;
    let new: Vec<NewAsset> = (0..rows)
        .map(|i| Row::new("f2", i, args.holders).new_asset(usd))
        .collect();
    let started = Instant::now();
    let txn = db.begin_write().await?;
    let created = assets
        .register(&txn, &manager(), new, &names, false)
        .await?
        .len();
    txn.commit().await?;
    let register_s = started.elapsed().as_secs_f64();
    Ok(vec![
        report(
            format!("asset import: parsing alone @{rows}"),
            parse_s,
            parsed,
            vec![format!(
                "the import's CSV reader over the same file in 1 MiB pieces, no database: {parsed} rows, {bad} bad, {parse_s:.2} s"
            )],
        ),
        report(
            format!("asset import: registering alone @{rows}"),
            register_s,
            created as u64,
            vec![format!(
                "Assets::register over {created} checked rows (assets, PURCHASE and CHECKOUT entries, events), one transaction: {register_s:.2} s"
            )],
        ),
    ])
}
