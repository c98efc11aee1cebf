#!/usr/bin/env bash
# `da plan check` over N generated plans (benches/run.sh P4 measures it with N = 1000), with
# sqlfluff linting one statement per plan beside it when it can be installed from PyPI.
# Usage: benches/plan_check.sh [N]   (prints the numbers; not a test)
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init
n="${1:-1000}"
bench_build
gen_check_plans "$work/plans" "$n"
mkdir -p "$work/sql"
for i in $(seq 1 "$n"); do
  printf 'SELECT date, page, SUM(views) AS views FROM web WHERE page LIKE %s GROUP BY date, page\n' "'%/docs/%'" > "$work/sql/p$i.sql"
done
for _ in 1 2 3; do measure plan_check "$DA" plan check "$work/plans" --format json; done
if python3 -m venv "$work/venv" >/dev/null 2>&1 && "$work/venv/bin/pip" install --quiet sqlfluff >/dev/null 2>&1; then
  measure sqlfluff "$work/venv/bin/sqlfluff" lint --nofail --dialect duckdb --processes 2 "$work/sql"
else
  say "sqlfluff not installable here; no comparison"
fi
