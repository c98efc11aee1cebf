"""Start-up time of a short command (benches/run.sh P6): WARMUP untimed runs, then RUNS
timed ones; prints each run's wall in milliseconds, one a line. Standard library only.
Usage: startup.py RUNS WARMUP CMD...
"""
import subprocess
import sys
import time

runs, warmup, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
for i in range(warmup + runs):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    ms = (time.perf_counter() - t) * 1000
    if i >= warmup:
        print(f"{ms:.2f}")
