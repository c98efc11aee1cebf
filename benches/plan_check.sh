#!/usr/bin/env bash
# Benchmark: `da plan check` over 1000 generated plans (target: under 2 s on 2 cores).
# Optional comparison: sqlfluff linting the same SQL, when it can be installed from PyPI.
# Usage: benches/plan_check.sh [N]   (prints the numbers; not a test)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/da/target}"
n="${1:-1000}"
# The dev profile (dependencies optimised) is the one that is already built; a release build
# would compile DuckDB a second time.
cargo build --quiet
bin="$CARGO_TARGET_DIR/debug/da"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plans" "$work/sql"
for i in $(seq 1 "$n"); do
  cat > "$work/plans/p$i.yaml" <<PLAN
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
  printf 'SELECT date, page, SUM(views) AS views FROM web WHERE page LIKE %s GROUP BY date, page\n' "'%/docs/%'" > "$work/sql/p$i.sql"
done
echo "plans: $n in $work/plans; binary: $bin"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs 5 "$bin plan check $work/plans --format json > /dev/null"
else
  for r in 1 2 3; do /usr/bin/time -f "da plan check: %e s wall, %M KiB max RSS" "$bin" plan check "$work/plans" --format json > /dev/null; done
fi
if python3 -m venv "$work/venv" >/dev/null 2>&1 && "$work/venv/bin/pip" install --quiet sqlfluff >/dev/null 2>&1; then
  /usr/bin/time -f "sqlfluff lint ($n files): %e s wall" "$work/venv/bin/sqlfluff" lint --dialect duckdb --processes 2 "$work/sql" > /dev/null || true
else
  echo "sqlfluff not installable here; no comparison"
fi
