"""Whole-process cost of each scripted mode, as a ratio to the floor program (bench/floor.py).

    python bench/startup.py [--runs N] [--json]

Each command runs N times after one warm-up; the figure is the median wall time.  The budget
(issue 2) is a ratio of at most 1.5.

Python caches compiled modules (``__pycache__``) unless PYTHONDONTWRITEBYTECODE is set, as it is
in some sandboxes and CI images.  The main figure runs both programs as on a usual machine (the
variable removed, so the warm-up run leaves the cache); the second compiles this project's
modules from source on every run, as a fresh clone does where the variable is set.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 1.5


def median_seconds(command: list[str], runs: int, env: dict | None = None) -> float:
    subprocess.run(command, cwd=ROOT, capture_output=True, check=True, env=env)   # warm the caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(runs: int) -> dict:
    import os
    sys.path.insert(0, str(ROOT))
    import modes
    usual = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    floor = median_seconds([sys.executable, "bench/floor.py"], runs, usual)
    result = {"floor_ms": round(floor * 1000, 1), "budget_ratio": BUDGET, "modes": {}}
    for name in modes.names():
        seconds = median_seconds([sys.executable, "demo.py", "--mode", name], runs, usual)
        result["modes"][name] = {"ms": round(seconds * 1000, 1), "ratio": round(seconds / floor, 2)}
    # This project's modules compiled from source on every run, as on a fresh clone where
    # PYTHONDONTWRITEBYTECODE is set: a copy with no __pycache__, run with the variable set
    # (Python's and rich's own modules keep their installed caches, as they would there).
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as copy:
        shutil.copy(ROOT / "demo.py", copy)
        for package in ("modes", "narration"):
            shutil.copytree(ROOT / package, Path(copy) / package, ignore=shutil.ignore_patterns("__pycache__"))
        bare = {**usual, "PYTHONDONTWRITEBYTECODE": "1"}
        result["ratio_without_bytecode_cache"] = {
            name: round(median_seconds([sys.executable, str(Path(copy) / "demo.py"), "--mode", name], runs, bare)
                        / floor, 2)
            for name in modes.names()}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    result = measure(options.runs)
    if options.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"floor program: {result['floor_ms']} ms (median of {options.runs})")
    for name, figures in result["modes"].items():
        verdict = "ok" if figures["ratio"] <= BUDGET else f"OVER the {BUDGET}x budget"
        print(f"  {name:<12} {figures['ms']:>7} ms  {figures['ratio']:>5}x  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
