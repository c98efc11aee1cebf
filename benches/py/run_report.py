"""Numbers from a `da plan run --report` file, for benches/run.sh, printed on one line in the
order asked. Standard library only.
Usage: run_report.py FILE FIELD...   with FIELD one of
  rows, bytes:        summed over the aliases (bytes: their Arrow bytes)
  fetch_ms, register_ms: summed over the aliases
  max_precheck_ms:    the slowest alias's precheck (its dry runs + its COUNT)
  prefetch_ms:        the run before the fetch: the whole run less the fetch (aliases are
                      fetched side by side: the slowest alias's), the registrations and the
                      final step; that is the dry runs and COUNTs of every alias side by side,
                      with the BigQuery client's and DuckDB's set-up between them
  final_ms:           the final step, outputs written included
  duration_ms:        the whole run
"""
import json
import sys

report = json.load(open(sys.argv[1]))
if not report["ok"]:
    sys.exit(f"the run failed: {report['error']}")
aliases = report["aliases"]
fields = {
    "rows": lambda: sum(a["rows"] for a in aliases),
    "bytes": lambda: sum(a["bytes"] for a in aliases),
    "fetch_ms": lambda: sum(a["fetch_ms"] for a in aliases),
    "register_ms": lambda: sum(a["register_ms"] for a in aliases),
    "max_precheck_ms": lambda: max(a["precheck_ms"] for a in aliases),
    "final_ms": lambda: report["final"]["duration_ms"],
    "prefetch_ms": lambda: report["duration_ms"] - max(a["fetch_ms"] for a in aliases)
    - sum(a["register_ms"] for a in aliases) - report["final"]["duration_ms"],
    "duration_ms": lambda: report["duration_ms"],
}
print(" ".join(str(fields[f]()) for f in sys.argv[2:]))
