#!/usr/bin/env bash
# Load test of `da serve` (benches/serve_load.py) on freshly built binaries and a fresh demo
# warehouse. Usage: benches/serve_load.sh [N]
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init
bench_build
"$work/bin/make_warehouse" "$work/demo"
python3 "$BENCH_ROOT/benches/serve_load.py" "$DA" "$work/demo" "$@"
