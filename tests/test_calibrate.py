"""perfmodel calibrate: the fit recovers efficiencies it was given, the file round-trips through
load_hardware, the shipped host profile is predicted better after calibration, a host calibration of
another CPU is skipped, and bad inputs are one-line user errors."""

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from perfmodel import calibrate as cal
from perfmodel.errors import UserError
from perfmodel.hardware import load_hardware
from perfmodel.measured import COLUMNS, format_row, header_line, variant_of
from perfmodel.profile import grid

ROOT = Path(__file__).resolve().parent.parent
HOST_CSV = ROOT / "profiles" / "measured" / "host-cpu-amd-epyc-zen4.csv"
PUBLISHED_CSV = ROOT / "profiles" / "published" / "published-measurements.csv"
DEVICE = "jetson-orin-nano"  # fp16 + fp32 rows on it: compute-, memory- and overhead-bound rows all occur
TRUTH = {"matmul": 0.45, "vector": 0.2, "memory": 0.6, "launch": 12.0}
NOISE = 0.02  # log-normal sigma of the synthetic "measurements" (2 %)
TOLERANCE = 0.10  # each recovered parameter within 10 % of the truth


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    """A private copy of profiles/ (so written calibrations touch nothing shared)."""
    prof = tmp_path / "profiles"
    shutil.copytree(ROOT / "profiles", prof)
    monkeypatch.setenv("PERFMODEL_PROFILES", str(prof))
    (prof / "calibrated").mkdir(exist_ok=True)
    return prof


def synthetic_profile(path, device=DEVICE, truth=TRUTH, noise=NOISE, seed=0):
    """A profile CSV whose latencies are the model's own on `device` with the `truth` parameters."""
    works = grid(quick=False, device="cuda", seqs=[128, 1024, 4096], batches=[1], dtypes=["fp16", "fp32"])
    rows = [{c: None for c in COLUMNS} | w | dict(source="synthetic: perfmodel itself", device=device,
                                                  variant=variant_of(w["heads"], w["kv_heads"]),
                                                  metric="latency", unit="s") for w in works]
    import pandas as pd

    frame = pd.DataFrame(rows)
    hw = load_hardware(device, calibrated=False)
    lat = cal.predicted(cal.workload_table(frame), cal.with_params(hw, truth))
    lat = lat * np.exp(np.random.default_rng(seed).normal(0.0, noise, len(lat)))
    with open(path, "w") as f:
        f.write(header_line())
        for row, t in zip(rows, lat):
            f.write(format_row(row | dict(latency_median_s=float(t), value=float(t))))
    return path


def test_fit_recovers_known_efficiencies(tmp_path, profiles):
    csv = synthetic_profile(tmp_path / "synthetic.csv")
    res = cal.calibrate(str(csv))
    doc = res["doc"]
    got = dict(doc["efficiency"], launch=doc["launch_overhead_us"])
    for k, want in TRUTH.items():
        assert abs(math.log(got[k] / want)) < TOLERANCE, (k, got[k], want)
    fit = doc["fit"]
    assert fit["test_rows"] > 100 and fit["train_rows"] > 100
    assert fit["median_abs_pct_error_after"] < 3.0 < fit["median_abs_pct_error_before"]  # noise is 2 %


def test_calibrated_file_round_trips_through_load_hardware(tmp_path, profiles, capsys):
    csv = synthetic_profile(tmp_path / "synthetic.csv")
    assert cal.main([str(csv), "--dry-run"]) == 0
    assert not (profiles / "calibrated" / f"{DEVICE}.yaml").exists()
    assert cal.main([str(csv), "--device", "Jetson-Orin-Nano"]) == 0  # any spelling the catalog resolves
    path = profiles / "calibrated" / f"{DEVICE}.yaml"
    doc = yaml.safe_load(path.read_text())
    assert set(doc) == {"id", "source", "efficiency", "launch_overhead_us", "fit"}
    assert f"fitted by perfmodel calibrate on {csv} ({doc['fit']['rows']} rows) on 20" in doc["source"]
    assert not list(path.parent.glob(".*.tmp"))  # the temp file was renamed, not left behind
    hw = load_hardware(DEVICE)
    assert hw.calibrated and hw.calibration_source == doc["source"]
    assert (hw.eff_matmul, hw.eff_vector, hw.eff_memory) == tuple(doc["efficiency"][k] for k in ("matmul", "vector", "memory"))
    assert hw.launch_overhead_s == pytest.approx(doc["launch_overhead_us"] * 1e-6)
    assert not load_hardware(DEVICE, calibrated=False).calibrated
    out = capsys.readouterr().out
    assert "held-out rows |error|" in out and "wrote" in out


