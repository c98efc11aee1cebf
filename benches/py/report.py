"""The one table of benches/run.sh: medians of the samples in SAMPLES (lines of
`key<TAB>metric<TAB>value`, one per run), the ratio of `da` to its reference, the target and
whether it is met, as markdown on stdout. Usage: report.py SAMPLES. Standard library only.

A row whose samples are missing (a part not run, see `run.sh --only`) is left out; nothing
here is a constant result: every number is a median of what this run measured.
"""
import statistics
import sys

# (bench, what, da sample, reference sample, reference name, ratio, target)
#   sample:  (key, metric, unit)
#   ratio:   "faster" = reference / da, shown "N× faster"; "of" = da / reference, "N×"
#   target:  (kind, bound, text): kind "faster" (ratio ≥ bound), "of" (ratio ≤ bound),
#            "abs" (da's median ≤ bound, in its unit), "abs<" (strictly below); None: no target
ROWS = [
    ("P1 REST 500k×8", "wall", ("p1rest.da", "wall", "s"), ("p1rest.py", "wall", "s"),
     "Python stack", "faster", ("faster", 10, "≥10× faster")),
    ("P1 REST 500k×8", "client CPU", ("p1rest.da", "cpu", "s"), ("p1rest.floor", "cpu", "s"),
     "serde_json floor", "of", ("of", 2, "≤2×")),
    ("P1 REST 500k×8", "client CPU", ("p1rest.da", "cpu", "s"), ("p1rest.py", "cpu", "s"),
     "Python stack", "of", None),
    ("P1 REST 500k×8", "peak RSS", ("p1rest.da", "rss", "MB"), ("p1rest.py", "rss", "MB"),
     "Python stack", "of", None),
    ("P1 REST 500k×8", "wall", ("p1rest.da", "wall", "s"), ("p1rest.floor", "wall", "s"),
     "serde_json floor", "of", None),
    ("P1 Read API 5M×8", "wall", ("p1read.da", "wall", "s"), ("p1read.py", "wall", "s"),
     "Python + storage client", "faster", ("faster", 2, "≥2× faster")),
    ("P1 Read API 5M×8", "peak RSS", ("p1read.da", "rss", "MB"), ("p1read.py", "rss", "MB"),
     "Python + storage client", "of", ("of", 0.5, "≤0.5×")),
    ("P1 Read API 5M×8", "client CPU", ("p1read.da", "cpu", "s"), ("p1read.py", "cpu", "s"),
     "Python + storage client", "of", None),
    ("P2 8 aliases, 300 ms latency", "precheck phase", ("p2.eight", "phase_ms", "ms"),
     ("p2.one", "phase_ms", "ms"), "1 alias", "of", ("of", 1.3, "≤1.3×")),
    ("P2 8 aliases, 300 ms latency", "slowest alias's precheck", ("p2.eight", "slowest_ms", "ms"),
     ("p2.one", "slowest_ms", "ms"), "1 alias", "of", None),
    ("P2 8 aliases, 300 ms latency", "whole run", ("p2.eight", "run_ms", "ms"),
     ("p2.one", "run_ms", "ms"), "1 alias", "of", None),
    ("P3 5M rows → Parquet", "wall", ("p3.da.parquet", "wall", "s"),
     ("p3.duckdb.parquet", "wall", "s"), "DuckDB COPY", "of", ("of", 1.1, "≤1.1×")),
    ("P3 5M rows → Parquet", "peak RSS", ("p3.da.parquet", "rss", "MB"),
     ("p3.duckdb.parquet", "rss", "MB"), "DuckDB COPY", "of", ("abs", 300, "≤300 MB")),
    ("P3 5M rows → CSV", "wall", ("p3.da.csv", "wall", "s"), ("p3.duckdb.csv", "wall", "s"),
     "DuckDB COPY", "of", ("of", 1.1, "≤1.1×")),
    ("P3 5M rows → CSV", "peak RSS", ("p3.da.csv", "rss", "MB"),
     ("p3.duckdb.csv", "rss", "MB"), "DuckDB COPY", "of", ("abs", 300, "≤300 MB")),
    ("P4 plan check, 1000 plans", "wall", ("p4.da", "wall", "s"), None, "", None,
     ("abs<", 1, "<1 s")),
    ("P5 1M-row alias (Read API)", "peak RSS", ("p5.da", "rss", "MB"), ("p5.budget", "mb", "MB"),
     "1.5× Arrow bytes + 150 MB", "of", ("of", 1, "≤1× (the budget)")),
    ("P6 plan check one.yaml", "start-up", ("p6.da", "ms", "ms"), None, "", None,
     ("abs", 30, "≤30 ms")),
]


