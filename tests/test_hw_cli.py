"""`python -m hw`: bad invocations exit 2 with one line on stderr; a real simulation reports a
bit-exact match, counters, error against fp32 and energy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "hw", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--block", "8", "--head-dim", "16", "--seq", "64", "--density", "1.5"],
        ["simulate", "--block", "8", "--head-dim", "16", "--seq", "64", "--density", "-0.1"],
        ["simulate", "--block", "8", "--head-dim", "24", "--seq", "64", "--density", "0.5"],
        ["simulate", "--block", "128", "--head-dim", "16", "--seq", "256", "--density", "0.5"],
        ["simulate", "--block", "8", "--head-dim", "16", "--seq", "2048", "--density", "1"],  # too long to simulate
        ["simulate", "--block", "8", "--head-dim", "16", "--seq", "64", "--density", "0.5", "--macs", "3"],
        ["simulate", "--block", "8", "--head-dim", "16", "--seq", "60", "--density", "0.5"],
        ["simulate", "--block", "8", "--head-dim", "16", "--seq", "4096", "--density", "0.5"],
        ["simulate", "--block", "8", "--head-dim", "16", "--seq", "64"],
        ["simulate", "--block", "eight", "--head-dim", "16", "--seq", "64", "--density", "0.5"],
        ["simulate", "--block", "8", "--head-dim", "16", "--seq", "64", "--density", "0.5", "--bogus"],
        ["frobnicate"],
        ["simulate", "--block", "4", "--head-dim", "8", "--seq", "16", "--density", "0.5", "--seed", "-1"],
        ["simulate", "--block", "4", "--head-dim", "8", "--seq", "16", "--density", "0.5", "--rsp-gap", "0"],
    ],
)
def test_bad_invocations(args):
    r = run_cli(*args, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_hardware_and_area():
    r = run_cli("hardware", "--config", "d64", timeout=60)
    hw = json.loads(r.stdout)
    assert hw["peak_int8_macs_per_s"] == 8e9 and hw["clock_source"] == "assumed"
    r = run_cli("area", "--config", "tiny", "--json", timeout=600)
    assert r.returncode == 0 and json.loads(r.stdout)["cells"] > 1000


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler for Verilator")
def test_simulate_json():
    r = run_cli(
        "simulate",
        "--block",
        "4",
        "--head-dim",
        "8",
        "--seq",
        "24",
        "--density",
        "0.4",
        "--seed",
        "7",
        "--json",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["bit_exact"] and out["counters_match_golden"]
    assert out["counters"]["blocks_visited"] == round(0.4 * 36)
    assert out["error_vs_fp32"]["max_abs_err_rel"] < 0.05
    assert abs(out["cycle_model_error"]) < 0.05
    assert out["energy"]["total_j"] > 0


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler for Verilator")
def test_simulate_text():
    r = run_cli("simulate", "--block", "4", "--head-dim", "8", "--seq", "16", "--density", "0", "--seed", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "bit for bit: yes" in r.stdout and "total_cycles" in r.stdout and "estimated energy" in r.stdout


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler for Verilator")
def test_simulate_builds_a_configuration_that_is_not_a_preset():
    """A shape no preset has (B=4, D=16, 2 MACs/cycle) is built on first use and checked bit for bit."""
    r = run_cli("simulate", "--block", "4", "--head-dim", "16", "--macs", "2", "--seq", "20", "--density", "0.6",
                "--seed", "11", "--kind", "outliers", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["config"] == "b4_d16_p2_m16" and out["macs_per_cycle"] == 2
    assert out["bit_exact"] and out["counters_match_golden"] and abs(out["cycle_model_error"]) < 0.05
