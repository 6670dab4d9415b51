"""Cycle, energy and roofline models (the cycle model is validated against the RTL counters in
tests/rtl: dense_utilisation asserts <= 5% error; measured < 0.1%)."""

from __future__ import annotations

import numpy as np
import pytest

from hw.accel import accel_hardware
from hw.config import PRESETS, AccelConfig
from hw.cycles import predict
from hw.energy import job_energy
from hw.jobs import random_mask


@pytest.mark.parametrize("name", list(PRESETS))
def test_dense_utilisation_and_density_scaling(name):
    cfg = PRESETS[name]
    n = cfg.max_blocks
    dense = predict(cfg, [list(range(n))] * n, n)
    assert dense["utilisation"] >= 0.9
    for s in (0.25, 0.5):
        rows = random_mask(np.random.default_rng(0), n, n, s)
        ratio = predict(cfg, rows, n)["total_cycles"] / dense["total_cycles"]
        assert s <= ratio <= s + 0.1, (s, ratio)


def test_bandwidth_bound():
    """Slow memory: one response beat every 64 cycles makes loading, not compute, the bound."""
    cfg = PRESETS["tiny"]
    rows = [list(range(4))] * 4
    fast, slow = predict(cfg, rows, 4), predict(cfg, rows, 4, rsp_gap=64)
    assert slow["total_cycles"] > 16 * 2 * cfg.block * 64 * 0.9 > fast["total_cycles"]


def test_energy_and_roofline():
    cfg = PRESETS["mid"]
    counters = {"macs": 1000, "exps": 10, "sram_rd_bytes": 100, "stream_in_bytes": 64, "total_cycles": 500}
    e = job_energy(cfg, counters, flops=1000)
    assert e["total_j"] == pytest.approx(sum(e["parts_j"].values()))
    assert e["parts_j"]["macs"] == pytest.approx(1000 * 0.3e-12)
    hw = accel_hardware(cfg)
    assert hw["peak_int8_ops_per_s"] == 2 * cfg.macs * 1e9 and hw["sram_bytes"] > 0


def test_config_validation():
    with pytest.raises(ValueError):
        AccelConfig(block=8, head_dim=16, macs=3)
    with pytest.raises(ValueError):
        PRESETS["mid"].from_name("nope")
