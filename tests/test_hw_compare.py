"""The accelerator-versus-devices comparison: event counts agree with the golden model's counters,
times follow the cycle model, and the CLI answers bad flags with one line and exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hw import golden
from hw.compare import accelerator_point, event_counts
from hw.config import PRESETS
from hw.cycles import predict
from hw.jobs import make_inputs, random_mask

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name,density", [("tiny", 0.3), ("mid", 0.5), ("d64", 1.0), ("mid", 0.0)])
def test_event_counts_match_the_golden_model(name, density):
    cfg = PRESETS[name]
    rng = np.random.default_rng(5)
    n = 6
    qi, ki, vi, m, sh, _, _ = make_inputs(rng, cfg, n, n)
    rows = random_mask(rng, n, n, density)
    exact = golden.run_job(cfg, qi, ki, vi, rows, m, sh, nk=n).counters
    counts = event_counts(cfg, rows, n, total_cycles=0)
    for key, value in exact.items():
        if key == "rescales":  # data-dependent: the comparison uses its upper bound
            assert value <= counts[key]
        else:
            assert counts[key] == value, key


def test_time_is_waves_of_jobs_times_cycles():
    cfg = PRESETS["mid"]
    one = accelerator_point(cfg, seq=64, density=0.5, jobs=1, seed=2)
    rows = random_mask(np.random.default_rng(2), 8, 8, 0.5)
    assert one["cycles_per_job"] == predict(cfg, rows, 8)["total_cycles"]
    assert one["latency_s"] == one["cycles_per_job"] / 1e9
    many = accelerator_point(cfg, seq=64, density=0.5, jobs=10, cores=4, seed=2)
    assert many["latency_s"] == 3 * one["latency_s"] and many["energy_j"] == pytest.approx(10 * one["energy_j"])


def cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "hw", "compare", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_compare_cli_json():
    r = cli("--seq", "256", "--density", "0.5", "--heads", "4", "--hw", "jetson,rpi5", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["target"] for x in rows][1:] == ["jetson-agx-orin", "rpi5"]
    assert rows[0]["target"].startswith("bsa ") and all(x["latency_s"] > 0 and x["energy_j"] > 0 for x in rows)


@pytest.mark.parametrize("args", [["--density", "2"], ["--seq", "100"], ["--block", "6"], ["--hw", "tpu"],
                                  ["--cores", "0"], ["--clock-ghz", "0"], ["--seq", "65536", "--density", "1"]])
def test_compare_cli_bad_flags(args):
    r = cli(*args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
