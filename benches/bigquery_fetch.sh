#!/usr/bin/env bash
# BigQuery REST → DuckDB → Parquet (P1 REST) and 8 aliases at 300 ms latency (P2): the
# rows of benches/run.sh, which holds the code. Usage: benches/bigquery_fetch.sh [OUT.md]
set -euo pipefail
exec "$(dirname "$0")/run.sh" --only P1rest,P2 "$@"
