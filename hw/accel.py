"""The accelerator as a roofline target, so the performance model can treat it as one more device."""

from __future__ import annotations

from hw.config import PF, XW, AccelConfig

ASSUMED_CLOCK_HZ = 1.0e9  # assumed: not from a timing run


def sram_bytes(cfg: AccelConfig) -> int:
    """On-chip storage: 2 Q blocks, kv_slots K and V blocks, the score block and the accumulators."""
    b, d = cfg.block, cfg.head_dim
    bits = 2 * b * d * 8 + 2 * cfg.kv_slots * b * d * 8 + b * b * XW + b * d * cfg.aw + b * (cfg.lw + 15 + 6)
    return bits // 8


def accel_hardware(cfg: AccelConfig, clock_hz: float = ASSUMED_CLOCK_HZ) -> dict:
    """Roofline description with units in the key names (SI): peak INT8 MAC/s = MACs per cycle x
    clock, memory bandwidth = one row of head_dim bytes per cycle, on-chip SRAM in bytes."""
    return {
        "name": f"bsa-{cfg.label}",
        "clock_hz": clock_hz,
        "clock_source": "assumed",
        "macs_per_cycle": cfg.macs,
        "peak_int8_macs_per_s": cfg.macs * clock_hz,
        "peak_int8_ops_per_s": 2 * cfg.macs * clock_hz,
        "mem_bw_bytes_per_s": cfg.head_dim * clock_hz,
        "sram_bytes": sram_bytes(cfg),
        "exp_per_s": clock_hz,
        "prob_frac_bits": PF,
        "source": "hw/accel.py from the RTL parameters; clock assumed",
    }
