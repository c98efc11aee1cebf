//! The loopback BigQuery test server as a program, for benchmarks and manual runs:
//! `cargo run --example bq_test_server -- WAREHOUSE [--latency-ms N] [--page-rows N] [--generate-rows N] [--preencoded-pages]`.
//! It answers BigQuery REST calls from the Parquet warehouse (the same code the tests use)
//! and the Storage Read API over gRPC on a second port, and prints
//! `BIGQUERY_EMULATOR_HOST=127.0.0.1:PORT` and `BIGQUERY_STORAGE_EMULATOR_HOST=...` once it listens.
//! `--preencoded-pages` (benchmarks): an identical query reuses the first one's result and
//! every REST page and Read API stream is encoded once, so after a warm-up run the server
//! answers from memory and the client's own cost is what a benchmark measures.

// An example program: the terminal is its edge.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[allow(dead_code)]
#[path = "../tests/it/bq_grpc.rs"]
mod bq_grpc;
#[allow(dead_code)]
#[path = "../tests/it/bq_server.rs"]
mod bq_server;

use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut warehouse = None;
    let mut faults = bq_server::Faults {
        page_rows: 100_000,
        ..Default::default()
    };
    let mut generate = 0u64;
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        match arg.as_str() {
            "--latency-ms" => faults.latency = Duration::from_millis(number()),
            "--page-rows" => faults.page_rows = usize::try_from(number()).unwrap_or(usize::MAX),
            "--generate-rows" => generate = number(),
            "--preencoded-pages" => faults.preencoded_pages = true,
            other => warehouse = Some(PathBuf::from(other)),
        }
    }
    let Some(warehouse) = warehouse else {
        eprintln!(
            "usage: bq_test_server WAREHOUSE [--latency-ms N] [--page-rows N] [--generate-rows N] [--preencoded-pages]"
        );
        std::process::exit(2);
    };
    if generate > 0 {
        generate_wide(&warehouse, generate);
    }
    let server = bq_server::BqServer::start(&warehouse, faults);
    println!("BIGQUERY_EMULATOR_HOST={}", server.host());
    println!("BIGQUERY_STORAGE_EMULATOR_HOST={}", server.grpc_host());
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// `bench/wide.parquet`: N rows × 8 mixed columns (ints, floats, text, dates, timestamps, bools, decimals).
fn generate_wide(warehouse: &std::path::Path, rows: u64) {
    let conn = duckdb::Connection::open_in_memory().expect("DuckDB opens");
    let sql = format!(
        "SELECT i AS id, i % 1000 AS bucket, (i * 0.37)::DOUBLE AS score, 'name-' || (i % 50000) AS name,
                DATE '2020-01-01' + CAST(i % 2000 AS INTEGER) AS day,
                to_timestamp(1704067200 + i / 1000.0) AS ts,
                i % 3 = 0 AS flag, CAST((i % 100000) / 100.0 AS DECIMAL(12,2)) AS amount
         FROM range({rows}) t(i)"
    );
    let mut stmt = conn.prepare(&sql).expect("valid SQL");
    let arrow = stmt.query_arrow([]).expect("query runs");
    let schema = arrow.get_schema();
    let batches: Vec<_> = arrow.collect();
    da::output::write_file(
        &warehouse.join("bench/wide.parquet"),
        da::output::Format::Parquet,
        &schema,
        &batches,
    )
    .expect("written");
}
