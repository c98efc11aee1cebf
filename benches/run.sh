#!/usr/bin/env bash
# Every benchmark of issue 12 (item 5) in one command and one table: `da` beside its
# reference on the same data, on the same machine, in the same run; each side runs RUNS
# times (interleaved) and the table shows medians, ratios, targets and whether they are met.
#   P1 REST      500k rows × 8 columns from the test server to Parquet: da (read_api: never)
#                vs the Python stack (google-cloud-bigquery REST + duckdb) vs the floor
#                (examples/rest_floor.rs: the same pages parsed by serde_json alone)
#   P1 Read API  5M rows × 8 columns: da (read_api: always) vs Python with its storage client
#   P2           8 aliases at 300 ms latency per jobs.query: the precheck phase vs 1 alias's
#   P3           a 5M-row final result to Parquet and to CSV: da vs DuckDB's own COPY
#   P4           `da plan check` over 1000 generated plans
#   P5           a 1M-row alias (Read API): peak RSS vs 1.5× its Arrow bytes + 150 MB
#   P6           `da plan check one.yaml` start-up, median of 30 runs
# The test servers run with --preencoded-pages and get one untimed warm-up run of each
# client first, so they answer from memory; they still share the 2 cores with the client.
#
# Usage: benches/run.sh [--only P1rest,P1read,P2,P3,P4,P5,P6] [--runs N] [--hold-lock] [OUT.md]
# Run it as is, not under flock: it takes the shared cargo lock (/tmp/da-cargo.lock, or
# $DA_CARGO_LOCK) itself, only while building, and runs copies of what it built; with
# --hold-lock it holds the lock for the whole run, so no build shares the cores. The first
# run also creates the Python venv ($HOME/.cache/da/bench-venv, from PyPI); that and the
# build are not part of the bench's own time, which it prints. Network: loopback only.
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"

runs=3
only="P1rest,P1read,P2,P3,P4,P5,P6"
out=""
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --hold-lock)
      shift
      # Again, whole, under the lock.
      [ "${DA_BENCH_LOCK_HELD:-}" = 1 ] || DA_BENCH_LOCK_HELD=1 exec flock "$BENCH_CARGO_LOCK" "$0" "${args[@]}"
      ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) out="$(realpath -m "$1")"; shift ;;
  esac
done
bench_init
wants() { [[ ",$only," == *",$1,"* ]]; }
py="$BENCH_ROOT/benches/py"
# shellcheck disable=SC2016 # backticks of a BigQuery table name
wide_sql='SELECT * FROM `bench.bench.wide`'

# bq_config READ_API FILE: the instance configuration of the BigQuery runs.
bq_config() {
  printf 'bigquery: {backend: bigquery, project: bench, read_api: %s}\nremote_query: {max_bq_registration_rows: 10000000, max_memory_mb: 8192}\n' "$1" > "$2"
}

# one_alias_plan FILE SQL: the alias `wide` = SQL, written to Parquet as it is.
one_alias_plan() {
  printf 'version: 1\nname: wide\nregister_bq:\n  wide: %s\nsql: SELECT * FROM wide\noutputs: [{path: out/wide.parquet}]\n' "$2" > "$1"
}

# da_fetch KEY HOST GRPC CONFIG PLAN: one measured `da plan run`; its rows and where its time
# went (from its report) become samples too.
da_fetch() {
  local rows fetch register final
  measure "$1" env BIGQUERY_EMULATOR_HOST="$2" BIGQUERY_STORAGE_EMULATOR_HOST="$3" \
    "$DA" plan run "$5" --config "$4" --quiet --report "$work/$1.json"
  read -r rows fetch register final < <("$PY" "$py/run_report.py" "$work/$1.json" rows fetch_ms register_ms final_ms)
  sample "$1" rows "$rows"
  sample "$1" fetch_ms "$fetch"
  sample "$1" register_ms "$register"
  sample "$1" final_ms "$final"
}

# py_fetch KEY MODE HOST GRPC: one measured run of the Python stack.
py_fetch() {
  measure "$1" "$PY" "$py/bq_ref.py" "$2" "$3" "$4" "$wide_sql" "$work/$1.parquet"
  sample "$1" rows "$(sed -n 's/^rows //p' "$work/$1.log")"
}