def test_partial_fit_writes_only_what_it_fitted(tmp_path, profiles):
    csv = synthetic_profile(tmp_path / "synthetic.csv")
    out = tmp_path / "matmul-only.yaml"
    assert cal.main([str(csv), "--params", "matmul", "--out", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    assert set(doc["efficiency"]) == {"matmul"} and "launch_overhead_us" not in doc


def _same_cpu() -> bool:
    from perfmodel.profile import cpu_description

    return f",{cpu_description()}," in HOST_CSV.read_text().splitlines()[1]


@pytest.mark.skipif(not _same_cpu(), reason="the shipped host profile was measured on another CPU")
def test_host_profile_held_out_error_not_worse_after_calibration(profiles):
    res = cal.calibrate(str(HOST_CSV))
    fit = res["doc"]["fit"]
    assert res["doc"]["cpu"] == load_hardware("host", calibrated=False).name
    assert fit["threads"] == 1 and fit["test_rows"] >= 70
    assert fit["median_abs_pct_error_after"] <= fit["median_abs_pct_error_before"]


def test_host_calibration_of_another_cpu_is_skipped(profiles):
    host = load_hardware("host", calibrated=False)
    path = profiles / "calibrated" / "host.yaml"
    doc = {"id": "host", "source": "test fit", "cpu": "Some Other CPU 9000", "efficiency": {"matmul": 0.123}}
    path.write_text(yaml.safe_dump(doc))
    assert not load_hardware("host").calibrated
    path.write_text(yaml.safe_dump(doc | {"cpu": host.name}))
    hw = load_hardware("host")
    assert hw.calibrated and hw.eff_matmul == 0.123
    del doc["cpu"]  # a host calibration that does not say which CPU it belongs to is not trusted
    path.write_text(yaml.safe_dump(doc))
    assert not load_hardware("host").calibrated


@pytest.mark.parametrize("args, message", [
    (["missing.csv"], "profile not found"),
    (["{other}"], "missing column"),
    (["{published}", "--device", "l4"], "no latency rows with a complete workload for device 'l4'"),
    (["{published}", "--device", "h100"], "cannot be turned into timed workloads"),
    (["{published}", "--device", "no-such-gpu"], "unknown device 'no-such-gpu'"),
    (["{published}", "--params", "matmul,speed"], "--params: unknown 'speed'"),
    (["{published}", "--test-seq", "777"], "--test-seq 777"),
])
def test_bad_inputs_are_one_line_user_errors(tmp_path, profiles, capsys, args, message):
    other = tmp_path / "other.csv"
    other.write_text("name,value\nx,1\n")
    argv = [a.format(other=other, published=PUBLISHED_CSV) for a in args]
    if argv[0] == "missing.csv":
        argv[0] = str(tmp_path / "missing.csv")
    with pytest.raises(UserError, match=message.replace("|", r"\|")):
        cal.calibrate(argv[0], **_kwargs(argv[1:]))
    assert cal.main(argv) == 2
    err = capsys.readouterr().err
    assert message.split("'")[0] in err and err.count("\n") == 1


def _kwargs(flags):
    """The calibrate() arguments of CLI flags (the main() path is checked beside it)."""
    kw = {}
    for flag, value in zip(flags[::2], flags[1::2]):
        if flag == "--device":
            kw["device"] = value
        elif flag == "--params":
            kw["params"] = tuple(value.split(","))
        elif flag == "--test-seq":
            kw["test_seq"] = int(value)
    return kw
