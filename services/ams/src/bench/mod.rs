//! AMS's benchmarks (feature `bench`, run by `map bench`; BENCHMARKS.md):
//! [`asset_checkout`] (check-outs and check-ins racing over a small
//! register, then every asset's ledger replayed), [`asset_import`] (a CSV
//! file of 100,000 rows uploaded and imported, beside a plain multi-row
//! insert of the same rows, with the process's memory sampled), and
//! [`asset_list`] (ListAssets pages at 10,000 and 1,000,000 assets).
//!
//! Each runs on a PostgreSQL database of its own made by `map bench`
//! (migrated, empty) and measures its ceiling in the same run. What they
//! share lives here: the signed-in manager every call is made as, AMS's
//! real gRPC server on 127.0.0.1:0, the reference data (departments,
//! categories, people in the directory) and the SQL that fills the
//! register.

pub mod asset_checkout;
pub mod asset_import;
pub mod asset_list;

use std::sync::Arc;

pub use map_bench::system::{
    BenchResult, Mix, OneCaller, Served, insert_ceiling, verdict, with_token,
};
use map_kit::{
    System,
    authn::Principal,
    clock::Clock,
    db::Db,
    paging::Pager,
    uploads::{UploadLimits, Uploads},
};
use sea_orm::{ConnectionTrait as _, DbErr};

use crate::{assets::Assets, categories::Categories, grpc_server};

/// The manager's user id.
const MANAGER_ID: &str = "c0000000-0000-7000-8000-000000000001";

/// The signed-in manager (`ams:manager`) every call is made as: the
/// moves, the queries and the import are measured, not token validation.
pub fn manager() -> Principal {
    map_bench::system::caller(MANAGER_ID, "DEP01", &[("ams", "manager")])
}

/// AMS's domain over `db` as `map serve ams` builds it (system clock,
/// random page-token key), its uploads taking files of up to 1 GiB.
pub fn domain(db: &Db) -> (Categories, Assets) {
    let pager = Pager::random();
    let uploads = Uploads::new(
        System::Ams,
        db.clone(),
        Clock::system(),
        UploadLimits {
            max_file_bytes: 1 << 30,
        },
    );
    (
        Categories::new(db.clone(), Clock::system(), pager.clone()),
        Assets::new(db.clone(), Clock::system(), pager, uploads),
    )
}

/// AMS's real gRPC server over `db` on 127.0.0.1:0, its callers validated
/// as [`manager`].
pub async fn serve(db: &Db) -> BenchResult<Served> {
    let (categories, assets) = domain(db);
    Served::start(grpc_server(
        categories,
        assets,
        Arc::new(OneCaller::new(manager())),
    ))
    .await
}

/// Departments of the synthetic register: `DEP01` … `DEP20`.
pub const DEPARTMENTS: u64 = 20;
/// Categories: `CAT01` … `CAT30`.
pub const CATEGORIES: u64 = 30;
/// Storage locations: `Building 1 floor 1` … (20 buildings × 10 floors).
pub const LOCATIONS: u64 = 200;

/// Department `i` (from 0).
pub fn department(i: u64) -> String {
    format!("DEP{:02}", 1 + i % DEPARTMENTS)
}

/// Category `i` (from 0).
pub fn category(i: u64) -> String {
    format!("CAT{:02}", 1 + i % CATEGORIES)
}

/// Location `i` (from 0), as people write it.
pub fn location(i: u64) -> String {
    let i = i % LOCATIONS;
    format!("Building {} floor {}", 1 + i % 20, 1 + i / 20)
}

/// The id of synthetic person `i`: a UUID whose first group names people.
pub fn person_id(i: u64) -> String {
    format!("b0000000-0000-7000-8000-{i:012x}")
}

/// The same id in SQL, of the integer expression `i`.
fn person_sql(i: &str) -> String {
    format!("'b0000000-0000-7000-8000-' || lpad(to_hex({i}), 12, '0')")
}

/// The departments (active, in the directory), the categories (straight
/// line, 36 months, 10 % salvage) and `people` active people in the
/// directory (`person{i}@bench.local`), by SQL.
pub async fn reference_data(db: &Db, people: u64) -> Result<(), DbErr> {
    let conn = db.conn();
    conn.execute_unprepared(&format!(
        "INSERT INTO directory_departments (code, name, active, version, updated_at) \
         SELECT 'DEP' || lpad(d::text, 2, '0'), 'Department ' || d, true, 1, now() \
         FROM generate_series(1, {DEPARTMENTS}) d"
    ))
    .await?;
    conn.execute_unprepared(&format!(
        "INSERT INTO categories (id, code, name, name_normalized, description, \
         depreciation_method, useful_life_months, salvage_percent, version, created_at, updated_at) \
         SELECT md5('category' || c)::uuid::text, 'CAT' || lpad(c::text, 2, '0'), \
         'Category ' || c, 'category ' || c, '', 'straight_line', 36, 10, 1, now(), now() \
         FROM generate_series(1, {CATEGORIES}) c"
    ))
    .await?;
    if people > 0 {
        conn.execute_unprepared(&format!(
            "INSERT INTO directory_users (id, email, display_name, department_code, active, \
             version, updated_at) \
             SELECT {id}, 'person' || p || '@bench.local', 'Person ' || p, \
             'DEP' || lpad((1 + p % {DEPARTMENTS})::text, 2, '0'), true, 1, now() \
             FROM generate_series(0, {people} - 1) p",
            id = person_sql("p"),
        ))
        .await?;
    }
    Ok(())
}

