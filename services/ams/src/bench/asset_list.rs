//! `map bench asset-list`: ListAssets pages through AMS's real gRPC server
//! on PostgreSQL, first over `--baseline-assets` (10,000), then over the
//! same register grown to `--assets` (1,000,000), so the report shows
//! whether a page's cost grows with the register. Pages of 50:
//!
//! - (a) a department's checked-out assets by number (`department_code`
//!   and `statuses = [CHECKED_OUT]`, order `number`), first page;
//! - (b) the same, five pages deep (the token of page 4, walked through the
//!   API beforehand, for each department);
//! - (c) a category's assets by number;
//! - (d) the assets at a location (as written by people: the filter
//!   normalises it);
//! - (e) the most recently changed assets (order `update_time desc`, no
//!   filter).
//!
//! Targets: p99 ≤ 10 ms a page at the larger size, and ≤ 1.5× its p99 at
//! the baseline. The register is made by SQL (`generate_series`): 20
//! departments, 30 categories, 200 locations, 35 % in stock and 55 %
//! checked out (nine in ten to a person, the rest to a room), the other
//! statuses for the last 10 %; numbers `AST-000001` … with the counter
//! left at the last; then `VACUUM ANALYZE`. `--explain` adds each query's
//! plan (EXPLAIN ANALYZE of the same SQL, literal values) to the notes.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use map_bench::{LoadOptions, Report, run_load};
use map_contracts::ams::v1::{self as pb, asset_service_client::AssetServiceClient};
use map_kit::db::Db;
use sea_orm::{ConnectionTrait as _, DbErr, Statement};
use tonic::transport::Channel;

use super::{
    BenchResult, CATEGORIES, DEPARTMENTS, Fill, LOCATIONS, category, department, fill_assets,
    location, reference_data, verdict, with_token,
};

/// `map bench asset-list` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AssetListArgs {
    /// Assets in the measured register.
    #[arg(long, default_value_t = 1_000_000)]
    pub assets: u64,
    /// Assets of the first, small measurement.
    #[arg(long, default_value_t = 10_000)]
    pub baseline_assets: u64,
    /// People holding the checked-out assets.
    #[arg(long, default_value_t = 2_000)]
    pub people: u64,
    /// Add each query's plan (EXPLAIN ANALYZE, BUFFERS) to the notes.
    #[arg(long)]
    pub explain: bool,
    /// The PostgreSQL server to make the run's database on.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
}

/// Rows a page.
const PAGE: i32 = 50;
/// Target p99 of a page at the larger size, in microseconds.
const TARGET_P99_US: u64 = 10_000;
/// Target ratio of that p99 to the baseline's.
const TARGET_RATIO: f64 = 1.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Query {
    DepartmentOut,
    DepartmentDeep,
    Category,
    Location,
    RecentlyUpdated,
}

impl Query {
    const ALL: [Query; 5] = [
        Query::DepartmentOut,
        Query::DepartmentDeep,
        Query::Category,
        Query::Location,
        Query::RecentlyUpdated,
    ];

    fn name(self) -> &'static str {
        match self {
            Query::DepartmentOut => "assets: (a) department, checked out",
            Query::DepartmentDeep => "assets: (b) the same, page 5",
            Query::Category => "assets: (c) category",
            Query::Location => "assets: (d) location",
            Query::RecentlyUpdated => "assets: (e) update_time desc",
        }
    }

    /// The request for pick `n` (page 5 tokens by department for (b)).
    fn request(self, n: u64, deep: &[String]) -> pb::ListAssetsRequest {
        let page = pb::ListAssetsRequest {
            page_size: PAGE,
            ..Default::default()
        };
        let out = vec![i32::from(pb::AssetStatus::CheckedOut)];
        match self {
            Query::DepartmentOut => pb::ListAssetsRequest {
                department_code: department(n),
                statuses: out,
                order_by: "number".into(),
                ..page
            },
            Query::DepartmentDeep => {
                let d = n % DEPARTMENTS;
                pb::ListAssetsRequest {
                    department_code: department(d),
                    statuses: out,
                    order_by: "number".into(),
                    page_token: deep.get(d as usize).cloned().unwrap_or_default(),
                    ..page
                }
            }
            Query::Category => pb::ListAssetsRequest {
                category_code: category(n),
                order_by: "number".into(),
                ..page
            },
            // As people type it: the filter trims and lower-cases.
            Query::Location => pb::ListAssetsRequest {
                location: format!(" {} ", location(n).to_uppercase()),
                ..page
            },
            Query::RecentlyUpdated => pb::ListAssetsRequest {
                order_by: "update_time desc".into(),
                ..page
            },
        }
    }

    /// How many different requests there are.
    fn spread(self) -> u64 {
        match self {
            Query::DepartmentOut | Query::DepartmentDeep => DEPARTMENTS,
            Query::Category => CATEGORIES,
            Query::Location => LOCATIONS,
            Query::RecentlyUpdated => 1,
        }
    }

    /// The SQL ListAssets runs for pick 0 (literal values), for EXPLAIN.
    async fn sql(self, db: &Db) -> Result<String, DbErr> {
        let by_number = "ORDER BY char_length(number), number LIMIT 51";
        let dept = format!(
            "SELECT * FROM assets WHERE status IN ('checked_out') AND department_code = '{}'",
            department(0)
        );
        Ok(match self {
            Query::DepartmentOut => format!("{dept} {by_number}"),
            Query::DepartmentDeep => {
                let last = db
                    .conn()
                    .query_one_raw(Statement::from_string(
                        db.backend(),
                        format!("SELECT number FROM ({dept} ORDER BY char_length(number), number OFFSET 199 LIMIT 1) s"),
                    ))
                    .await?
                    .map(|r| r.try_get::<String>("", "number"))
                    .transpose()?
                    .unwrap_or_default();
                let len = last.chars().count();
                format!(
                    "{dept} AND char_length(number) >= {len} AND (char_length(number) > {len} \
                     OR (char_length(number) = {len} AND number > '{last}')) {by_number}"
                )
            }
            Query::Category => format!(
                "SELECT * FROM assets WHERE category_code = '{}' {by_number}",
                category(0)
            ),
            Query::Location => {
                let at = location(0).to_lowercase();
                format!(
                    "SELECT * FROM assets WHERE (location_normalized = '{at}' \
                     OR lower(holder_location) = '{at}') {by_number}"
                )
            }
            Query::RecentlyUpdated => "SELECT * FROM assets ORDER BY updated_at DESC, \
                                       char_length(number) DESC, number DESC LIMIT 51"
                .to_owned(),
        })
    }
}

