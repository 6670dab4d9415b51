"""Hardware catalog: every device loads with a source for every number; aliases; calibration; host."""

import shutil
from pathlib import Path

import pytest

from perfmodel.errors import UserError
from perfmodel.hardware import hardware_ids, load_hardware, resolve

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("h100-sxm", "h200", "a100-40gb", "a100-80gb", "l4", "rtx-4090", "jetson-agx-orin", "jetson-orin-nx",
            "jetson-orin-nano", "jetson-orin-nano-super", "rpi5", "host")


def test_catalog_has_the_required_devices():
    assert set(REQUIRED) <= set(hardware_ids())


@pytest.mark.parametrize("hw_id", REQUIRED)
def test_every_number_has_a_source(hw_id):
    hw = load_hardware(hw_id, calibrated=False)
    for key in ("vector_tflops", "mem_bw_gbps", "mem_capacity_gb", "sram_per_core_kib", "cores", "clock_ghz",
                "launch_overhead_us", "power_w", "efficiency.matmul", "efficiency.vector", "efficiency.memory"):
        assert hw.sources.get(key, "").strip(), key
    for dtype in hw.peak_flops:
        assert hw.sources[f"peak_tflops.{dtype}"].strip()
    assert hw.peak_flops["fp32"] > 0 and hw.mem_bw > 0 and hw.cores >= 1


def test_published_figures_carried_in_si():
    h100 = load_hardware("h100", calibrated=False)
    assert h100.peak_flops["fp16"] == pytest.approx(989.4e12) and h100.mem_bw == pytest.approx(3.35e12)
    assert load_hardware("a100-80gb", calibrated=False).mem_bw == pytest.approx(2039e9)
    orin = load_hardware("jetson", calibrated=False)
    assert orin.id == "jetson-agx-orin" and orin.mem_bw == pytest.approx(204.8e9)
    assert "assumed" in orin.sources["peak_tflops.fp16"].lower()  # no dense FP16 peak is published


def test_aliases_resolve_case_insensitively():
    assert resolve("JETSON") == "jetson-agx-orin"
    assert resolve("4090") == "rtx-4090"
    with pytest.raises(UserError, match="unknown device"):
        resolve("cray-1")


def test_power_modes():
    hw = load_hardware("jetson-orin-nano", power_mode="7w")
    assert hw.power_w == 7 and hw.power_mode == "7w"
    with pytest.raises(UserError, match="no power mode"):
        load_hardware("h100", power_mode="eco")


def test_calibration_file_replaces_assumed_efficiencies(tmp_path, monkeypatch):
    prof = tmp_path / "profiles"
    shutil.copytree(ROOT / "profiles", prof)
    monkeypatch.setenv("PERFMODEL_PROFILES", str(prof))
    (prof / "calibrated").mkdir(exist_ok=True)
    (prof / "calibrated" / "l4.yaml").write_text(
        "id: l4\nsource: test fit\nefficiency: {matmul: 0.5, memory: 0.6}\nlaunch_overhead_us: 7\n")
    cal = load_hardware("l4")
    assert cal.calibrated and cal.eff_matmul == 0.5 and cal.eff_memory == 0.6 and cal.launch_overhead_s == 7e-6
    assert not load_hardware("l4", calibrated=False).calibrated
    (prof / "calibrated" / "l4.yaml").write_text("id: l4\nsource: x\nefficiency: {matmul: 1.7}\n")
    with pytest.raises(UserError, match="efficiency.matmul must be a number in"):
        load_hardware("l4")


def test_host_is_detected():
    host = load_hardware("host", calibrated=False)
    assert host.kind == "cpu" and host.cores >= 1 and host.mem_bw > 1e8
    assert host.sources["mem_bw_gbps"].startswith("measured")
    assert host.sources["peak_tflops.fp32"].startswith("derived")
