"""The profile CSV schema: the loader accepts the shipped files and names the line of every bad input."""

from __future__ import annotations

import glob
import os

import pytest

from perfmodel.errors import UserError
from perfmodel.measured import COLUMNS, format_row, header_line, load_profile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def good_row(**over) -> dict:
    row = dict(
        source="measured",
        device="host",
        device_desc="Test CPU",
        torch_version="2.13.0",
        numpy_version="2.0",
        python_version="3.11.7",
        date="2026-12-04T16:00:00Z",
        threads=2,
        cores=2,
        dtype="fp32",
        variant="gqa:2",
        pattern="local:64",
        kernel="flash",
        phase="prefill",
        causal=True,
        batch=1,
        heads=8,
        kv_heads=2,
        head_dim=64,
        seq=512,
        warmup=2,
        repeats=5,
        latency_median_s=0.01,
        latency_iqr_s=0.001,
        latency_min_s=0.009,
        peak_memory_bytes=1e6,
        memory_method="test",
        model_flops=1e9,
        model_bytes=1e7,
        model_exec_flops_attn_matmul=1e9,
        model_flops_attn_matmul=5e8,
        model_latency_s=0.005,
        metric="latency",
        value=0.01,
        unit="s",
        note="",
    )
    row.update(over)
    return row


def write(tmp_path, rows, header=None, tail=""):
    path = tmp_path / "p.csv"
    path.write_text((header or header_line()) + "".join(format_row(r) for r in rows) + tail)
    return str(path)


def test_round_trip(tmp_path):
    path = write(tmp_path, [good_row(), good_row(seq=1024, causal=False)])
    df = load_profile(path)
    assert list(df.columns) == list(COLUMNS) and len(df) == 2
    assert df["seq"].tolist() == [512, 1024] and df["causal"].tolist() == [True, False]
    assert df["latency_median_s"].dtype == float


@pytest.mark.parametrize(
    "over, line, problem",
    [
        (dict(seq=0), 3, "seq must be >= 1"),
        (dict(seq="abc"), 3, "seq must be an integer"),
        (dict(latency_median_s=-1.0), 3, "latency_median_s must be > 0"),
        (dict(latency_iqr_s="nan"), 3, "must be finite"),
        (dict(kernel="fast"), 3, "kernel 'fast' is not one of"),
        (dict(pattern="local:x"), 3, "window W must be an integer"),
        (dict(kv_heads=3, variant="gqa:3"), 3, "not a multiple of kv_heads"),
        (dict(variant="mha"), 3, "does not match heads"),
        (dict(device_desc=""), 3, "empty 'device_desc'"),
        (dict(kernel="flash-decoding"), 3, "decode only"),
        (dict(latency_min_s=1.0), 3, "latency_min_s"),
    ],
)
def test_bad_values_name_the_line(tmp_path, over, line, problem):
    path = write(tmp_path, [good_row(), good_row(**over)])
    with pytest.raises(UserError, match=rf"^{path}:{line}: .*{problem}"):
        load_profile(path)


def test_truncated_last_line(tmp_path):
    full = format_row(good_row())
    path = write(tmp_path, [good_row()], tail=full[: len(full) // 2])
    with pytest.raises(UserError, match=rf"{path}:3: truncated last line"):
        load_profile(path)


def test_short_row_and_header_errors(tmp_path):
    path = write(tmp_path, [good_row()], tail="measured,host,cpu\n")
    with pytest.raises(UserError, match=rf"{path}:3: 3 fields, expected {len(COLUMNS)}"):
        load_profile(path)
    path = write(tmp_path, [], header=header_line().replace("latency_iqr_s", "spread"))
    with pytest.raises(UserError, match=rf"{path}:1: missing column 'latency_iqr_s'"):
        load_profile(path)
    path = write(tmp_path, [], header=header_line().replace("\n", ",extra\n"))
    with pytest.raises(UserError, match=rf"{path}:1: unknown column 'extra'"):
        load_profile(path)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match="empty.csv:1: empty file"):
        load_profile(str(tmp_path / "empty.csv"))
    with pytest.raises(UserError, match="not found"):
        load_profile(str(tmp_path / "missing.csv"))


def test_published_rows_may_leave_fields_empty(tmp_path):
    blank = {c: None for c in COLUMNS}
    row = dict(
        blank, source="Paper sec 4", device="a100-80gb", metric="throughput", value=88.0, unit="TFLOP/s"
    )
    path = write(tmp_path, [row])
    df = load_profile(path)
    assert df["seq"].isna().all() and df["value"].tolist() == [88.0]
    path = write(tmp_path, [dict(row, unit=None)])
    with pytest.raises(UserError, match=r":2: empty 'unit'"):
        load_profile(path)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "profiles", "*", "*.csv"))))
def test_shipped_profiles_load(path):
    if os.sep + "measured" + os.sep not in path and os.sep + "published" + os.sep not in path:
        pytest.skip("not a profile CSV")
    df = load_profile(path)
    assert len(df) > 0 and df["source"].notna().all()
