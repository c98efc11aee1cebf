#!/usr/bin/env bash
# Benchmark (not a test): the same 500,000 rows × 8 mixed columns through REST pages and through
# the Storage Read API (Arrow over gRPC), same test server, same run, same plan → Parquet.
# Usage: benches/read_api.sh [ROWS]
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
"$srv" "$work/warehouse" --generate-rows "$rows" --page-rows 100000 > "$work/server.out" &
pids+=($!)
for _ in $(seq 1 600); do grep -q BIGQUERY_STORAGE_EMULATOR_HOST "$work/server.out" 2>/dev/null && break; sleep 0.1; done
HOST="$(sed -n 's/^BIGQUERY_EMULATOR_HOST=//p' "$work/server.out")"
GRPC="$(sed -n 's/^BIGQUERY_STORAGE_EMULATOR_HOST=//p' "$work/server.out")"
cat > "$work/p1.yaml" <<PLAN
version: 1
name: p1
register_bq:
  wide: SELECT * FROM \`bench.bench.wide\`
sql: SELECT * FROM wide
outputs: [{path: out/wide.parquet}]
limits: {max_result_rows: 10000000}
PLAN
for mode in never always never always; do
  printf 'bigquery: {backend: bigquery, project: bench, read_api: %s}\nremote_query: {max_bq_registration_rows: 10000000, max_memory_mb: 8192, max_result_rows: 10000000}\n' "$mode" > "$work/bq.yaml"
  start=$(date +%s.%N)
  BIGQUERY_EMULATOR_HOST="$HOST" BIGQUERY_STORAGE_EMULATOR_HOST="$GRPC" \
    /usr/bin/time -f "  peak RSS %M KiB, da CPU %U s user + %S s sys" \
    "$da" plan run "$work/p1.yaml" --config "$work/bq.yaml" --quiet --report "$work/r.json"
  end=$(date +%s.%N)
  python3 - "$work/r.json" "$mode" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); a = r["aliases"][0]
print(f"read_api: {sys.argv[2]:6}  {float(sys.argv[4]) - float(sys.argv[3]):.2f} s wall, fetch {a['fetch_ms']} ms, {a['rows']} rows, warnings {r['warnings']}")
PY
done