/// What the register is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Every asset in stock, version 1, with its PURCHASE ledger entry.
    InStock,
    /// A realistic spread of statuses (35 % in stock, 55 % checked out —
    /// nine in ten of them to one of `people`, the rest to a room — 4 % in
    /// repair, 3 % retired, 2 % lost, 1 % disposed), no ledger.
    Spread {
        /// People holding the checked-out ones.
        people: u64,
    },
}

/// A pseudo-random integer in `0..n` of the row `g` for the attribute
/// `salt`, in SQL (PostgreSQL's hash of a 64-bit integer): attributes
/// drawn with different salts are independent.
fn pick(salt: u64, n: u64) -> String {
    format!("(abs(hashint8(g * 7 + {salt})::bigint) % {n})")
}

/// Assets `from + 1 ..= to` (numbered `AST-000001` …, the `AST` counter
/// left at `to`), by SQL: 20 departments, 30 categories, 200 locations,
/// creation times a minute apart ending now, each last changed up to a
/// week after its creation (and not after now).
pub async fn fill_assets(db: &Db, from: u64, to: u64, fill: Fill) -> Result<(), DbErr> {
    let conn = db.conn();
    let status = match fill {
        Fill::InStock => "'in_stock'".to_owned(),
        Fill::Spread { .. } => format!(
            "CASE WHEN {s} < 35 THEN 'in_stock' WHEN {s} < 90 THEN 'checked_out' \
             WHEN {s} < 94 THEN 'in_repair' WHEN {s} < 97 THEN 'retired' \
             WHEN {s} < 99 THEN 'lost' ELSE 'disposed' END",
            s = pick(4, 100)
        ),
    };
    let people = match fill {
        Fill::InStock => 1,
        Fill::Spread { people } => people.max(1),
    };
    let sql = format!(
        "INSERT INTO assets (id, number, name, serial, model, category_code, department_code, \
         location, location_normalized, status, holder_user_id, holder_location, \
         holder_deactivated, checkout_transaction_id, expected_return_at, cost_minor, currency, \
         purchase_date, warranty_end_date, supplier, purchase_reference, notes, opening_balance, \
         version, created_at, updated_at) \
         SELECT id, number, model || ' #' || g, 'SN' || lpad(to_hex(g), 10, '0'), model, \
         'CAT' || lpad((1 + {category})::text, 2, '0'), 'DEP' || lpad((1 + {department})::text, 2, '0'), \
         location, lower(location), status, \
         CASE WHEN status = 'checked_out' AND {to_room} > 0 THEN {holder} END, \
         CASE WHEN status = 'checked_out' AND {to_room} = 0 THEN 'Room ' || {room} END, \
         false, CASE WHEN status = 'checked_out' THEN md5('checkout' || g)::uuid::text END, \
         CASE WHEN status = 'checked_out' THEN now() + ({due} - 10) * interval '1 day' END, \
         10000 + {cost}, 'USD', date '2020-01-01' + {bought}::int, \
         date '2020-01-01' + {bought}::int + 1095, \
         (ARRAY['Dell','Apple','Lenovo','HP','CDW'])[1 + {supplier}], 'PO-' || (g / 100), '', \
         false, CASE WHEN status = 'checked_out' THEN 2 ELSE 1 END, created, \
         least(now(), created + {changed} * interval '1 second') \
         FROM (SELECT g, {status} AS status, \
               'a0000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0') AS id, \
               'AST-' || CASE WHEN g < 1000000 THEN lpad(g::text, 6, '0') ELSE g::text END AS number, \
               (ARRAY['Latitude 5440','MacBook Pro 14','ThinkPad T14','EliteBook 840','UltraSharp U2723', \
                      'iPhone 15','Surface Pro 9','OptiPlex 7010'])[1 + {model}] AS model, \
               'Building ' || (1 + {place} % 20) || ' floor ' || (1 + {place} / 20) AS location, \
               now() - ({to} - g) * interval '1 minute' AS created \
               FROM generate_series({first}, {to}) g) s",
        first = from + 1,
        category = pick(1, CATEGORIES),
        department = pick(2, DEPARTMENTS),
        place = pick(3, LOCATIONS),
        to_room = pick(5, 10),
        holder = person_sql(&pick(6, people)),
        room = pick(6, 50),
        due = pick(7, 60),
        cost = pick(8, 300_000),
        bought = pick(9, 1800),
        supplier = pick(10, 5),
        changed = pick(11, 7 * 24 * 3600),
        model = pick(12, 8),
    );
    conn.execute_unprepared(&sql).await?;
    if fill == Fill::InStock {
        conn.execute_unprepared(&format!(
            "INSERT INTO asset_transactions (id, asset_id, asset_number, kind, actor_user_id, at, \
             from_status, to_status, to_department_code, to_location, amount_minor, currency) \
             SELECT md5('purchase' || a.number)::uuid::text, a.id, a.number, 'purchase', '{MANAGER_ID}', \
             a.created_at, '', 'in_stock', a.department_code, a.location, a.cost_minor, a.currency \
             FROM assets a WHERE a.id > 'a0000000-0000-7000-8000-{from:012x}' \
             AND a.id <= 'a0000000-0000-7000-8000-{to:012x}'"
        ))
        .await?;
    }
    conn.execute_unprepared(&format!(
        "INSERT INTO counters (name, value) VALUES ('AST', {to}) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value"
    ))
    .await?;
    for table in ["assets", "asset_transactions"] {
        conn.execute_unprepared(&format!("VACUUM ANALYZE {table}"))
            .await?;
    }
    Ok(())
}
