"""Benchmark: vectorised predict() over 1,000,000 workloads, and the CLI's wall time beside `python -c pass`.

Prints a table and, as its last line, `predictions_per_s: N` for the mixed workloads (every phase,
kernel and pattern at once: the model's worst case; target: >= 1,000,000 on one core). A one-phase
sweep, the common case, is timed beside it.
Run: python benchmarks/bench_predict.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perfmodel.hardware import load_hardware  # noqa: E402
from perfmodel.predict import evaluate, predict, to_table  # noqa: E402


def workloads(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kv = rng.choice([1, 2, 4, 8, 32], n)
    phase = rng.choice(["prefill", "decode", "train"], n)
    kernel = np.where(phase == "decode", rng.choice(["naive", "flash", "flash-decoding"], n),
                      rng.choice(["naive", "flash"], n))
    return pd.DataFrame({
        "heads": np.full(n, 32), "kv_heads": kv, "head_dim": rng.choice([64, 128], n), "layers": np.full(n, 32),
        "batch": rng.integers(1, 64, n), "seq": rng.integers(128, 131072, n),
        "pattern": rng.choice(["dense", "local:4096", "strided:8", "hybrid:1024,64", "block:64,0.25"], n),
        "kernel": kernel, "phase": phase, "dtype": rng.choice(["fp16", "bf16", "fp32"], n),
        "causal": rng.random(n) < 0.8,
    })


def sweep(n: int, seed: int = 1) -> pd.DataFrame:
    """A typical design-space sweep: one phase, kernel and pattern; shapes, batch, length and dtype vary."""
    rng = np.random.default_rng(seed)
    kv = rng.choice([1, 2, 4, 8, 32], n)
    return pd.DataFrame({
        "heads": np.full(n, 32), "kv_heads": kv, "head_dim": rng.choice([64, 128], n), "layers": np.full(n, 32),
        "batch": rng.integers(1, 64, n), "seq": rng.integers(128, 131072, n), "kernel": "flash-decoding",
        "phase": "decode", "dtype": rng.choice(["fp16", "bf16"], n),
    })


def median_time(fn, repeats: int = 3) -> float:
    """Median wall time of `repeats` calls (the machine is shared: one call can be unlucky)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def wall(cmd: list[str], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    n = ap.parse_args().n
    df = workloads(n)
    hw = load_hardware("h100-sxm")
    sw = sweep(n)
    t = to_table({c: df[c].to_numpy() for c in df.columns})
    t0 = time.perf_counter()
    out = predict(df, hw)  # the first call in a process also warms the allocator and caches
    t_cold = time.perf_counter() - t0
    t_df = median_time(lambda: predict(df, hw))
    t_sweep = median_time(lambda: predict(sw, hw))
    t_core = median_time(lambda: evaluate(t, hw))
    assert len(out) == n and np.isfinite(out["latency_s"]).all()
    bare = wall([sys.executable, "-c", "pass"])
    cli = wall([sys.executable, "-m", "perfmodel", "predict", "--hw", "jetson"])
    rows = [
        ("predict(DataFrame), mixed, first call", f"{n:,} workloads", f"{t_cold:.3f} s", f"{n / t_cold:,.0f} /s"),
        ("predict(DataFrame), mixed workloads", f"{n:,} workloads", f"{t_df:.3f} s", f"{n / t_df:,.0f} /s"),
        ("evaluate() core (encoded table)", f"{n:,} workloads", f"{t_core:.3f} s", f"{n / t_core:,.0f} /s"),
        ("predict(DataFrame), one-phase sweep", f"{n:,} workloads", f"{t_sweep:.3f} s", f"{n / t_sweep:,.0f} /s"),
        ("python -c pass", "bare interpreter", f"{bare * 1e3:.0f} ms", "1.00x"),
        ("python -m perfmodel predict --hw jetson", "75-row comparison", f"{cli * 1e3:.0f} ms", f"{cli / bare:.2f}x"),
    ]
    print(f"{'what (median of 3 after a first call)':<42} {'size':<20} {'time':>10} {'rate / ratio':>16}")
    for r in rows:
        print(f"{r[0]:<42} {r[1]:<20} {r[2]:>10} {r[3]:>16}")
    print(f"cli_wall_s: {cli:.3f}  bare_python_wall_s: {bare:.3f}  ratio: {cli / bare:.2f}")
    print(f"predictions_per_s: {n / t_df:.0f}")


if __name__ == "__main__":
    main()
