"""What the block-sparse accelerator buys against GPUs and edge devices, for one attention workload.

The accelerator side uses the cycle model (hw/cycles.py, within 0.01% of the RTL counters in the
tests) on a concrete random block mask, the event counts the RTL's counters would report (the
golden model's bookkeeping, without its arithmetic) and the per-event energies of hw/energy.py.
The device side is perfmodel's prediction of the same attention core (block-sparse pattern, tiled
kernel, INT8 where the device has an INT8 peak), energy = device power x time.
Assumed and stated in the output: the accelerator's clock, its process node (energy), that `cores`
copies of the core run heads in parallel with their own memory port, and (for event counts) the
rescale count (data-dependent: its upper bound, B per visited block after a row's first).
"""

from __future__ import annotations

import numpy as np

from hw.accel import ASSUMED_CLOCK_HZ
from hw.config import AccelConfig
from hw.cycles import predict
from hw.energy import job_energy
from hw.golden import parse_rows
from hw.jobs import random_mask


def event_counts(cfg: AccelConfig, rows: list[list[int]], nk: int, total_cycles: int) -> dict:
    """The RTL's event counters for a job, from its block lists alone (rescales: upper bound)."""
    b, d, p = cfg.block, cfg.head_dim, cfg.macs
    kept, _ = parse_rows(rows, nk)
    visited = sum(len(k) for k in kept)
    busy_rows = sum(1 for k in kept if k)
    s_cycles, pv_cycles = b * (b // p) * d, b * b * (d // p)
    sram_wr = busy_rows * b * d + visited * 2 * b * d
    return {
        "total_cycles": total_cycles,
        "busy_cycles": visited * (s_cycles + pv_cycles),
        "blocks_visited": visited,
        "blocks_skipped": len(rows) * nk - visited,
        "macs": visited * 2 * b * b * d,
        "exps": visited * b * b,
        "rescales": (visited - busy_rows) * b,
        "divides": busy_rows * b,
        "sram_rd_bytes": visited * (s_cycles * (1 + p) + pv_cycles * p),
        "sram_wr_bytes": sram_wr,
        "stream_in_bytes": sum(2 * (1 + len(r)) for r in rows) + sram_wr,
        "stream_out_bytes": len(rows) * b * d,
    }


def accelerator_point(cfg: AccelConfig, seq: int, density: float, jobs: int, cores: int = 1, seed: int = 0,
                      latency: int = 4, rsp_gap: int = 1, clock_hz: float = ASSUMED_CLOCK_HZ) -> dict:
    """Time and energy of `jobs` one-head attention jobs (batch x heads) on `cores` copies of the core."""
    n = seq // cfg.block
    rows = random_mask(np.random.default_rng(seed), n, n, density)
    cycles = predict(cfg, rows, n, latency=latency, rsp_gap=rsp_gap)["total_cycles"]
    energy = job_energy(cfg, event_counts(cfg, rows, n, cycles))
    waves = -(-jobs // cores)
    return {
        "target": f"bsa {cfg.label} x{cores}", "cycles_per_job": cycles, "latency_s": waves * cycles / clock_hz,
        "energy_j": jobs * energy["total_j"], "off_chip_energy_j": jobs * energy["off_chip_j"],
        "density": sum(len(r) for r in rows) / (n * n), "bound": "cycle model",
        "note": f"clock {clock_hz / 1e9:g} GHz assumed; {energy['assumptions']}",
    }


def device_points(devices: list[str], heads: int, head_dim: int, seq: int, batch: int, block: int,
                  density: float) -> list[dict]:
    """perfmodel's attention core (one layer, non-causal block-sparse, flash) on each device."""
    from perfmodel import Workload, load_hardware, predict  # noqa: PLC0415

    out = []
    for name in devices:
        hw = load_hardware(name)
        dtype = "int8" if "int8" in hw.peak_flops else "fp16"
        w = Workload(heads=heads, head_dim=head_dim, seq=seq, batch=batch, layers=1, causal=False,
                     pattern=f"block:{block},{density:g}", kernel="flash", phase="prefill", dtype=dtype)
        r = predict(w, hw).iloc[0]
        out.append({
            "target": hw.id, "latency_s": float(r["latency_attn_s"]),
            "energy_j": float(r["latency_attn_s"]) * hw.power_w, "bound": str(r["bound_attn"]),
            "note": f"{dtype}, {'calibrated' if hw.calibrated else 'assumed efficiencies'}, {hw.power_w:g} W",
        })
    return out
