"""perfmodel.figures: each figure from a small hand-made DataFrame (no model, no browser)."""

import math

import pandas as pd
import pytest

pytest.importorskip("plotly")

from perfmodel import figures  # noqa: E402


def _rows(hw="dev-a", seqs=(1024,)):
    rows = []
    for seq in seqs:
        for variant, pattern, kernel, bound, lat in (("mha", "dense", "naive", "memory", 2e-3),
                                                      ("mha", "dense", "flash", "compute", 1e-3),
                                                      ("mqa", "local:128", "flash", "parallelism", 5e-4)):
            rows.append(dict(hw=hw, variant=variant, pattern=pattern, kernel=kernel, bound=bound, seq=seq,
                             latency_s=lat * seq / 1024, intensity_flop_per_byte=10.0 * seq / 1024,
                             achieved_flop_per_s=1e12, attainable_flop_per_s=2e12,
                             kv_cache_bytes=1e6 * seq, peak_memory_bytes=2e6 * seq))
    return pd.DataFrame(rows)


def test_latency_bars_one_trace_per_bound_in_ms():
    fig = figures.latency_bars(_rows())
    assert [t.name for t in fig.data] == ["compute", "memory", "parallelism"]
    by_name = {t.name: t for t in fig.data}
    assert by_name["memory"].orientation == "h"
    assert list(by_name["memory"].y) == ["mha · dense · naive"]
    assert by_name["memory"].x[0] == pytest.approx(2.0)  # 2e-3 s -> 2 ms
    assert by_name["memory"].marker.color == figures.BOUND_COLORS["memory"]
    assert fig.layout.xaxis.type == "log"
    # the workload order follows the table's rows, first at the top
    assert list(fig.layout.yaxis.categoryarray)[0] == "mha · dense · naive"
    assert fig.layout.yaxis.autorange == "reversed"


def test_latency_bars_one_panel_per_device_one_legend_entry_per_bound():
    fig = figures.latency_bars(pd.concat([_rows("dev-a"), _rows("dev-b")], ignore_index=True))
    assert {t.xaxis for t in fig.data} == {"x", "x2"}
    assert fig.layout.xaxis2.type == "log"
    assert [a.text for a in fig.layout.annotations] == ["dev-a", "dev-b"]
    assert sorted(t.name for t in fig.data if t.showlegend) == ["compute", "memory", "parallelism"]
    assert sum(len(t.y) for t in fig.data) == 6


def test_summary_table_units():
    df = _rows().assign(flops=2e9, bytes=3e9, fits_in_memory=True, energy_j=1.0, latency_attn_s=1e-3)
    table = figures.summary_table(df)
    assert table["latency (ms)"].tolist() == pytest.approx([2.0, 1.0, 0.5])
    assert table["GFLOP"].iloc[0] == pytest.approx(2.0) and table["GB moved"].iloc[0] == pytest.approx(3.0)
    assert table["KV cache (GiB)"].iloc[0] == pytest.approx(1024e6 / figures.GIB)
    assert "attn (ms)" in table and "tokens/s" not in table
    assert "tokens/s" in figures.summary_table(df.assign(tokens_per_s=10.0))


def test_roofline_is_log_log_with_memory_slope_and_compute_ceiling():
    peak, bw = 100e12, 1e12  # ridge at 100 FLOP/byte
    fig = figures.roofline(_rows(), peak, bw, title="dev-a")
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    roof = fig.data[0]
    assert roof.name == "roof"
    x, y = list(roof.x), list(roof.y)
    assert x[0] < 10 and x[-1] > 100  # spans the points (intensity 10) and both sides of the ridge (100)
    assert y[-1] == pytest.approx(peak)  # compute ceiling
    assert y[0] == pytest.approx(x[0] * bw)  # memory slope: intensity x bandwidth
    ridge = fig.data[1]
    assert list(ridge.x) == pytest.approx([100.0, 100.0]) and ridge.name.startswith("ridge 100")
    points = {t.name: t for t in fig.data[2:]}
    assert set(points) == {"naive", "flash"}
    assert len(points["flash"].x) == 2 and points["flash"].mode == "markers"
    assert list(points["flash"].text) == ["mha · dense · flash", "mqa · local:128 · flash"]


def test_sweep_log_x_and_capacity_line():
    df = _rows(seqs=(512, 1024, 2048))
    fig = figures.sweep(df, {"dev-a": 8 * figures.GIB})
    latency = [t for t in fig.data if t.yaxis == "y"]
    assert len(latency) == 3  # one line per variant x pattern x kernel
    assert all(list(t.x) == [512, 1024, 2048] for t in latency)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    # latency on the top plot in ms, memory on the bottom in GiB (solid KV, dashed peak)
    assert latency[0].yaxis == "y" and latency[0].y[0] == pytest.approx(1.0)
    mem = [t for t in fig.data if t.yaxis == "y2" and "capacity" not in t.name]
    assert len(mem) == 6 and sum(t.line.dash == "dash" for t in mem) == 3
    caps = [t for t in fig.data if "capacity" in t.name]
    assert len(caps) == 1 and caps[0].yaxis == "y2" and caps[0].name.startswith("dev-a capacity 8 GiB")
    assert list(caps[0].y) == pytest.approx([8.0, 8.0]) and list(caps[0].x) == [512, 2048]  # spans the sweep


def test_sweep_one_capacity_line_per_device():
    df = pd.concat([_rows("dev-a", (512, 1024)), _rows("dev-b", (512, 1024))], ignore_index=True)
    fig = figures.sweep(df, {"dev-a": 8e9, "dev-b": 16e9})
    caps = sorted(t.y[0] for t in fig.data if "capacity" in t.name)
    assert caps == pytest.approx([8e9 / figures.GIB, 16e9 / figures.GIB])
    assert any(t.name.startswith("dev-b · ") for t in fig.data)


def test_cycles_vs_density():
    df = pd.DataFrame({"config": ["tiny"] * 3 + ["mid"] * 3, "density": [0.5, 0.1, 1.0] * 2,
                       "total_cycles": [50, 10, 100, 500, 100, 1000], "busy_cycles": [40, 8, 80, 400, 80, 800]})
    fig = figures.cycles_vs_density(df)
    assert [t.name for t in fig.data] == ["tiny total", "tiny busy", "mid total", "mid busy"]
    assert list(fig.data[0].x) == [0.1, 0.5, 1.0]  # sorted by density
    assert fig.layout.yaxis.type == "log" and not math.isnan(fig.data[0].y[0])
