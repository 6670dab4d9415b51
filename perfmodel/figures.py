"""Plotly figures for the explorer (app.py): pure functions of prediction tables, no streamlit here.

Every function takes a pandas DataFrame shaped like `perfmodel.predict(...)` output (or a few plain
numbers in SI units) and returns a `plotly.graph_objects.Figure`, so the figures are tested without a
browser (tests/test_figures.py).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

BOUND_COLORS = {"compute": "#1f77b4", "memory": "#d62728", "parallelism": "#ff7f0e", "overhead": "#7f7f7f"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down", "pentagon")
GIB = 1024.0**3


def workload_label(df) -> list[str]:
    """'variant · pattern · kernel' per row (the comparison's x axis and hover text)."""
    return [f"{v} · {p} · {k}" for v, p, k in zip(df["variant"], df["pattern"], df["kernel"])]


def latency_bars(df):
    """Bar chart of latency (ms, log y) per variant x pattern x kernel, one trace per bound.

    df: predict() rows (hw, variant, pattern, kernel, latency_s, bound); several devices share the x
    axis side by side (grouped by device through the x label).
    """
    labels = np.asarray(workload_label(df), dtype=object)
    many = df["hw"].nunique() > 1
    if many:
        labels = np.asarray([f"{h} | {lab}" for h, lab in zip(df["hw"], labels)], dtype=object)
    fig = go.Figure()
    bounds = df["bound"].to_numpy()
    for bound in [b for b in BOUND_COLORS if b in set(bounds)] + sorted(set(bounds) - set(BOUND_COLORS)):
        sel = bounds == bound
        fig.add_bar(x=labels[sel], y=df["latency_s"].to_numpy()[sel] * 1e3, name=bound,
                    marker_color=BOUND_COLORS.get(bound), customdata=df["hw"].to_numpy()[sel],
                    hovertemplate="%{x}<br>%{y:.4g} ms<br>" + f"bound: {bound}<extra>%{{customdata}}</extra>")
    fig.update_layout(barmode="overlay", legend_title_text="bound", margin=dict(t=30, b=10),
                      xaxis=dict(categoryorder="array", categoryarray=list(dict.fromkeys(labels)), tickangle=-45))
    fig.update_yaxes(type="log", title_text="latency (ms)")
    return fig


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
    fig.add_vline(x=ridge, line=dict(color="gray", dash="dot"), annotation_text=f"ridge {ridge:.3g} FLOP/B")
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
    for hw, cap in capacity_bytes.items():
        fig.add_hline(y=cap / GIB, line=dict(color="black", dash="dot"), row=2, col=1,
                      annotation_text=f"{hw} capacity {cap / GIB:.3g} GiB", annotation_position="top left")
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