p1_rest() {
  say "P1 REST: 500,000 rows × 8 columns, pages of JSON ($runs runs each after a warm-up)"
  bq_config never "$work/rest.yaml"
  one_alias_plan "$work/p1rest.yaml" "$wide_sql"
  local floor=("$work/bin/rest_floor" "$REST_HOST" "$wide_sql" --page-rows 10000) cpu0
  # Warm-up: the server encodes every page each client asks for once.
  BIGQUERY_EMULATOR_HOST="$REST_HOST" "$DA" plan run "$work/p1rest.yaml" --config "$work/rest.yaml" --quiet
  "$PY" "$py/bq_ref.py" rest "$REST_HOST" "$REST_GRPC" "$wide_sql" "$work/warm.parquet" > /dev/null
  "${floor[@]}" > /dev/null
  cpu0=$(server_cpu REST)
  for _ in $(seq 1 "$runs"); do
    da_fetch p1rest.da "$REST_HOST" "$REST_GRPC" "$work/rest.yaml" "$work/p1rest.yaml"
    py_fetch p1rest.py rest "$REST_HOST" "$REST_GRPC"
    measure p1rest.floor "${floor[@]}"
    sample p1rest.floor rows "$(awk '{ print $1 }' "$work/p1rest.floor.log")"
  done
  server_share p1rest REST "$cpu0" $((3 * runs))
}

# server_share KEY NAME CPU_BEFORE RUNS: the test server's CPU per timed client run.
server_share() {
  sample "$1.server" cpu "$(awk -v a="$3" -v b="$(server_cpu "$2")" -v n="$4" 'BEGIN { printf "%.3f", (b - a) / n }')"
}

p1_read() {
  say "P1 Read API: 5,000,000 rows × 8 columns, Arrow over gRPC ($runs runs each after a warm-up)"
  bq_config always "$work/read.yaml"
  one_alias_plan "$work/p1read.yaml" "$wide_sql"
  local cpu0
  # Warm-up: the server encodes each stream and page once.
  BIGQUERY_EMULATOR_HOST="$READ_HOST" BIGQUERY_STORAGE_EMULATOR_HOST="$READ_GRPC" \
    "$DA" plan run "$work/p1read.yaml" --config "$work/read.yaml" --quiet
  "$PY" "$py/bq_ref.py" storage "$READ_HOST" "$READ_GRPC" "$wide_sql" "$work/warm.parquet" > /dev/null
  cpu0=$(server_cpu READ)
  for _ in $(seq 1 "$runs"); do
    da_fetch p1read.da "$READ_HOST" "$READ_GRPC" "$work/read.yaml" "$work/p1read.yaml"
    py_fetch p1read.py storage "$READ_HOST" "$READ_GRPC"
  done
  server_share p1read READ "$cpu0" $((2 * runs))
}

p2() {
  say "P2: 8 aliases vs 1, 300 ms latency on every jobs.query ($runs runs each)"
  bq_config never "$work/p2.yaml"
  local aliases="" joins="" i n
  for i in 0 1 2 3 4 5 6 7; do
    aliases+="  a$i: SELECT id, bucket FROM \`bench.bench.wide\` WHERE id < 1000 AND bucket >= $i"$'\n'
    [ "$i" -gt 0 ] && joins+=" JOIN a$i USING (id)"
  done
  printf 'version: 1\nname: p2-eight\nregister_bq:\n%ssql: SELECT count(*) FROM a0%s\n' "$aliases" "$joins" > "$work/p2-eight.yaml"
  printf 'version: 1\nname: p2-one\nregister_bq:\n%ssql: SELECT count(*) FROM a0\n' "$(head -n 1 <<< "$aliases")"$'\n' > "$work/p2-one.yaml"
  local phase slowest total
  # Warm-up: the server keeps each query's result, so the runs measure round trips, not
  # the server's DuckDB.
  for n in eight one; do
    BIGQUERY_EMULATOR_HOST="$SLOW_HOST" "$DA" plan run "$work/p2-$n.yaml" --config "$work/p2.yaml" --quiet > /dev/null
  done
  for _ in $(seq 1 "$runs"); do
    for n in eight one; do
      BIGQUERY_EMULATOR_HOST="$SLOW_HOST" "$DA" plan run "$work/p2-$n.yaml" --config "$work/p2.yaml" \
        --quiet --report "$work/p2-$n.json" > /dev/null
      read -r phase slowest total < <("$PY" "$py/run_report.py" "$work/p2-$n.json" prefetch_ms max_precheck_ms duration_ms)
      sample "p2.$n" phase_ms "$phase"
      sample "p2.$n" slowest_ms "$slowest"
      sample "p2.$n" run_ms "$total"
      say "  p2.$n: precheck phase $phase ms (slowest alias's precheck $slowest ms), whole run $total ms"
    done
  done
}

