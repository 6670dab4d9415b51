"""Plotly figures for the explorer (app.py): pure functions of prediction tables, no streamlit here.

Every function takes a pandas DataFrame shaped like `perfmodel.predict(...)` output (or a few plain
numbers in SI units) and returns a `plotly.graph_objects.Figure`, so the figures are tested without a
browser (tests/test_figures.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

BOUND_COLORS = {"compute": "#1f77b4", "memory": "#d62728", "parallelism": "#ff7f0e", "overhead": "#7f7f7f"}
PALETTE = tuple(qualitative.Plotly) + tuple(qualitative.Dark24)  # 34 distinct colours before repeating
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down", "pentagon")
GIB = 1024.0**3


def workload_label(df) -> list[str]:
    """'variant · pattern · kernel' per row (the comparison's x axis and hover text)."""
    return [f"{v} · {p} · {k}" for v, p, k in zip(df["variant"], df["pattern"], df["kernel"])]


def latency_bars(df):
    """Horizontal bars of latency (ms, log x) per variant x pattern x kernel, colored by bound; one
    panel per device, sharing the workload axis.

    df: predict() rows (hw, variant, pattern, kernel, latency_s, bound).
    """
    devices = list(dict.fromkeys(df["hw"]))
    labels = np.asarray(workload_label(df), dtype=object)
    order = list(dict.fromkeys(labels))
    fig = make_subplots(rows=1, cols=len(devices), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=devices)
    bounds = df["bound"].to_numpy()
    present = set(bounds)
    shown = set()
    for col, dev in enumerate(devices, start=1):
        on_dev = df["hw"].to_numpy() == dev
        for bound in [b for b in BOUND_COLORS if b in present] + sorted(present - set(BOUND_COLORS)):
            sel = on_dev & (bounds == bound)
            if not sel.any():
                continue
            fig.add_bar(y=labels[sel], x=df["latency_s"].to_numpy()[sel] * 1e3, orientation="h", name=bound,
                        legendgroup=bound, showlegend=bound not in shown, marker_color=BOUND_COLORS.get(bound),
                        hovertemplate="%{y}<br>%{x:.4g} ms<br>" + f"bound: {bound}<extra>{dev}</extra>",
                        row=1, col=col)
            shown.add(bound)
    fig.update_xaxes(type="log", title_text="latency (ms)")
    fig.update_yaxes(categoryorder="array", categoryarray=order, autorange="reversed")
    fig.update_layout(barmode="overlay", legend_title_text="bound", height=max(360, 20 * len(order) + 140),
                      margin=dict(t=40, b=10))
    return fig


def summary_table(df):
    """The comparison table in readable units (ms, GFLOP, GB, GiB); optional columns when present."""
    out = pd.DataFrame({k: df[k] for k in ("hw", "variant", "pattern", "kernel", "phase", "scope") if k in df})
    out["latency (ms)"] = df["latency_s"] * 1e3
    out["bound"] = df["bound"]
    if "tokens_per_s" in df:
        out["tokens/s"] = df["tokens_per_s"]
    out["GFLOP"] = df["flops"] / 1e9
    out["GB moved"] = df["bytes"] / 1e9
    out["FLOP/byte"] = df["intensity_flop_per_byte"]
    out["KV cache (GiB)"] = df["kv_cache_bytes"] / GIB
    out["peak memory (GiB)"] = df["peak_memory_bytes"] / GIB
    out["fits"] = df["fits_in_memory"]
    out["energy (J)"] = df["energy_j"]
    for op in ("attn", "qkv_proj", "o_proj", "norm"):
        if f"latency_{op}_s" in df:
            out[f"{op} (ms)"] = df[f"latency_{op}_s"] * 1e3
    for k in ("bound_attn", "parallel_fraction_attn", "calibrated"):
        if k in df:
            out[k] = df[k]
    return out


def roofline(points, peak_flop_per_s: float, mem_byte_per_s: float, title: str = ""):
    """Log-log roofline: attainable FLOP/s = min(peak, intensity x bandwidth), with workloads as points.

    points: predict() rows of one device (intensity_flop_per_byte, achieved_flop_per_s, kernel,
    pattern, variant). peak_flop_per_s and mem_byte_per_s: the ceilings at the chosen dtype, already
    multiplied by the device's (calibrated) matmul and memory efficiencies.
    """
    inten = points["intensity_flop_per_byte"].to_numpy(dtype=float)
    ridge = peak_flop_per_s / mem_byte_per_s
    lo = min(np.nanmin(inten) / 3 if len(inten) else ridge, ridge) / 10
    hi = max(np.nanmax(inten) * 3 if len(inten) else ridge, ridge) * 10
    x = np.geomspace(lo, hi, 200)
    fig = go.Figure()
    fig.add_scatter(x=x, y=np.minimum(peak_flop_per_s, x * mem_byte_per_s), mode="lines", name="roof",
                    line=dict(color="black", width=2),
                    hovertemplate="%{x:.3g} FLOP/byte<br>%{y:.3g} FLOP/s<extra>roof</extra>")
    # a trace, not add_vline: plotly places shape annotations on log axes at 10^value
    fig.add_scatter(x=[ridge, ridge], y=[peak_flop_per_s / 100, peak_flop_per_s], mode="lines",
                    name=f"ridge {ridge:.3g} FLOP/byte", line=dict(color="gray", dash="dot"), hoverinfo="skip")
    kernels = list(dict.fromkeys(points["kernel"])) if len(points) else []
    patterns = list(dict.fromkeys(points["pattern"])) if len(points) else []
    y = "achieved_flop_per_s" if "achieved_flop_per_s" in points else "attainable_flop_per_s"
    for i, kernel in enumerate(kernels):
        sub = points[points["kernel"] == kernel]
        fig.add_scatter(x=sub["intensity_flop_per_byte"], y=sub[y], mode="markers", name=kernel,
                        marker=dict(size=10, color=PALETTE[i % len(PALETTE)],
                                    symbol=[SYMBOLS[patterns.index(p) % len(SYMBOLS)] for p in sub["pattern"]]),
                        text=workload_label(sub),
                        hovertemplate="%{text}<br>%{x:.3g} FLOP/byte<br>%{y:.3g} FLOP/s<extra></extra>")
    fig.update_xaxes(type="log", title_text="arithmetic intensity (FLOP/byte)")
    fig.update_yaxes(type="log", title_text="FLOP/s (achieved; roof = attainable)")
    fig.update_layout(title_text=title, legend_title_text="kernel (symbol: pattern)", margin=dict(t=40, b=10))
    return fig


def sweep(df, capacity_bytes: dict):
    """Latency (top) and KV cache / peak memory (bottom) vs sequence length, log-log.

    df: predict() rows over several seq values; one line per hw x variant x pattern x kernel.
    capacity_bytes: device id -> memory capacity (byte), drawn as a horizontal line on the memory plot.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("latency", "memory (solid: KV cache, dashed: peak)"))
    many = df["hw"].nunique() > 1
    keys = ["hw", "variant", "pattern", "kernel"] if many else ["variant", "pattern", "kernel"]
    for i, (key, sub) in enumerate(df.sort_values("seq").groupby(keys, sort=False)):
        name = " · ".join(str(k) for k in key)
        color = PALETTE[i % len(PALETTE)]
        fig.add_scatter(x=sub["seq"], y=sub["latency_s"] * 1e3, mode="lines+markers", name=name, legendgroup=name,
                        line=dict(color=color), row=1, col=1,
                        hovertemplate="seq %{x}<br>%{y:.4g} ms<extra>" + name + "</extra>")
        fig.add_scatter(x=sub["seq"], y=sub["kv_cache_bytes"] / GIB, mode="lines", name=name, legendgroup=name,
                        showlegend=False, line=dict(color=color), row=2, col=1,
                        hovertemplate="seq %{x}<br>KV cache %{y:.4g} GiB<extra>" + name + "</extra>")
        fig.add_scatter(x=sub["seq"], y=sub["peak_memory_bytes"] / GIB, mode="lines", name=name, legendgroup=name,
                        showlegend=False, line=dict(color=color, dash="dash"), row=2, col=1,
                        hovertemplate="seq %{x}<br>peak %{y:.4g} GiB<extra>" + name + "</extra>")
    seqs = [df["seq"].min(), df["seq"].max()] if len(df) else [1, 1]
    for j, (hw, cap) in enumerate(capacity_bytes.items()):  # traces, not add_hline (see roofline)
        fig.add_scatter(x=seqs, y=[cap / GIB] * 2, mode="lines", name=f"{hw} capacity {cap / GIB:.3g} GiB",
                        line=dict(color="black", dash=("dot", "dashdot", "longdash")[j % 3], width=2),
                        row=2, col=1, hovertemplate="%{y:.4g} GiB<extra>" + f"{hw} capacity</extra>")
    fig.update_xaxes(type="log", title_text="sequence length (tokens)", row=2, col=1)
    fig.update_xaxes(type="log", row=1, col=1)
    fig.update_yaxes(type="log", title_text="latency (ms)", row=1, col=1)
    fig.update_yaxes(type="log", title_text="GiB", row=2, col=1)
    fig.update_layout(height=700, margin=dict(t=40, b=10), legend=dict(font=dict(size=10)))
    return fig


def cycles_vs_density(df):
    """Accelerator cycles vs block density, one line per configuration.

    df: columns config, density, total_cycles, busy_cycles (busy drawn dashed).
    """
    fig = go.Figure()
    for i, (cfg, sub) in enumerate(df.sort_values("density").groupby("config", sort=False)):
        color = PALETTE[i % len(PALETTE)]
        fig.add_scatter(x=sub["density"], y=sub["total_cycles"], mode="lines+markers", name=f"{cfg} total",
                        line=dict(color=color))
        if "busy_cycles" in sub:
            fig.add_scatter(x=sub["density"], y=sub["busy_cycles"], mode="lines", name=f"{cfg} busy",
                            line=dict(color=color, dash="dash"))
    fig.update_xaxes(title_text="block density (visited / all key blocks)")
    fig.update_yaxes(title_text="cycles", type="log")
    fig.update_layout(margin=dict(t=30, b=10))
    return fig
