//! The floor of a REST fetch, for benchmarks: one query's result pages fetched from a
//! BigQuery endpoint (the loopback test server) and each body parsed by
//! `serde_json::from_slice::<serde_json::Value>`, nothing else: no typed model, no Arrow.
//! `cargo run --example rest_floor -- HOST SQL [--page-rows N] [--int64-timestamp]`
//! POSTs jobs.query with `maxResults` N (default 10,000, the page `da` asks for), then
//! GETs getQueryResults page by page until there is no page token, and prints the rows and
//! pages it saw. Plain HTTP, no credentials.

// An example program: the terminal is its edge.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use serde_json::{Value, json};

const PROJECT: &str = "bench";

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut host, mut sql, mut page_rows, mut int64_ts) = (None, None, 10_000u64, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--page-rows" => page_rows = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--int64-timestamp" => int64_ts = true,
            other if host.is_none() => host = Some(other.to_owned()),
            other => sql = Some(other.to_owned()),
        }
    }
    let (Some(host), Some(sql)) = (host, sql) else {
        eprintln!("usage: rest_floor HOST SQL [--page-rows N] [--int64-timestamp]");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (rows, pages) = runtime.block_on(fetch(&host, &sql, page_rows, int64_ts));
    println!("{rows} rows in {pages} pages");
}

/// Every page of `sql`'s result, each parsed into a `Value`: (rows, pages).
async fn fetch(host: &str, sql: &str, page_rows: u64, int64_ts: bool) -> (usize, usize) {
    let client = reqwest::Client::new();
    let base = format!("http://{host}/bigquery/v2/projects/{PROJECT}");
    let request = json!({"query": sql, "useLegacySql": false, "maxResults": page_rows,
                         "formatOptions": {"useInt64Timestamp": int64_ts}});
    let body = client
        .post(format!("{base}/queries"))
        .header("content-type", "application/json")
        .body(request.to_string())
        .send()
        .await
        .expect("jobs.query answers");
    let mut page = parse(&body.bytes().await.expect("a body"));
    let job = page["jobReference"]["jobId"]
        .as_str()
        .expect("a job id")
        .to_owned();
    let (mut rows, mut pages) = (0, 0);
    loop {
        rows += page["rows"].as_array().map_or(0, Vec::len);
        pages += 1;
        let Some(token) = page["pageToken"].as_str().map(str::to_owned) else {
            return (rows, pages);
        };
        let body = client
            .get(format!("{base}/queries/{job}"))
            .query(&[("maxResults", page_rows.to_string()), ("pageToken", token)])
            .send()
            .await
            .expect("getQueryResults answers");
        page = parse(&body.bytes().await.expect("a body"));
    }
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(body).expect("a JSON body")
}