PHASES = ("fetch_ms", "register_ms", "final_ms")


def load(path):
    samples = {}
    with open(path) as f:
        for line in f:
            key, metric, value = line.rstrip("\n").split("\t")
            samples.setdefault((key, metric), []).append(float(value))
    return samples


def fmt(value, unit):
    if unit == "ms" or unit == "MB":
        return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def row(samples, spec):
    bench, what, da, ref, ref_name, ratio_kind, target = spec
    if (da[0], da[1]) not in samples or (ref and (ref[0], ref[1]) not in samples):
        return None
    da_runs = samples[(da[0], da[1])]
    da_med = statistics.median(da_runs)
    cells = [f"{bench}: {what}", f"{fmt(da_med, da[2])} (n={len(da_runs)})"]
    ratio = None
    if ref:
        ref_runs = samples[(ref[0], ref[1])]
        ref_med = statistics.median(ref_runs)
        cells.append(f"{fmt(ref_med, ref[2])} {ref_name} (n={len(ref_runs)})")
        if ratio_kind == "faster":
            ratio = ref_med / da_med
            cells.append(f"{ratio:.2f}× faster" if ratio >= 1 else f"{1 / ratio:.2f}× slower")
        else:
            ratio = da_med / ref_med
            cells.append(f"{ratio:.2f}×")
    else:
        cells += ["—", "—"]
    if target is None:
        cells += ["—", "—"]
    else:
        kind, bound, text = target
        met = {
            "faster": lambda: ratio >= bound,
            "of": lambda: ratio <= bound,
            "abs": lambda: da_med <= bound,
            "abs<": lambda: da_med < bound,
        }[kind]()
        cells += [text, "yes" if met else "**no**"]
    return "| " + " | ".join(cells) + " |"


def main():
    samples = load(sys.argv[1])
    lines = [
        "| bench | da | reference | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    lines += [r for r in (row(samples, spec) for spec in ROWS) if r]
    phases = [(key, [statistics.median(samples[(key, m)]) for m in PHASES])
              for key in ("p1rest.da", "p1read.da", "p5.da") if (key, PHASES[0]) in samples]
    if phases:
        lines.append("")
        lines.append("Where da's time goes (medians from its --report, ms: fetch / register / final "
                     "step with outputs): " + "; ".join(
                         f"{key} {' / '.join(f'{v:,.0f}' for v in values)}" for key, values in phases))
    servers = [(k[: -len(".server")], statistics.median(v)) for (k, m), v in sorted(samples.items())
               if k.endswith(".server") and m == "cpu"]
    if servers:
        lines.append("")
        lines.append("The test server's own CPU per timed client run (it answers from memory): " + ", ".join(
            f"{k} {v:.2f} s" for k, v in servers) + ".")
    if ("py.imports", "wall") in samples:
        lines.append("")
        lines.append("The Python stack's imports alone (google-cloud-bigquery, its storage client, "
                     f"pyarrow, duckdb) take {statistics.median(samples[('py.imports', 'wall')]):.2f} s "
                     "of its wall (median).")
    rows_seen = sorted((k, v) for (k, m), v in samples.items() if m == "rows")
    if rows_seen:
        lines.append("")
        lines.append("Rows each side read (every run): " + ", ".join(
            f"{k} {sorted(set(int(x) for x in v))}" for k, v in rows_seen))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
