# shellcheck shell=bash
# Shared start-up code of the bench scripts; source it, do not run it. It gives:
#   bench_init            $work, a temporary folder, removed on exit with every process
#                         started here
#   bench_build           build `da` and the example programs under the shared cargo lock and
#                         copy them to $work/bin ($DA is the copy), so the lock is held only
#                         while building and another worktree's build cannot swap them mid-bench
#                         (DA_BENCH_LOCK_HELD=1: the caller holds the lock already)
#   bench_venv            the pinned Python reference stack ($PY), made on the first run only
#   start_bq_server N W … start the loopback BigQuery test server over warehouse W (flags
#                         after W), in the background, so several can start side by side
#   wait_bq_server N      wait for server N's printed hosts; sets ${N}_HOST (REST) and
#                         ${N}_GRPC (Read API)
#   measure KEY CMD…      run CMD once; its wall (s), CPU (user + sys, s) and peak RSS (MB,
#                         10^6 bytes) become samples; its output goes to $work/KEY.log
#   sample KEY METRIC V   record one sample in $work/samples.tsv (benches/py/report.py reads it)
#   server_cpu N          CPU seconds (user + sys) test server N has used so far
#   gen_check_plans D N   N plans in D for `da plan check` (two aliases, a CTE, a window, …)
# Wall time is the process's, end to end; CPU and peak RSS come from /usr/bin/time and are
# the measured process's alone (with its threads and children), never a server's.

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da/target}"
# Every cargo command in this repository runs under this lock (the target dir is shared).
BENCH_CARGO_LOCK="${DA_CARGO_LOCK:-/tmp/da-cargo.lock}"
BENCH_VENV="${DA_BENCH_VENV:-$HOME/.cache/da/bench-venv}"
bench_pids=()

bench_init() {
  work="$(mktemp -d "${TMPDIR:-/tmp}/da-bench.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local pid
  for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "$*" >&2; }

bench_build() {
  say "building da and the example programs (under $BENCH_CARGO_LOCK) …"
  mkdir -p "$work/bin"
  local lock=(flock "$BENCH_CARGO_LOCK")
  # `run.sh --hold-lock` holds it already, for the whole run.
  [ "${DA_BENCH_LOCK_HELD:-}" = 1 ] && lock=()
  # shellcheck disable=SC2016 # expanded by the inner shell
  "${lock[@]}" bash -c 'set -euo pipefail
    cd "$1"; cargo build --quiet --bin da --examples
    for b in da examples/bq_test_server examples/rest_floor examples/make_warehouse; do
      cp "$CARGO_TARGET_DIR/debug/$b" "$2/"
    done' _ "$BENCH_ROOT" "$work/bin"
  # shellcheck disable=SC2034 # for the scripts that source this file
  DA="$work/bin/da"
}

bench_venv() {
  local req="$BENCH_ROOT/benches/requirements.txt" stamp
  stamp="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ "$(cat "$BENCH_VENV/.da-requirements" 2>/dev/null)" != "$stamp" ]; then
    say "setting up the Python reference stack in $BENCH_VENV (first run only; needs PyPI) …"
    python3 -m venv "$BENCH_VENV"
    "$BENCH_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    echo "$stamp" > "$BENCH_VENV/.da-requirements"
  fi
  # shellcheck disable=SC2034 # for the scripts that source this file
  PY="$BENCH_VENV/bin/python"
}

start_bq_server() {
  local name="$1" warehouse="$2"
  shift 2
  "$work/bin/bq_test_server" "$warehouse" "$@" > "$work/server-$name.out" 2>&1 &
  printf -v "${name}_PID" '%s' "$!"
  bench_pids+=("$!")
}

wait_bq_server() {
  local name="$1" out="$work/server-$1.out" pid_var="$1_PID" _
  # Generating millions of rows takes a while on 2 cores: wait up to 10 minutes.
  for _ in $(seq 1 6000); do
    grep -q '^BIGQUERY_STORAGE_EMULATOR_HOST=' "$out" && break
    kill -0 "${!pid_var}" 2>/dev/null || { cat "$out" >&2; die "test server $name exited"; }
    sleep 0.1
  done
  grep -q '^BIGQUERY_STORAGE_EMULATOR_HOST=' "$out" || die "test server $name did not start"
  printf -v "${name}_HOST" '%s' "$(sed -n 's/^BIGQUERY_EMULATOR_HOST=//p' "$out")"
  printf -v "${name}_GRPC" '%s' "$(sed -n 's/^BIGQUERY_STORAGE_EMULATOR_HOST=//p' "$out")"
}

server_cpu() {
  local pid_var="$1_PID"
  awk -v tck="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / tck }' "/proc/${!pid_var}/stat"
}

sample() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$work/samples.tsv"; }

measure() {
  local key="$1" t0 t1 user sys rss wall
  shift
  t0=$(date +%s%N)
  if ! /usr/bin/time -f 'TIME %U %S %M' -o "$work/time.out" "$@" > "$work/$key.log" 2>&1; then
    tail -n 20 "$work/$key.log" >&2
    die "$key failed: $*"
  fi
  t1=$(date +%s%N)
  read -r _ user sys rss < <(grep '^TIME ' "$work/time.out")
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  sample "$key" wall "$wall"
  sample "$key" cpu "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
  sample "$key" rss "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')"
  say "  $key: ${wall} s wall, $user s user + $sys s sys, $((rss * 1024 / 1000000)) MB peak RSS"
}

gen_check_plans() {
  local dir="$1" n="$2" i
  mkdir -p "$dir"
  for i in $(seq 1 "$n"); do
    cat > "$dir/p$i.yaml" <<PLAN
version: 1
name: plan-$i
params:
  since: {type: date, default: "2026-01-01"}
  top: {type: integer, default: $i}
register_bq:
  traffic_$i:
    sql: |
      SELECT date, page, SUM(views) AS views
      FROM \`acme-prod.analytics.web\`
      WHERE date > @since AND page LIKE '%/docs/%'
      GROUP BY date, page
    max_rows: 10000
  revenue_$i: SELECT date, SUM(amount) AS revenue FROM \`acme-prod.analytics.orders\` WHERE amount > $i GROUP BY 1
sql: |
  WITH daily AS (
    SELECT o.date, count(*) AS orders, sum(o.amount) AS amount
    FROM orders o
    WHERE o.date >= \$since
    GROUP BY ALL
  )
  SELECT d.date, d.orders, d.amount, t.views, r.revenue,
         round(r.revenue / nullif(t.views, 0), 4) AS revenue_per_view,
         row_number() OVER (ORDER BY r.revenue DESC) AS rank
  FROM daily d
  JOIN traffic_$i t USING (date)
  LEFT JOIN revenue_$i r USING (date)
  WHERE coalesce(r.revenue, 0) > 0
  ORDER BY rank
  LIMIT {{ top }}
outputs:
  - path: out/p$i.parquet
PLAN
  done
}
