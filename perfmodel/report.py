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


def _op_shares(out: dict, i: int, top: int = 6) -> str:
    lat = {k[len("latency_"):-2]: out[k][i] for k in out if k.startswith("latency_") and k.endswith("_s")
           and k not in ("latency_s", "latency_bound_s") and out[k][i] > 0}
    total = out["latency_s"][i]
    parts = sorted(lat.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {human_time(v)} ({100 * v / total:.0f}%)" for k, v in parts)


def format_model_summary(hw, asked: str, out: dict, args) -> str:
    """Scope layer / model: a short readable answer per row (throughput, latency, memory, fit, energy)."""
    alias = f" ('{asked}' resolves to {hw.id})" if asked.lower() != hw.id else ""
    eff = "calibrated efficiencies" if hw.calibrated else "assumed efficiencies (not calibrated)"
    mode = f", power mode {hw.power_mode}" if hw.power_mode else ""
    lines = [f"\n== {hw.name}{alias}: {eff}, {hw.power_w:.3g} W{mode}, {human_bytes(hw.mem_capacity)} memory"]
    for i in range(len(out["latency_s"])):
        phase, B, N = out["phase"][i], int(out["batch"][i]), int(out["seq"][i])
        lines.append(f"-- {out['model'][i]} {out['scope'][i]}, {out['variant'][i]} {out['pattern'][i]} "
                     f"{out['kernel'][i]}, {phase}, batch {B}, seq {N}, weights {out['weights'][i]}, "
                     f"KV cache {out['kv_dtype'][i]}")
        lat, bound = out["latency_s"][i], out["latency_bound_s"][i]
        phys = f"physical bound {human_time(bound)}"
        if out["scope"][i] == "layer":  # a part of the model: times, not tokens/s
            L = int(out["layers"][i])
            lines.append(f"   {phase:<12} {human_time(lat)} through {L} layer{'s' if L > 1 else ''} for "
                         f"{B} x {1 if phase == 'decode' else N} tokens ({phys}), {out['bound'][i]}-bound")
        elif phase == "decode":
            lines.append(f"   decode       {out['tokens_per_s'][i]:.4g} tokens/s, {lat * 1e3:.3g} ms/token at a "
                         f"{N}-token KV cache ({phys}: {B / bound:.4g} tokens/s), {out['bound'][i]}-bound")
        elif phase == "prefill":
            lines.append(f"   prefill      {human_time(lat)} for {B} x {N} tokens ({out['tokens_per_s'][i]:.4g} "
                         f"tokens/s; {phys}), {out['bound'][i]}-bound")
        else:
            lines.append(f"   train step   {human_time(lat)} for {B} x {N} tokens (forward + backward, "
                         f"{out['tokens_per_s'][i]:.4g} tokens/s; {phys}), {out['bound'][i]}-bound")
        if phase != "train" and out["scope"][i] == "model":
            lines.append(f"   first token  {human_time(out['ttft_s'][i])} after a {N}-token prompt; then "
                         f"{human_time(out['decode_s'][i])}/token")
        if not np.isnan(out["generate_s"][i]):
            T = int(out["generate_tokens"][i])
            fits = "fits" if out["generate_fits"][i] else "does NOT fit"
            lines.append(f"   generate     {T} tokens after a {N}-token prompt: {human_time(out['generate_s'][i])} "
                         f"(physical bound {human_time(out['generate_bound_s'][i])}); "
                         f"{human_bytes(out['generate_peak_memory_bytes'][i])} at the end: {fits}")
        fits = "fits" if out["fits_in_memory"][i] else "does NOT fit"
        parts = f"weights {human_bytes(out['weight_bytes'][i])}, "
        if phase == "train":
            opt = out.get("optimizer_state_bytes", np.zeros(i + 1))[i]
            parts += f"gradients {human_bytes(out['weight_bytes'][i])}, Adam states {human_bytes(opt)}, "
        else:
            parts += f"KV cache {human_bytes(out['kv_cache_bytes'][i])}, "
        lines.append(f"   memory       {human_bytes(out['peak_memory_bytes'][i])} of {human_bytes(hw.mem_capacity)}: "
                     f"{fits} ({parts}activations {human_bytes(out['activation_bytes'][i])})")
        lines.append(f"   energy       {out['energy_per_token_j'][i]:.3g} J/token at {hw.power_w:.3g} W{mode}")
        if not np.isnan(out["param_count"][i]):
            wire = f"   model        {out['param_count'][i] / 1e9:.4g} B parameters; weights on the wire " \
                   f"{human_bytes(out['weights_bytes_on_wire'][i])}"
            if not np.isnan(out["link_transfer_s"][i]):
                wire += f": {_duration(out['link_transfer_s'][i])} at {out['link_kbps'][i]:.4g} kbit/s"
            lines.append(wire)
        lines.append(f"   time by op   {_op_shares(out, i)}")
    return "\n".join(lines)


def _duration(s: float) -> str:
    for unit, div in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= div:
            return f"{s / div:.3g} {unit}"
    return human_time(s)
