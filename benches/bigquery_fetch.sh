#!/usr/bin/env bash
# Benchmark (not a test): BigQuery REST pages → Arrow → DuckDB → Parquet through the real
# client against the loopback test server, and the reference Python stack on the same server.
#   P1: 500,000 rows × 8 mixed columns, pages of 100,000 rows; rows/s and peak RSS.
#   P2: 8 aliases with 300 ms injected latency; the precheck phase should take ~1 round trip.
# Usage: benches/bigquery_fetch.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da/target}"
rows="${1:-500000}"
cargo build --quiet --examples --bin da
da="$CARGO_TARGET_DIR/debug/da"
srv="$CARGO_TARGET_DIR/debug/examples/bq_test_server"
work="$(mktemp -d)"; pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
start_server() { # args: extra flags; sets HOST
  "$srv" "$work/warehouse" "$@" > "$work/server.out" &
  pids+=($!)
  for _ in $(seq 1 600); do grep -q BIGQUERY_EMULATOR_HOST "$work/server.out" 2>/dev/null && break; sleep 0.1; done
  HOST="$(sed -n 's/^BIGQUERY_EMULATOR_HOST=//p' "$work/server.out")"
}

start_server --generate-rows "$rows" --page-rows 100000
printf 'bigquery: {backend: bigquery, project: bench}\nremote_query: {max_bq_registration_rows: 10000000, max_memory_mb: 8192, max_result_rows: 10000000}\n' > "$work/bq.yaml"
cat > "$work/p1.yaml" <<PLAN
version: 1
name: p1
register_bq:
  wide: SELECT * FROM \`bench.bench.wide\`
sql: SELECT * FROM wide
outputs: [{path: out/wide.parquet}]
limits: {max_result_rows: 10000000}
PLAN
echo "P1 da: $rows rows x 8 columns"
for r in 1 2; do
  start=$(date +%s.%N)
  BIGQUERY_EMULATOR_HOST="$HOST" /usr/bin/time -f "  peak RSS %M KiB, CPU %U s user + %S s sys (da only; the server shares the 2 cores)" "$da" plan run "$work/p1.yaml" --config "$work/bq.yaml" --quiet
  end=$(date +%s.%N)
  python3 -c "s=$end-$start; print(f'  {s:.2f} s wall, {$rows/s:,.0f} rows/s (includes dry run + COUNT prechecks)')"
done

if python3 -m venv "$work/venv" >/dev/null 2>&1 && "$work/venv/bin/pip" install --quiet google-cloud-bigquery pyarrow duckdb >/dev/null 2>&1; then
  cat > "$work/ref.py" <<'PY'
import sys, time, resource, duckdb
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
host, out = sys.argv[1], sys.argv[2]
client = bigquery.Client(project="bench", credentials=AnonymousCredentials(), client_options={"api_endpoint": f"http://{host}"})
t = time.perf_counter()
table = client.query_and_wait("SELECT * FROM `bench.bench.wide`", page_size=100000).to_arrow(create_bqstorage_client=False)
con = duckdb.connect()
con.register("wide", table)
con.execute(f"COPY (SELECT * FROM wide) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
s = time.perf_counter() - t
print(f"  {s:.2f} s wall, {table.num_rows/s:,.0f} rows/s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KiB")
PY
  echo "P1 reference (google-cloud-bigquery to_arrow without the storage client + duckdb register + COPY):"
  for r in 1 2; do "$work/venv/bin/python" "$work/ref.py" "$HOST" "$work/ref.parquet" || echo "  reference failed"; done
else
  echo "P1 reference: could not install google-cloud-bigquery from PyPI"
fi

# P2 runs over a small table, so the server's own work does not hide the round trips.
mkdir -p "$work/small"; mv "$work/warehouse" "$work/big"
"$srv" "$work/warehouse" --generate-rows 1000 > /dev/null & gen=$!
for _ in $(seq 1 300); do [ -f "$work/warehouse/bench/wide.parquet" ] && break; sleep 0.1; done; kill "$gen" 2>/dev/null || true
start_server --latency-ms 300
aliases=""; joins=""
for i in 0 1 2 3 4 5 6 7; do
  aliases+="  a$i: SELECT id, bucket FROM \`bench.bench.wide\` WHERE id < 1000 AND bucket >= $i"$'\n'
  [ "$i" -gt 0 ] && joins+=" JOIN a$i USING (id)"
done
printf 'version: 1\nname: p2\nregister_bq:\n%ssql: SELECT count(*) FROM a0%s\n' "$aliases" "$joins" > "$work/p2.yaml"
echo "P2: 8 aliases, 300 ms latency per jobs.query (each precheck = dry run + COUNT = 2 round trips)"
BIGQUERY_EMULATOR_HOST="$HOST" "$da" plan run "$work/p2.yaml" --config "$work/bq.yaml" --quiet --report "$work/p2.json" > /dev/null
python3 - "$work/p2.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
pre = [a["precheck_ms"] for a in r["aliases"]]
print(f"  per-alias precheck ms: min {min(pre)}, max {max(pre)}; whole run {r['duration_ms']} ms")
print(f"  sequential prechecks would take >= {8*2*300} ms")
PY
