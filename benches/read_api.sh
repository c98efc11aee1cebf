#!/usr/bin/env bash
# REST pages (P1 REST, 500k rows) and the Storage Read API (P1 Read API, 5M rows), each
# beside the Python stack: the rows of benches/run.sh, which holds the code.
# Usage: benches/read_api.sh [OUT.md]
set -euo pipefail
exec "$(dirname "$0")/run.sh" --only P1rest,P1read "$@"
