"""Plain-text tables for the CLI (numbers with units a person reads at a glance)."""

from __future__ import annotations

import numpy as np


def human_bytes(x: float) -> str:
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= div:
            return f"{x / div:.3g} {unit}"
    return f"{x:.0f} B"


def human_flops(x: float) -> str:
    for unit, div in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{x / div:.3g} {unit}"
    return f"{x:.0f} "


def human_time(s: float) -> str:
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


COLUMNS = (
    ("variant", "variant", str), ("pattern", "pattern", str), ("kernel", "kernel", str),
    ("latency", "latency_s", human_time), ("bound", "bound", str), ("FLOPs", "flops", human_flops),
    ("bytes", "bytes", human_bytes), ("KV cache", "kv_cache_bytes", human_bytes),
    ("peak mem", "peak_memory_bytes", human_bytes), ("fits", "fits_in_memory", lambda v: "yes" if v else "NO"),
    ("energy", "energy_j", lambda v: f"{v:.3g} J"),
    ("speedup", "speedup_vs_mha_dense_naive", lambda v: "-" if np.isnan(v) else f"{v:.2f}x"),
)


def format_table(hw, asked: str, out: dict) -> str:
    """One block per phase: every row of `out` for this device, with a header naming the device."""
    lines = []
    alias = f" ('{asked}' resolves to {hw.id})" if asked.lower() != hw.id else ""
    eff = "calibrated efficiencies" if hw.calibrated else "assumed efficiencies (not calibrated)"
    mode = f", power mode {hw.power_mode}" if hw.power_mode else ""
    lines.append(f"\n== {hw.name}{alias}: {eff}, {hw.power_w:.3g} W{mode}")
    if hw.assumptions:
        lines.append(f"   assumed numbers in this device's profile: {', '.join(hw.assumptions)}")
    for phase in dict.fromkeys(out["phase"]):
        rows = [i for i in range(len(out["phase"])) if out["phase"][i] == phase]
        cells = [[fmt(out[key][i]) for _, key, fmt in COLUMNS] for i in rows]
        heads = [h for h, _, _ in COLUMNS]
        widths = [max(len(h), *(len(c[j]) for c in cells)) for j, h in enumerate(heads)]
        lines.append(f"-- {phase}" + (" (one new token against a KV cache of seq tokens)" if phase == "decode" else ""))
        lines.append("  ".join(h.ljust(w) if j < 3 else h.rjust(w) for j, (h, w) in enumerate(zip(heads, widths))))
        for c in cells:
            lines.append("  ".join(v.ljust(w) if j < 3 else v.rjust(w) for j, (v, w) in enumerate(zip(c, widths))))
    lines.append("   speedup: against MHA-dense-naive on the same device and phase; bound: what limits the largest "
                 "share of the time (parallelism = over half the cores idle; overhead = kernel launches)")
    return "\n".join(lines)
