//! `map bench asset-checkout`: check-outs and check-ins racing over a small
//! register through AMS's real gRPC server on PostgreSQL, then every
//! asset's ledger replayed to prove no race broke it.
//!
//! Setup (not measured): `--assets` assets in stock (1,000), each with its
//! PURCHASE entry, and `--holders` people in the directory, made by SQL.
//! Each of the `--concurrency` callers (64) loops: pick a random asset;
//! check it out if it looks in stock — to a person with a due date in two
//! weeks, or one time in four to a room — or check it in if it looks
//! checked out. How an asset looks is what the last answer about it said,
//! shared by every caller; a caller that raced another one to the same
//! asset is refused (FAILED_PRECONDITION), which the report counts apart
//! from the moves made.
//!
//! Runs, in order, at the same concurrency:
//! 1. `insert ceiling`: one single-row `INSERT` per transaction (the
//!    ceiling of anything that commits a row per call);
//! 2. `asset moves`: moves per second (successful check-outs and check-ins)
//!    and their latency; refused moves and other errors in the notes;
//! 3. the ledger check: for every asset, its entries by (time, id) — each
//!    entry's `from_status` is the previous entry's `to_status`, the last
//!    `to_status` is the asset's status, there are as many entries as the
//!    asset's version, a checked-out asset has exactly one holder and one
//!    open checkout (its `checkout_transaction_id`, the last CHECKOUT
//!    entry), an in-stock one has none. Target: 0 violations.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use map_bench::{LoadOptions, Report, run_load, scenarios::baseline};
use map_contracts::ams::v1::{self as pb, asset_service_client::AssetServiceClient};
use map_kit::db::Db;
use sea_orm::{EntityTrait as _, QueryOrder as _};

use super::{BenchResult, Fill, fill_assets, insert_ceiling, person_id, reference_data};
use crate::{
    assets::{Kind, Status},
    entity::{asset_transactions, assets},
};

/// `map bench asset-checkout` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AssetCheckoutArgs {
    /// Assets in the register, all in stock at the start.
    #[arg(long, default_value_t = 1_000)]
    pub assets: u64,
    /// People in the directory that assets are checked out to.
    #[arg(long, default_value_t = 100)]
    pub holders: u64,
    /// HTTP/2 connections the callers share.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// The PostgreSQL server to make the run's database on.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
}

/// The id of synthetic asset `g` (from 1), as [`fill_assets`] makes it.
fn asset_id(g: u64) -> String {
    format!("a0000000-0000-7000-8000-{g:012x}")
}

/// Calls of the measured window that were not moves.
#[derive(Debug, Default)]
struct Misses {
    refused: AtomicU64,
    other: AtomicU64,
}

