"""Roofline: op costs + hardware -> latency, bound, attainable FLOP/s (pure numpy).

latency = max(matmul time + vector time, memory time) / parallel fraction + kernels x launch overhead,
with matmul time = FLOPs / (peak[dtype] x matmul efficiency), vector time = FLOPs / (vector peak x
vector efficiency), memory time = bytes / (bandwidth x memory efficiency) and the parallel fraction
min(1, independent tiles / cores). The efficiencies are data (profiles/hardware, replaced by
profiles/calibrated), never constants here.
"""

from __future__ import annotations

import numpy as np

BOUNDS = ("compute", "memory", "parallelism", "overhead")
COMPUTE, MEMORY, PARALLELISM, OVERHEAD = range(4)


def op_time(op: dict, hw, peak_mm):
    """(latency s, bound code, parallel fraction, compute s, memory s) of one op, arrays broadcast."""
    t_mm = op["flops_mm"] / (peak_mm * hw.eff_matmul)
    t_vec = op["flops_vec"] / (hw.vector_flops * hw.eff_vector)
    t_compute = t_mm + t_vec
    t_memory = op["bytes"] / (hw.mem_bw * hw.eff_memory)
    par = np.clip(op["tiles"] / hw.cores, 1e-9, 1.0)
    core = np.maximum(t_compute, t_memory)
    busy = core / par
    overhead = op["kernels"] * hw.launch_overhead_s
    bound = np.where(t_compute >= t_memory, COMPUTE, MEMORY)
    bound = np.where(par < 0.5, PARALLELISM, bound)  # more than half the cores idle
    bound = np.where(overhead > busy, OVERHEAD, bound)
    return busy + overhead, bound, par, t_compute, t_memory


def dominant_bound(times_by_bound: np.ndarray) -> np.ndarray:
    """times_by_bound (W, 4): seconds spent under each bound -> the code of the largest."""
    return np.argmax(times_by_bound, axis=1)