p3() {
  say "P3: a 5,000,000-row final result to Parquet and CSV, da vs DuckDB COPY, 2 threads ($runs runs each)"
  # The P1 table's 8 columns, generated by the query itself: the same data on both sides.
  cat > "$work/p3.sql" <<'SQL'
SELECT i AS id, i % 1000 AS bucket, (i * 0.37)::DOUBLE AS score, 'name-' || (i % 50000) AS name,
       DATE '2020-01-01' + CAST(i % 2000 AS INTEGER) AS day,
       to_timestamp(1704067200 + i / 1000.0) AS ts,
       i % 3 = 0 AS flag, CAST((i % 100000) / 100.0 AS DECIMAL(12,2)) AS amount
FROM range(5000000) t(i)
SQL
  printf 'analytics: {threads: 2, memory_limit: 2GB}\n' > "$work/p3.yaml"
  local fmt
  for fmt in parquet csv; do
    { printf 'version: 1\nname: p3-%s\nsql: |\n' "$fmt"; sed 's/^/  /' "$work/p3.sql"
      printf 'outputs: [{path: out/p3.%s}]\n' "$fmt"; } > "$work/p3-$fmt.yaml"
  done
  for _ in $(seq 1 "$runs"); do
    for fmt in parquet csv; do
      measure "p3.da.$fmt" "$DA" plan run "$work/p3-$fmt.yaml" --config "$work/p3.yaml" --quiet
      measure "p3.duckdb.$fmt" "$PY" "$py/copy_ref.py" "$work/p3.sql" "$work/p3-ref.$fmt" "$fmt" 2 2GB
    done
  done
}

p4() {
  say "P4: da plan check over 1000 generated plans ($runs runs after a warm-up)"
  [ -d "$work/plans" ] || gen_check_plans "$work/plans" 1000

  "$DA" plan check "$work/plans" --format json > /dev/null
  for _ in $(seq 1 "$runs"); do measure p4.da "$DA" plan check "$work/plans" --format json; done
}

p5() {
  say "P5: a 1,000,000-row alias through the Read API, peak RSS vs its Arrow bytes ($runs runs after a warm-up)"
  bq_config always "$work/read.yaml"
  one_alias_plan "$work/p5.yaml" "SELECT * FROM \`bench.bench.wide\` WHERE id < 1000000"
  local bytes
  BIGQUERY_EMULATOR_HOST="$READ_HOST" BIGQUERY_STORAGE_EMULATOR_HOST="$READ_GRPC" \
    "$DA" plan run "$work/p5.yaml" --config "$work/read.yaml" --quiet
  for _ in $(seq 1 "$runs"); do
    da_fetch p5.da "$READ_HOST" "$READ_GRPC" "$work/read.yaml" "$work/p5.yaml"
    bytes="$("$PY" "$py/run_report.py" "$work/p5.da.json" bytes)"
    sample p5.budget mb "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", 1.5 * b / 1e6 + 150 }')"
  done
}

p6() {
  say "P6: da plan check one.yaml start-up (30 runs after 3 warm-ups)"
  [ -f "$work/plans/p1.yaml" ] || gen_check_plans "$work/plans" 1
  local ms
  for ms in $("$PY" "$py/startup.py" 30 3 "$DA" plan check "$work/plans/p1.yaml"); do
    sample p6.da ms "$ms"
  done
}

started=$(date +%s)
bench_build
bench_venv
bench_start=$(date +%s)
# The servers generate their tables side by side.
if wants P1rest; then
  start_bq_server REST "$work/w-500k" --generate-rows 500000 --page-rows 100000 --preencoded-pages
fi
if wants P1read || wants P5; then
  start_bq_server READ "$work/w-5m" --generate-rows 5000000 --page-rows 100000 --preencoded-pages
fi
if wants P2; then
  start_bq_server SLOW "$work/w-1k" --generate-rows 1000 --latency-ms 300 --preencoded-pages
fi
wants P1rest && wait_bq_server REST
{ wants P1read || wants P5; } && wait_bq_server READ
wants P2 && wait_bq_server SLOW
say "test servers ready after $(($(date +%s) - bench_start)) s"

if wants P1rest || wants P1read; then
  for _ in $(seq 1 "$runs"); do
    measure py.imports "$PY" -c 'import duckdb, grpc, pyarrow, google.cloud.bigquery, google.cloud.bigquery_storage_v1'
  done
fi
wants P1rest && p1_rest
wants P1read && p1_read
wants P2 && p2
wants P3 && p3
wants P4 && p4
wants P5 && p5
wants P6 && p6

done_at=$(date +%s)
table="$("$PY" "$py/report.py" "$work/samples.tsv")"
held=""
if [ "${DA_BENCH_LOCK_HELD:-}" = 1 ]; then
  held="; the cargo lock was held throughout (--hold-lock), so no build ran beside"
fi
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
notes="Medians of $runs runs per side (P6: 30), interleaved, after one untimed warm-up per client
(P1, P2, P4, P5; P6: 3); $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($cpu), commit $(git -C "$BENCH_ROOT" rev-parse --short HEAD)$(git -C "$BENCH_ROOT" diff --quiet HEAD || echo '+changes'), dev profile.
Wall is the whole process (the Python stack's includes its imports); CPU (user + sys) and
peak RSS are the client process's alone. The test servers share the machine's cores$held.
Bench time: $((done_at - bench_start)) s (build and venv set-up before it: $((bench_start - started)) s)."
printf '%s\n\n%s\n' "$table" "$notes"
if [ -n "$out" ]; then
  printf '%s\n\n%s\n' "$table" "$notes" > "$out"
  say "written to $out"
fi