/// Runs the scenario on `db` (migrated, empty, PostgreSQL).
pub async fn run(
    db: &Db,
    load: &LoadOptions,
    args: &AssetCheckoutArgs,
) -> BenchResult<Vec<Report>> {
    let count = args.assets.max(1);
    let ceiling = insert_ceiling(db, load).await?;

    reference_data(db, args.holders.max(1)).await?;
    fill_assets(db, 0, count, Fill::InStock).await?;
    let served = super::serve(db).await?;
    let channels = baseline::channels(served.addr, args.connections.max(1)).await?;

    // How each asset looks to the callers: checked out or not.
    let looks_out: Arc<Vec<AtomicBool>> =
        Arc::new((0..count).map(|_| AtomicBool::new(false)).collect());
    let misses = Arc::new(Misses::default());
    let calls = Arc::new(AtomicU64::new(0));
    let holders = args.holders.max(1);
    let warm_end = Instant::now() + Duration::from_secs_f64(load.warmup.max(0.0));
    let (looks, missed) = (looks_out.clone(), misses.clone());
    let mut moves = run_load("asset moves (check-out / check-in)", load, move |worker| {
        let mut client = AssetServiceClient::new(channels[worker % channels.len()].clone());
        let mut mix = super::Mix::new(calls.fetch_add(1, Ordering::Relaxed));
        let g = mix.below(count);
        let holder = mix.below(holders);
        let to_room = mix.below(4) == 0;
        let (looks, missed) = (looks.clone(), missed.clone());
        async move {
            let began = Instant::now();
            let out = looks[g as usize].load(Ordering::Relaxed);
            let asset_id = asset_id(g + 1);
            let request_id = uuid::Uuid::now_v7().to_string();
            let answer = if out {
                client
                    .check_in_asset(super::with_token(pb::CheckInAssetRequest {
                        asset_id,
                        request_id,
                        ..Default::default()
                    }))
                    .await
                    .map(|r| r.into_inner().asset)
            } else {
                let (holder_user_id, holder_location, due) = if to_room {
                    (String::new(), format!("Room {holder}"), None)
                } else {
                    let due = std::time::SystemTime::now() + Duration::from_secs(14 * 86_400);
                    (person_id(holder), String::new(), Some(due.into()))
                };
                client
                    .check_out_asset(super::with_token(pb::CheckOutAssetRequest {
                        asset_id,
                        holder_user_id,
                        holder_location,
                        expected_return_time: due,
                        request_id,
                        ..Default::default()
                    }))
                    .await
                    .map(|r| r.into_inner().asset)
            };
            let counted = began >= warm_end;
            match answer {
                Ok(asset) => {
                    let now_out =
                        asset.is_some_and(|a| a.status == i32::from(pb::AssetStatus::CheckedOut));
                    looks[g as usize].store(now_out, Ordering::Relaxed);
                    Ok(())
                }
                Err(status) => {
                    if status.code() == tonic::Code::FailedPrecondition {
                        // Another caller moved it first: it is the other way now.
                        looks[g as usize].store(!out, Ordering::Relaxed);
                        if counted {
                            missed.refused.fetch_add(1, Ordering::Relaxed);
                        }
                    } else if counted {
                        missed.other.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(status)
                }
            }
        }
    })
    .await;
    served.stop().await;

    let refused = misses.refused.load(Ordering::Relaxed);
    let other = misses.other.load(Ordering::Relaxed);
    moves.notes.push(format!(
        "{} assets, {} holders (one checkout in four to a room), {} HTTP/2 connections",
        count,
        holders,
        args.connections.max(1)
    ));
    moves.notes.push(format!(
        "moves made {} ({:.0}/s); refused moves (FAILED_PRECONDITION: raced to the same asset) {} ({:.0}/s); other errors {}",
        moves.calls,
        moves.throughput,
        refused,
        refused as f64 / moves.duration_s.max(1e-9),
        other
    ));
    moves.notes.push(format!(
        "{:.2}× the insert ceiling ({:.0} transactions/s, same run)",
        moves.throughput / ceiling.throughput.max(1.0),
        ceiling.throughput
    ));

    let checked = check_ledgers(db).await?;
    moves.notes.push(format!(
        "ledger replayed: {} assets, {} entries ({} moves in all, warm-up included); violations {} — target 0: {}",
        checked.assets,
        checked.entries,
        checked.entries.saturating_sub(checked.assets),
        checked.violations.len(),
        super::verdict(checked.violations.is_empty())
    ));
    for v in checked.violations.iter().take(10) {
        moves.notes.push(format!("violation: {v}"));
    }
    if !checked.violations.is_empty() {
        moves.notes.push(format!(
            "the same ledgers ordered by id alone (the UUIDv7 of each move, made after its read of the asset): {} violations",
            checked.by_id_violations
        ));
    }
    Ok(vec![ceiling, moves])
}

/// What the ledger check found.
#[derive(Debug)]
struct Checked {
    assets: u64,
    entries: u64,
    violations: Vec<String>,
    /// Violations when entries are ordered by id alone (a diagnosis).
    by_id_violations: usize,
}

/// Replays every asset's ledger (see the module docs).
async fn check_ledgers(db: &Db) -> BenchResult<Checked> {
    let all = assets::Entity::find().all(db.conn()).await?;
    let entries = asset_transactions::Entity::find()
        .order_by_asc(asset_transactions::Column::At)
        .order_by_asc(asset_transactions::Column::Id)
        .all(db.conn())
        .await?;
    let total = entries.len() as u64;
    let mut by_asset: HashMap<String, Vec<asset_transactions::Model>> = HashMap::new();
    for e in entries {
        by_asset.entry(e.asset_id.clone()).or_default().push(e);
    }
    let mut violations = Vec::new();
    let mut by_id_violations = 0;
    for asset in &all {
        let mut ledger = by_asset.remove(&asset.id).unwrap_or_default();
        violations.extend(replay(asset, &ledger));
        ledger.sort_by(|a, b| a.id.cmp(&b.id));
        by_id_violations += replay(asset, &ledger).len();
    }
    for (asset, ledger) in by_asset {
        violations.push(format!(
            "{} ledger entries of asset {asset}, which does not exist",
            ledger.len()
        ));
    }
    Ok(Checked {
        assets: all.len() as u64,
        entries: total,
        violations,
        by_id_violations,
    })
}

/// The violations of `asset`'s `ledger` (in the order given).
fn replay(asset: &assets::Model, ledger: &[asset_transactions::Model]) -> Vec<String> {
    let n = &asset.number;
    let mut v = Vec::new();
    let mut previous = "";
    for (i, e) in ledger.iter().enumerate() {
        if e.from_status != previous {
            v.push(format!(
                "{n}: entry {} ({}, {}) moves from {:?} but the entry before left it {:?}",
                i + 1,
                e.kind,
                e.id,
                e.from_status,
                previous
            ));
        }
        previous = e.to_status.as_str();
    }
    if previous != asset.status {
        v.push(format!(
            "{n}: the last entry leaves it {previous:?} but it is {:?}",
            asset.status
        ));
    }
    if i64::try_from(ledger.len()).ok() != Some(asset.version) {
        v.push(format!(
            "{n}: {} ledger entries at version {}",
            ledger.len(),
            asset.version
        ));
    }
    let checkouts: Vec<&str> = ledger
        .iter()
        .filter(|e| e.kind == Kind::Checkout.as_str())
        .map(|e| e.id.as_str())
        .collect();
    let closed: HashSet<&str> = ledger
        .iter()
        .filter(|e| e.kind == Kind::Checkin.as_str())
        .map(|e| e.checkout_transaction_id.as_str())
        .collect();
    let open: Vec<&str> = checkouts
        .iter()
        .copied()
        .filter(|c| !closed.contains(c))
        .collect();
    let holders = usize::from(
        asset
            .holder_user_id
            .as_deref()
            .is_some_and(|h| !h.is_empty()),
    ) + usize::from(
        asset
            .holder_location
            .as_deref()
            .is_some_and(|h| !h.is_empty()),
    );
    match Status::parse(&asset.status) {
        Status::CheckedOut => {
            if holders != 1 {
                v.push(format!("{n}: checked out with {holders} holders"));
            }
            if open.len() != 1 {
                v.push(format!(
                    "{n}: checked out with {} open checkouts",
                    open.len()
                ));
            }
            let last = checkouts.last().copied();
            if asset.checkout_transaction_id.as_deref() != last {
                v.push(format!(
                    "{n}: its checkout is {:?} but its last CHECKOUT entry is {last:?}",
                    asset.checkout_transaction_id
                ));
            }
        }
        Status::InStock => {
            if holders != 0 || asset.checkout_transaction_id.is_some() {
                v.push(format!(
                    "{n}: in stock with a holder or a checkout ({holders} holders, checkout {:?})",
                    asset.checkout_transaction_id
                ));
            }
            if !open.is_empty() {
                v.push(format!("{n}: in stock with {} open checkouts", open.len()));
            }
        }
        other => v.push(format!("{n}: {other:?}, which no move of this run makes")),
    }
    v
}
