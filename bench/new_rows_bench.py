"""New-rows benchmark: ``find_new_rows`` on digits-shaped data, contribution rows x training rows.

    PYTHONPATH=. .venv/bin/python bench/new_rows_bench.py [--sizes 10000,100000,1000000]
        [--data digits,uniform] [--tolerances 0,0.125] [--repeats 3] [--timeout 600]

Rows have the demo token's shape: 64 int pixels 0..16 and the label ``digit``.

* ``digits``: built from the demo's 1,500 images (base, benchmark, improving). The
  training set is 70% jittered copies of them (pixels moved by +-1 or +-2 with
  probability 0.3) and 30% new images (two images of a class blended with a random weight, moved by
  up to one pixel in each direction, then jittered by +-1);
  the contribution is 20% exact copies of training rows, 30% jittered copies of the
  demo images (some within the tolerance of a training row, some not) and 50% new
  images drawn independently. Every row has many same-class rows nearby, as uploads
  of real data do, so the buckets are full.
* ``uniform``: every pixel and label uniformly random; the contribution is 20% exact
  copies of training rows, 10% copies with pixels moved by up to 2 levels, 70% random.

Each measurement runs in a fresh process (``--measure``): the frames are built, the
process's peak RSS is reset to its RSS (``/proc/self/clear_refs``), then
``find_new_rows`` is timed (wall and the process's CPU seconds). "Peak RSS" is the process's VmHWM after the call: the
frames, the interpreter and the imports included; "over inputs" is that peak minus
the RSS just before the call. Prints one JSON line per run, then a table
of medians. Target (issue 16): 1M x 1M in <= 5 s and <= 2 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

PIXELS = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]


def _demo_images() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    folder = REPO_ROOT / "tokens" / "digits-demo"
    frame = pd.concat([pd.read_csv(folder / name) for name in ("base.csv", "benchmark.csv", "samples/improving.csv")])
    return frame[PIXELS].to_numpy(dtype=np.int64), frame["digit"].to_numpy(dtype=np.int64)


def _jitter(rng: np.random.Generator, images: np.ndarray, share: float, step: int) -> np.ndarray:
    moves = rng.integers(-step, step + 1, size=images.shape) * (rng.random(images.shape) < share)
    return np.clip(images + moves, 0, 16)


def _new_images(rng: np.random.Generator, images: np.ndarray, classes: np.ndarray, n: int):
    """New images of a class: two of its images blended (random weight), moved by up to one pixel, jittered."""
    first = rng.integers(0, len(images), n)
    by_class = np.argsort(classes, kind="stable")
    starts, counts = np.searchsorted(classes[by_class], np.arange(10)), np.bincount(classes, minlength=10)
    label = classes[first]
    second = by_class[starts[label] + (rng.random(n) * counts[label]).astype(np.int64)]
    weight = rng.random((n, 1))
    blend = np.rint(weight * images[first] + (1 - weight) * images[second]).astype(np.int64).reshape(n, 8, 8)
    shift = rng.integers(-1, 2, size=(n, 2))
    out = np.zeros_like(blend)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            chosen = (shift[:, 0] == dy) & (shift[:, 1] == dx)
            rows_to, rows_from = slice(max(dy, 0), 8 + min(dy, 0)), slice(max(-dy, 0), 8 - max(dy, 0))
            cols_to, cols_from = slice(max(dx, 0), 8 + min(dx, 0)), slice(max(-dx, 0), 8 - max(dx, 0))
            out[chosen, rows_to, cols_to] = blend[chosen, rows_from, cols_from]
    return _jitter(rng, out.reshape(n, 64), 0.3, 1), classes[first]


def _frame(pixels: np.ndarray, labels: np.ndarray):
    """A frame laid out as ``read_csv`` lays it out: one int64 block, each column contiguous."""
    import pandas as pd

    block = np.empty((65, len(pixels)), dtype=np.int64)
    block[:64], block[64] = pixels.T, labels
    return pd.DataFrame(block.T, columns=[*PIXELS, "digit"], copy=False)


def build(data: str, rows: int, training_rows: int, seed: int = 0):
    """(contribution, training) frames of the given kind and sizes (deterministic)."""
    rng = np.random.default_rng(seed)
    if data == "uniform":
        train_x, train_y = rng.integers(0, 17, size=(training_rows, 64)), rng.integers(0, 10, training_rows)
        pick = rng.integers(0, training_rows, rows)
        x, y = rng.integers(0, 17, size=(rows, 64)), rng.integers(0, 10, rows)
        kind = rng.random(rows)
        copy, near = kind < 0.2, (kind >= 0.2) & (kind < 0.3)
        x[copy], y[copy] = train_x[pick[copy]], train_y[pick[copy]]
        x[near], y[near] = _jitter(rng, train_x[pick[near]], 0.5, 2), train_y[pick[near]]
        return _frame(x, y), _frame(train_x, train_y)
    if data != "digits":
        raise ValueError(data)
    images, classes = _demo_images()

    def new_images(n):
        return _new_images(rng, images, classes, n)

    def jittered(n):
        source = rng.integers(0, len(images), n)
        return _jitter(rng, images[source], 0.3, 2), classes[source]

    parts = [jittered(int(training_rows * 0.7)), new_images(training_rows - int(training_rows * 0.7))]
    train_x, train_y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    copies = rng.integers(0, training_rows, int(rows * 0.2))
    parts = [(train_x[copies], train_y[copies]), jittered(int(rows * 0.3)), new_images(rows - len(copies) - int(rows * 0.3))]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    order = rng.permutation(rows)
    return _frame(x[order], y[order]), _frame(train_x, train_y)


def _rss_kib(field: str) -> int:
    return next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith(field + ":"))


def measure(data: str, rows: int, tolerance: float) -> dict:
    from hokusai.chain.new_rows import find_new_rows
    from hokusai.settings import REPO_ROOT as ROOT
    from hokusai.tokens.spec import load_token_spec

    spec = load_token_spec(ROOT / "tokens" / "digits-demo.yaml")
    contribution, training = build(data, rows, rows)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS: the peak below is the call's
    before = _rss_kib("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    found = find_new_rows(contribution, training, spec, tolerance=tolerance)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _rss_kib("VmHWM")
    return {"data": data, "rows": rows, "tolerance": tolerance, "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3), "load": round(os.getloadavg()[0], 1),
            "peak_rss_mib": round(peak / 1024), "over_inputs_mib": round((peak - before) / 1024),
            "exact_copies": found.exact_copies, "near_copies": found.near_copies, "new": int(found.keep.sum())}


def _limit_memory(gib: float) -> None:
    import resource

    limit = int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--data", default="digits,uniform")
    parser.add_argument("--tolerances", default="0,0.125")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a run is stopped")
    parser.add_argument("--memory-limit-gib", type=float, default=8,
                        help="address-space limit of each run (a run over it fails instead of swapping others out)")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], int(args.measure[1]), float(args.measure[2]))))
        return
    table, stopped = [], {}
    for data in args.data.split(","):
        for rows in (int(s) for s in args.sizes.split(",")):
            for tolerance in (float(t) for t in args.tolerances.split(",")):
                runs = []
                for _ in range(args.repeats):
                    try:
                        out = subprocess.run([sys.executable, __file__, "--measure", data, str(rows), str(tolerance)],
                                             check=True, capture_output=True, text=True, timeout=args.timeout,
                                             preexec_fn=lambda: _limit_memory(args.memory_limit_gib)).stdout
                    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as failed:
                        reason = "timeout" if isinstance(failed, subprocess.TimeoutExpired) else (
                            (failed.stderr or "").strip().splitlines() or ["failed"])[-1]
                        print(json.dumps({"data": data, "rows": rows, "tolerance": tolerance, "stopped": reason}),
                              flush=True)
                        stopped[(data, rows, tolerance)] = reason
                        break
                    runs.append(json.loads(out))
                    print(json.dumps(runs[-1]), flush=True)
                if runs:
                    print(f"median CPU {statistics.median(r['cpu_seconds'] for r in runs):.3f} s", flush=True)
                    table.append((data, rows, tolerance, statistics.median(r["seconds"] for r in runs),
                                  max(r["peak_rss_mib"] for r in runs), max(r["over_inputs_mib"] for r in runs),
                                  runs[-1], [r["seconds"] for r in runs]))
                else:
                    table.append((data, rows, tolerance, None, None, None, None, []))
    print("| data | rows x training rows | tolerance | median | peak RSS (max) | over inputs | exact / near / new | runs (s) |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for data, rows, tolerance, median, peak, over, last, seconds in table:
        if median is None:
            reason = stopped[(data, rows, tolerance)]
            shown = f"> {args.timeout:g} s" if reason == "timeout" else "failed"
            print(f"| {data} | {rows:,} x {rows:,} | {tolerance:g} | {shown} | — | — | — | {reason} |")
            continue
        counts = f"{last['exact_copies']:,} / {last['near_copies']:,} / {last['new']:,}"
        print(f"| {data} | {rows:,} x {rows:,} | {tolerance:g} | {median:.3f} s | {peak:,} MiB | {over:,} MiB "
              f"| {counts} | {', '.join(f'{s:.3f}' for s in seconds)} |")


if __name__ == "__main__":
    main()