/// Runs the scenario on `db` (migrated, empty, PostgreSQL).
pub async fn run(db: &Db, load: &LoadOptions, args: &AssetListArgs) -> BenchResult<Vec<Report>> {
    reference_data(db, args.people).await?;
    let served = super::serve(db).await?;
    let mut reports: Vec<Report> = Vec::new();
    let mut baseline: Vec<u64> = Vec::new();
    let mut filled = 0;
    let sizes = [args.baseline_assets.min(args.assets), args.assets];
    for (n, size) in sizes.into_iter().enumerate() {
        let started = std::time::Instant::now();
        fill_assets(
            db,
            filled,
            size,
            Fill::Spread {
                people: args.people,
            },
        )
        .await?;
        tracing::warn!(
            assets = size,
            seconds = started.elapsed().as_secs_f64(),
            "filled"
        );
        filled = size;
        let deep = page_five_tokens(&served.channel).await?;
        for (q, query) in Query::ALL.into_iter().enumerate() {
            let mut report = measure(served.channel.clone(), query, size, &deep, load).await;
            report.notes.push(format!("{size} assets"));
            if query == Query::DepartmentDeep {
                let with_page_five = deep.iter().filter(|t| !t.is_empty()).count();
                report.notes.push(format!(
                    "{with_page_five} of {DEPARTMENTS} departments have a fifth page (the others' first is measured)"
                ));
            }
            if n == 0 {
                baseline.push(report.latency.p99_us);
            } else {
                let before = baseline.get(q).copied().unwrap_or(0);
                let ratio = report.latency.p99_us as f64 / before.max(1) as f64;
                report.notes.push(format!(
                    "p99 {:.1} ms (target ≤ {} ms: {}); {:.2}× the p99 at {} ({:.1} ms; target ≤ {TARGET_RATIO}×: {})",
                    report.latency.p99_us as f64 / 1000.0,
                    TARGET_P99_US / 1000,
                    verdict(report.latency.p99_us <= TARGET_P99_US),
                    ratio,
                    sizes[0],
                    before as f64 / 1000.0,
                    verdict(ratio <= TARGET_RATIO)
                ));
            }
            if args.explain {
                report.notes.extend(explain(db, query).await?);
            }
            reports.push(report);
        }
    }
    served.stop().await;
    Ok(reports)
}

/// For each department, the token of its checked-out assets' fifth page
/// (pages 1–4 walked through the API); empty where there is none.
async fn page_five_tokens(channel: &Channel) -> BenchResult<Vec<String>> {
    let mut client = AssetServiceClient::new(channel.clone());
    let mut tokens = Vec::new();
    for d in 0..DEPARTMENTS {
        let mut token = String::new();
        for _ in 0..4 {
            let mut r = Query::DepartmentOut.request(d, &[]);
            r.page_token = token;
            token = client
                .list_assets(with_token(r))
                .await?
                .into_inner()
                .next_page_token;
            if token.is_empty() {
                break;
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}

async fn measure(
    channel: Channel,
    query: Query,
    size: u64,
    deep: &[String],
    load: &LoadOptions,
) -> Report {
    let calls = Arc::new(AtomicU64::new(0));
    let deep: Arc<Vec<String>> = Arc::new(deep.to_vec());
    // Pages answered and the assets in them, warm-up included.
    let seen = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let counted = seen.clone();
    let mut report = run_load(&format!("{} @{size}", query.name()), load, move |_| {
        let mut client = AssetServiceClient::new(channel.clone());
        let n = calls.fetch_add(1, Ordering::Relaxed);
        let pick = n.wrapping_mul(2_654_435_761) % query.spread();
        let request = query.request(pick, &deep);
        let seen = counted.clone();
        async move {
            let page = client.list_assets(with_token(request)).await?.into_inner();
            seen.0.fetch_add(1, Ordering::Relaxed);
            seen.1
                .fetch_add(page.assets.len() as u64, Ordering::Relaxed);
            Ok::<(), tonic::Status>(())
        }
    })
    .await;
    report.notes.push(format!(
        "{:.1} assets a page on average",
        seen.1.load(Ordering::Relaxed) as f64 / seen.0.load(Ordering::Relaxed).max(1) as f64
    ));
    report
}

/// The plan of `query`'s SQL, one note a line.
async fn explain(db: &Db, query: Query) -> Result<Vec<String>, DbErr> {
    let sql = query.sql(db).await?;
    let rows = db
        .conn()
        .query_all_raw(Statement::from_string(
            db.backend(),
            format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"),
        ))
        .await?;
    let mut notes = vec![format!("plan of: {sql}")];
    for r in rows {
        notes.push(format!("  {}", r.try_get::<String>("", "QUERY PLAN")?));
    }
    Ok(notes)
}
