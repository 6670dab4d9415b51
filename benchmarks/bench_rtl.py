"""RTL accelerator benchmark: measured (RTL counters) vs predicted (hw.cycles) cycles across
densities and memory bandwidths, MAC utilisation, cycles relative to the dense job, error against
fp32 and estimated energy, side by side in one run.

    python benchmarks/bench_rtl.py [--block 8 --head-dim 16 --seq 128 --seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hw.simulate import simulate  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--block", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    runs = [
        (1.0, "gaussian", 1),
        (0.5, "gaussian", 1),
        (0.25, "gaussian", 1),
        (0.125, "gaussian", 1),
        (1.0, "outliers", 1),
        (1.0, "gaussian", 16),
        (1.0, "gaussian", 64),
        (0.25, "gaussian", 64),
    ]
    print(
        f"{'density':>7} {'inputs':>8} {'gap':>3} {'visited':>7} {'cycles':>8} {'predicted':>9} {'err%':>6} "
        f"{'util%':>6} {'x dense':>7} {'exact':>5} {'maxerr':>7} {'arith':>7} {'energy nJ':>9}"
    )
    dense = {}
    for density, kind, gap in runs:
        r = simulate(a.block, a.head_dim, a.seq, density, a.seed, kind, latency=20, rsp_gap=gap)
        total = r["counters"]["total_cycles"]
        dense.setdefault(gap, total)
        print(
            f"{density:7.3f} {kind:>8} {gap:3d} {r['blocks_visited']:7d} {total:8d} {r['predicted_total_cycles']:9d} "
            f"{100 * r['cycle_model_error']:+6.2f} {100 * r['utilisation']:6.1f} {total / dense[gap]:7.3f} "
            f"{'yes' if r['bit_exact'] else 'NO':>5} {r['error_vs_fp32']['max_abs_err_rel']:7.4f} "
            f"{r['error_vs_int8_reference']['max_abs_err_rel']:7.4f} {r['energy']['total_j'] * 1e9:9.1f}"
        )
    print(
        "gap = cycles per memory beat of head_dim bytes; maxerr = max |O - O_fp32| / max|V|; arith = the same"
    )
    print("against fp32 attention on the INT8-quantised inputs (what the fixed-point arithmetic adds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
