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
    assert list(by_name["memory"].x) == ["mha · dense · naive"]
    assert by_name["memory"].y[0] == pytest.approx(2.0)  # 2e-3 s -> 2 ms
    assert by_name["memory"].marker.color == figures.BOUND_COLORS["memory"]
    assert fig.layout.yaxis.type == "log"
    # the x order follows the table's rows, not the traces
    assert list(fig.layout.xaxis.categoryarray)[0] == "mha · dense · naive"


def test_latency_bars_several_devices_prefix_the_device():
    fig = figures.latency_bars(pd.concat([_rows("dev-a"), _rows("dev-b")], ignore_index=True))
    xs = [x for t in fig.data for x in t.x]
    assert len(xs) == 6 and {x.split(" | ")[0] for x in xs} == {"dev-a", "dev-b"}


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
    assert fig.layout.shapes[0].x0 == pytest.approx(100.0)  # the ridge line
    points = {t.name: t for t in fig.data[1:]}
    assert set(points) == {"naive", "flash"}
    assert len(points["flash"].x) == 2 and points["flash"].mode == "markers"
    assert list(points["flash"].text) == ["mha · dense · flash", "mqa · local:128 · flash"]


def test_sweep_log_x_and_capacity_line():
    df = _rows(seqs=(512, 1024, 2048))
    fig = figures.sweep(df, {"dev-a": 8 * figures.GIB})
    latency = [t for t in fig.data if t.showlegend is not False]
    assert len(latency) == 3  # one legend entry per variant x pattern x kernel
    assert all(list(t.x) == [512, 1024, 2048] for t in fig.data)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    # latency on the top plot in ms, memory on the bottom in GiB (solid KV, dashed peak)
    assert latency[0].yaxis == "y" and latency[0].y[0] == pytest.approx(1.0)
    mem = [t for t in fig.data if t.yaxis == "y2"]
    assert len(mem) == 6 and sum(t.line.dash == "dash" for t in mem) == 3
    caps = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert len(caps) == 1 and caps[0].y0 == pytest.approx(8.0) and caps[0].yref == "y2"
    assert "dev-a capacity" in fig.layout.annotations[-1].text


def test_sweep_one_capacity_line_per_device():
    df = pd.concat([_rows("dev-a", (512, 1024)), _rows("dev-b", (512, 1024))], ignore_index=True)
    fig = figures.sweep(df, {"dev-a": 8e9, "dev-b": 16e9})
    caps = sorted(s.y0 for s in fig.layout.shapes if s.y0 == s.y1)
    assert caps == pytest.approx([8e9 / figures.GIB, 16e9 / figures.GIB])
    assert any(t.name.startswith("dev-b · ") for t in fig.data)


def test_cycles_vs_density():
    df = pd.DataFrame({"config": ["tiny"] * 3 + ["mid"] * 3, "density": [0.5, 0.1, 1.0] * 2,
                       "total_cycles": [50, 10, 100, 500, 100, 1000], "busy_cycles": [40, 8, 80, 400, 80, 800]})
    fig = figures.cycles_vs_density(df)
    assert [t.name for t in fig.data] == ["tiny total", "tiny busy", "mid total", "mid busy"]
    assert list(fig.data[0].x) == [0.1, 0.5, 1.0]  # sorted by density
    assert fig.layout.yaxis.type == "log" and not math.isnan(fig.data[0].y[0])
