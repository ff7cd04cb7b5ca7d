"""Time to regenerate every image (all modes: SVG and PNG; lessons: SVG), as one whole process.

    python bench/screenshots.py [--runs N]

Runs what `python images/regenerate.py` runs, into a temporary folder, N times; the figure is the
median wall time, start-up included.  The budget: issue 6 set 3 s for 17 images; issue 17 allows
at most twice the time measured when it began (4.04 s for 23 images, bench/RESULTS.md), 8.08 s,
with light variants, recordings' images and new lessons added.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 8.08          # 2 x 4.04 s, the figure when issue 17 began
PROGRAM = ("import sys; from pathlib import Path; sys.path.insert(0, 'images'); "
           "from regenerate import regenerate; regenerate(Path(sys.argv[1]))")


def measure(runs: int = 3) -> dict:
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs + 1):                 # the first run warms the caches and is not counted
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", PROGRAM, folder], cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        count = len(list(Path(folder).iterdir()))
    seconds = statistics.median(times[1:])
    return {"images": count, "seconds": round(seconds, 2), "budget_s": BUDGET_S, "within_budget": seconds <= BUDGET_S}


if __name__ == "__main__":
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    figures = measure(runs)
    print(f"regenerated {figures['images']} images in {figures['seconds']} s (median of {runs}; budget {BUDGET_S} s)")
