"""Side-by-side speedups of the reference kernels, measured in one run (not a timed test).

  python benchmarks/bench_kernels.py [--threads T] [--repeats R] [--seq N]

Prefill (B=1, H=8, d=64, fp32, N=4096 by default), each ratio against dense torch SDPA of the same
causality: block-sparse (block-gather over block_visits) at density 0.25, and sliding window w = N/8.
Decode (B=4, H=32, d=128, KV cache N): MHA vs GQA (8 KV heads) vs MQA (1 KV head), split-KV kernel.
Kernels run round-robin (one call of each per round) so drifts in machine load hit all of them alike;
each reports the median over the rounds, its IQR and the minimum.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perfmodel.kernels import prepare  # noqa: E402
from perfmodel.profile import cpu_description  # noqa: E402


def rounds(cases: dict, repeats: int) -> dict:
    """cases: name -> call(); returns name -> list of seconds, measured round-robin after a warm-up."""
    for call in cases.values():
        call()
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, call in cases.items():
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
    return times


def prefill_cases(n: int, causal: bool):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 8, n, 64, generator=g) for _ in range(3))
    specs = {
        "dense (SDPA)": "dense",
        "block:64,0.25": "block:64,0.25",
        "block:128,0.25": "block:128,0.25",
        f"local:{n // 8}": f"local:{n // 8}",
    }
    cases = {}
    for name, spec in specs.items():
        fn = prepare("flash", spec, n, causal)
        cases[name] = lambda fn=fn: fn(q, k, v)
    return cases


def decode_cases(n: int, kernel: str):
    g = torch.Generator().manual_seed(0)
    cases = {}
    for label, kv in (("MHA (32 KV heads)", 32), ("GQA (8 KV heads)", 8), ("MQA (1 KV head)", 1)):
        q = torch.randn(4, 32, 1, 128, generator=g)
        k, v = torch.randn(4, kv, n, 128, generator=g), torch.randn(4, kv, n, 128, generator=g)
        fn = prepare(kernel, "dense", n, phase="decode")
        cases[label] = lambda fn=fn, q=q, k=k, v=v: fn(q, k, v)
    return cases


def table(title: str, times: dict, base: str) -> None:
    """Median, IQR and min per kernel; speedups of the medians and of the minima (the minimum is the
    estimate least disturbed by other load on a shared machine)."""
    med = {name: statistics.median(ts) for name, ts in times.items()}
    low = {name: min(ts) for name, ts in times.items()}
    print(f"\n{title}")
    print(f"  {'kernel':<20} {'median ms':>10} {'IQR ms':>8} {'min ms':>8} {'speedup':>8} {'(of min)':>9}")
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4) if len(ts) > 1 else [ts[0]] * 3
        print(
            f"  {name:<20} {med[name] * 1e3:10.2f} {(q[2] - q[0]) * 1e3:8.2f} {low[name] * 1e3:8.2f} "
            f"{med[base] / med[name]:7.2f}x {low[base] / low[name]:8.2f}x"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--seq", type=int, default=4096)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    n = args.seq
    print(
        f"{cpu_description()}, torch {torch.__version__}, {torch.get_num_threads()} threads, fp32, "
        f"median of {args.repeats} round-robin rounds"
    )
    for causal in (True, False):
        title = (
            f"prefill N={n}, B=1, H=8, d=64, {'causal' if causal else 'non-causal'} (speedup vs dense SDPA)"
        )
        table(title, rounds(prefill_cases(n, causal), args.repeats), "dense (SDPA)")
    for kernel in ("flash-decoding", "flash"):
        title = f"decode {kernel}: KV cache N={n}, B=4, H=32, d=128 (speedup vs MHA)"
        table(title, rounds(decode_cases(n, kernel), args.repeats), "MHA (32 KV heads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
