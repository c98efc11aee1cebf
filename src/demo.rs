//! The demo warehouse behind the README example and the end-to-end tests: a few thousand
//! deterministic rows, as Parquet files for the local backend and a DuckDB analytics file.
//!
//! Where it goes is decided when the demo is built, never when it was compiled: the target
//! directory is shared between clones, so a path fixed at compile time would write one
//! clone's demo into another.

use std::path::{Path, PathBuf};

use duckdb::Connection;

use crate::output::{self, Format};

/// BigQuery stand-in tables: `<dataset>/<table>.parquet` → the query that makes them.
/// (`analytics.orders` and `crm.segments` are what the plans under `plans/` read.)
const WAREHOUSE: [(&str, &str); 4] = [
    (
        "analytics/web.parquet",
        "SELECT DATE '2026-01-01' + CAST(d AS INTEGER) AS date, page,
                CAST(100 + (d * 37 + length(page) * 11) % 400 AS BIGINT) AS views
         FROM range(120) t(d), (VALUES ('/'), ('/pricing'), ('/docs')) p(page)",
    ),
    (
        "analytics/payments.parquet",
        "SELECT i AS payment_id, DATE '2026-01-01' + CAST(i % 120 AS INTEGER) AS date,
                CAST((i * 7919) % 50000 / 100.0 AS DECIMAL(12,2)) AS amount
         FROM range(2400) t(i)",
    ),
    (
        "analytics/orders.parquet",
        "SELECT i AS order_id, DATE '2026-01-01' + CAST(i % 120 AS INTEGER) AS date,
                CAST((i * 6007) % 70000 / 100.0 AS DECIMAL(12,2)) AS amount
         FROM range(1800) t(i)",
    ),
    (
        "crm/segments.parquet",
        "SELECT i AS customer_id,
                CASE i % 4 WHEN 0 THEN 'enterprise' WHEN 1 THEN 'smb' ELSE 'consumer' END AS segment,
                CASE i % 3 WHEN 0 THEN 'EU' WHEN 1 THEN 'US' ELSE 'APAC' END AS region
         FROM range(250) t(i)",
    ),
];

/// Local tables in the analytics database.
const ANALYTICS: &str = "
    CREATE TABLE orders AS
      SELECT i AS order_id, DATE '2026-01-01' + CAST(i % 120 AS INTEGER) AS date,
             i % 250 AS customer_id,
             CAST((i * 104729) % 90000 / 100.0 AS DECIMAL(12,2)) AS amount
      FROM range(3000) t(i);
    CREATE TABLE customers AS
      SELECT i AS customer_id, 'customer ' || i AS name,
             CASE i % 3 WHEN 0 THEN 'EU' WHEN 1 THEN 'US' ELSE 'APAC' END AS region
      FROM range(250) t(i);";

/// The folder the demo goes to: the first argument, else `examples/` under `cwd` (the README
/// runs its commands from the clone root, where `config/instance.yaml` looks for it).
pub fn folder(args: impl IntoIterator<Item = String>, cwd: &Path) -> PathBuf {
    match args.into_iter().next() {
        Some(dir) => cwd.join(dir),
        None => cwd.join("examples"),
    }
}

/// Build the demo in `folder`: `folder/warehouse/` and `folder/analytics.duckdb`.
pub fn make_in(folder: &Path) -> Result<(), String> {
    make(&folder.join("warehouse"), &folder.join("analytics.duckdb"))
}

/// Write the Parquet warehouse under `warehouse` and the analytics database at `database`.
/// Both are replaced atomically, so a half-written demo never exists.
pub fn make(warehouse: &Path, database: &Path) -> Result<(), String> {
    let conn = Connection::open_in_memory().map_err(|e| e.to_string())?;
    for (rel, sql) in WAREHOUSE {
        let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
        let arrow = stmt.query_arrow([]).map_err(|e| e.to_string())?;
        let schema = arrow.get_schema();
        let batches: Vec<_> = arrow.collect();
        output::write_file(&warehouse.join(rel), Format::Parquet, &schema, &batches)
            .map_err(|e| e.to_string())?;
    }
    if let Some(dir) = database.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = database.with_extension("duckdb.tmp");
    let _ = std::fs::remove_file(&tmp);
    {
        let db = Connection::open(&tmp).map_err(|e| e.to_string())?;
        db.execute_batch(ANALYTICS).map_err(|e| e.to_string())?;
    }
    std::fs::rename(&tmp, database).map_err(|e| format!("{}: {e}", database.display()))
}
