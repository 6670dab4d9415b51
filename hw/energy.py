"""Energy of a job: per-event energies times the RTL's performance counters.

Per-event energies come from shared/facts/energy-area.md: M. Horowitz, "Computing's energy
problem", ISSCC 2014 (45 nm, 0.9 V) and the Aladdin 40 nm component library. Assumed: the core is
built in a 45 nm-class process at 0.9 V and 1 GHz; an event's energy is the sum of the listed
operations it performs (stated next to each entry); no scaling to another node is applied.
"""

from __future__ import annotations

from hw.config import AccelConfig

PJ = 1e-12


# Each entry: (joules per event, how it is made up). Sources: H = Horowitz ISSCC 2014 (45 nm),
# A = Aladdin 40 nm library; "assumed" where the composition is our estimate.
def event_energies(cfg: AccelConfig) -> dict[str, tuple[float, str]]:
    d = cfg.head_dim
    return {
        "macs": (0.2 * PJ + 0.1 * PJ, "8-bit multiply 0.2 pJ + 32-bit add 0.1 pJ (H)"),
        "exps": (
            0.1 * PJ + 0.1 * PJ,
            "20-bit subtract ~0.1 pJ + LUT read and 9-bit shift ~0.1 pJ (assumed from H adds)",
        ),
        "rescales": (
            (d + 1) * 0.1 * PJ,
            "shift of D accumulators and the row sum, one 32-bit add each (H, assumed)",
        ),
        "divides": (
            (cfg.rs - 6) * 0.1 * PJ + d * 3.1 * PJ,
            "RS-6 subtract steps of 0.1 pJ + D 32x32-class multiplies of 3.1 pJ (H)",
        ),
        "sram_rd_bytes": (10.0 / 8 * PJ, "64-bit read from an 8 KB SRAM ~10 pJ, per byte (H)"),
        "sram_wr_bytes": (10.0 / 8 * PJ, "as a read (H, assumed)"),
        "stream_in_bytes": (
            1300.0 / 8 * PJ,
            "64-bit DRAM access 1.3 nJ (low end of 1.3-2.6 nJ), per byte (H)",
        ),
        "stream_out_bytes": (1300.0 / 8 * PJ, "64-bit DRAM access 1.3 nJ, per byte (H)"),
        "total_cycles": (0.0, "clock and leakage: see cycle_energy()"),
    }


def cycle_energy(flops: int, activity: float = 0.1) -> float:
    """Per-cycle clock/register energy: flops x 0.009 pJ (1-bit register, A) x activity (assumed 0.1)."""
    return flops * 0.009 * PJ * activity


def job_energy(cfg: AccelConfig, counters: dict, flops: int | None = None) -> dict:
    """Energy breakdown in joules for one job's counters; flops from the area model if given."""
    table = event_energies(cfg)
    parts = {name: counters.get(name, 0) * e for name, (e, _) in table.items() if name != "total_cycles"}
    if flops:
        parts["clock_registers"] = counters.get("total_cycles", 0) * cycle_energy(flops)
    on_chip = sum(v for k, v in parts.items() if not k.startswith("stream_"))
    total = sum(parts.values())
    return {
        "total_j": total,
        "on_chip_j": on_chip,
        "off_chip_j": total - on_chip,
        "parts_j": parts,
        "assumptions": "45 nm, 0.9 V, 1 GHz (assumed); per-event energies from Horowitz ISSCC 2014",
    }
