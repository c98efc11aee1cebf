#!/usr/bin/env python3
"""Load test for `da serve` (loopback only, bounded): 200 concurrent POST /api/query/hybrid.

Starts the server on 127.0.0.1 with an ephemeral port over the demo warehouse, sends
N concurrent requests once per configuration, and prints status counts and latency
percentiles. Usage: benches/serve_load.py DA DEMO [N], where DA is the `da` binary and DEMO
the folder `make_warehouse` built the demo in; benches/serve_load.sh builds both and runs it.
Standard library only. Every request has a 60 s timeout; the script always stops the server.
"""
import hashlib, json, os, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor

if len(sys.argv) < 3:
    sys.exit(__doc__)
DA, DEMO = sys.argv[1], os.path.abspath(sys.argv[2])
TOKEN = "load-test-admin-token"
N = int(sys.argv[3]) if len(sys.argv) > 3 else 200
BODY = json.dumps({
    "register_bq": {"traffic": "SELECT date, SUM(views) AS views FROM `acme-prod.analytics.web` GROUP BY date"},
    "sql": "SELECT o.date, count(*) AS orders, t.views FROM orders o JOIN traffic t USING (date) GROUP BY ALL ORDER BY o.date",
}).encode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one(url):
    req = urllib.request.Request(url, data=BODY, headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception as e:  # connection errors count as failures, with their name
        status = type(e).__name__
    return status, time.perf_counter() - start


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def run(workdir, concurrent_limit):
    port = free_port()
    config = os.path.join(workdir, f"serve-{concurrent_limit}.yaml")
    with open(config, "w") as f:
        f.write(f"""bigquery: {{backend: local, local_warehouse: {DEMO}/warehouse}}
analytics: {{database: {DEMO}/analytics.duckdb, threads: 1}}
server:
  max_concurrent_queries: {concurrent_limit}
  tokens: [{{name: load, role: admin, sha256: {hashlib.sha256(TOKEN.encode()).hexdigest()}}}]
""")
    server = subprocess.Popen([DA, "serve", "--listen", f"127.0.0.1:{port}", "--config", config], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except Exception:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/api/query/hybrid"
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=N) as pool:
            results = list(pool.map(lambda _: one(url), range(N)))
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=10)
    counts = {}
    for status, _ in results:
        counts[status] = counts.get(status, 0) + 1
    ok = [t for s, t in results if s == 200]
    rejected = [t for s, t in results if s == 429]
    print(f"max_concurrent_queries={concurrent_limit}: {N} requests in {wall:.2f} s; status counts {counts}")
    if ok:
        print(f"  200 latency ms: p50 {pct(ok, 50)*1000:.0f}, p95 {pct(ok, 95)*1000:.0f}, p99 {pct(ok, 99)*1000:.0f}, max {max(ok)*1000:.0f}")
    if rejected:
        print(f"  429 latency ms: p50 {pct(rejected, 50)*1000:.0f}, p99 {pct(rejected, 99)*1000:.0f}")
    errors = [s for s, _ in results if s not in (200, 429)]
    print(f"  errors (neither 200 nor 429): {len(errors)}")


def main():
    with tempfile.TemporaryDirectory() as workdir:
        for limit in (4, N):
            run(workdir, limit)


if __name__ == "__main__":
    main()
