"""cocotb tests for bsa_top, checked bit for bit against hw.golden by an in-order scoreboard.
Run from tests/rtl/test_bsa_rtl.py (pytest + cocotb runner). BSA_STRESS scales the number of
random jobs."""

from __future__ import annotations

import ast
import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from hw import golden
from hw.config import COUNTERS, PRESETS, AccelConfig
from hw.jobs import make_inputs, random_mask
from hw.tb import Bench, Job, Timing

CFG = AccelConfig.from_rtl_parameters(
    ast.literal_eval(os.environ["BSA_PARAMS"]), os.environ.get("BSA_CONFIG", "")
)
STRESS = int(os.environ.get("BSA_STRESS", "1"))
EXACT = tuple(c for c in COUNTERS if c not in ("total_cycles", "stall_cycles"))  # data-exact counters


async def start(dut, seed=0) -> Bench:
    Clock(dut.clk_i, 10, unit="ns").start()
    bench = Bench(dut, CFG, seed)
    await bench.reset()
    return bench


def check(res, exp, job_desc: str):
    """Scoreboard: outputs, empty flags, last marker and event counters against the golden model."""
    n = exp.out.shape[0]
    assert res.out.shape == exp.out.shape, f"{job_desc}: got {res.out.shape[0]} rows, expected {n}"
    bad = np.argwhere(res.out != exp.out)
    assert bad.size == 0, (
        f"{job_desc}: {len(bad)} mismatches, first at {bad[0]}: got {res.out[tuple(bad[0])]} expected {exp.out[tuple(bad[0])]}"
    )
    assert np.array_equal(res.empty, exp.empty), f"{job_desc}: empty flags differ"
    assert res.last == [False] * (n - 1) + [True], f"{job_desc}: last marker wrong"
    for name in EXACT:
        assert res.counters[name] == exp.counters[name], (
            f"{job_desc}: counter {name} {res.counters[name]} != {exp.counters[name]}"
        )
    busy, stall, total = (res.counters[k] for k in ("busy_cycles", "stall_cycles", "total_cycles"))
    assert busy + stall <= total
    assert not any(res.errors.values()), f"{job_desc}: unexpected errors {res.errors}"


def build_job(rng, nq, nk, density, kind="gaussian", rows=None):
    qi, ki, vi, m, sh, _, _ = make_inputs(rng, CFG, nq, nk, kind)
    rows = random_mask(rng, nq, nk, density) if rows is None else rows
    return Job(qi, ki, vi, rows, m, sh, nq=nq, nk=nk), golden.run_job(CFG, qi, ki, vi, rows, m, sh, nk=nk)


@cocotb.test()
async def dense_smoke(dut):
    """A dense job with an ideal memory matches the golden model bit for bit."""
    bench = await start(dut)
    rng = np.random.default_rng(1)
    job, exp = build_job(rng, 2, 3, 1.0)
    res = await bench.run_job(job)
    check(res, exp, "dense smoke")


@cocotb.test()
async def random_jobs(dut):
    """Back-to-back constrained-random jobs: densities 0, low, half, full; idle cycles on every
    input, back-pressure on the output, random memory latency and bandwidth."""
    bench = await start(dut, seed=2)
    rng = np.random.default_rng(int(os.environ.get("BSA_SEED", "2")))
    mb = CFG.max_blocks
    for it in range(5 * STRESS):
        density = (0.0, 0.2, 0.5, 1.0, float(rng.uniform()))[it % 5]
        nq, nk = int(rng.integers(1, min(mb, 5) + 1)), int(rng.integers(1, min(mb, 5) + 1))
        kind = ("gaussian", "outliers", "uniform", "int")[int(rng.integers(0, 4))]
        job, exp = build_job(rng, nq, nk, density, kind)
        p = (0.0, 0.3, 0.7)
        timing = Timing(
            latency=int(rng.integers(1, 20)),
            rsp_gap=int(rng.integers(1, 4)),
            rsp_idle=p[it % 3],
            list_idle=p[(it + 1) % 3],
            req_stall=p[(it + 2) % 3],
            out_stall=(0.4, 0.8, 0.0)[it % 3],
        )
        res = await bench.run_job(job, timing)
        check(res, exp, f"job {it} nq={nq} nk={nk} s={density} {kind}")


@cocotb.test()
async def extremes_and_rows(dut):
    """All -128, all 127, empty and full rows in one job, duplicates in a list."""
    bench = await start(dut, seed=3)
    rng = np.random.default_rng(3)
    nk = min(CFG.max_blocks, 3)
    rows = [[], list(range(nk)), [nk - 1, 0], [], [0, 0]]
    for kind in ("min", "max", "int"):
        job, exp = build_job(rng, len(rows), nk, 0, kind, rows=rows)
        res = await bench.run_job(job, Timing(latency=2, out_stall=0.3, list_idle=0.3))
        check(res, exp, f"extremes {kind}")
        assert res.empty.tolist() == [r == [] for r in rows for _ in range(CFG.block)]
    # no key blocks at all (nk = 0): every row empty, zeros
    job, exp = build_job(rng, 2, 0, 0, "int", rows=[[], []])
    res = await bench.run_job(job, Timing(out_stall=0.5))
    check(res, exp, "nk = 0")


async def clean_job(bench, rng, tag):
    job, exp = build_job(rng, 2, 2, 0.75)
    res = await bench.run_job(job, Timing(latency=3, out_stall=0.2))
    check(res, exp, f"clean job after {tag}")


@cocotb.test()
async def malformed_lists(dut):
    """Index out of range, a list longer than the row, a list that ends early, a list that runs
    past the last row and a bad command each raise their flag; the next job is clean."""
    bench = await start(dut, seed=4)
    rng = np.random.default_rng(4)
    nq, nk = 2, 2
    # out-of-range index: skipped, rest of the job bit exact
    job, _ = build_job(rng, nq, nk, 1.0)
    job.rows = [[0, nk + 1], [1]]
    exp = golden.run_job(CFG, job.q, job.k, job.v, job.rows, job.m, job.sh, nk=nk)
    res = await bench.run_job(job)
    assert res.errors["err_index"] and exp.errors["err_index"]
    assert (
        np.array_equal(res.out, exp.out) and res.counters["blocks_visited"] == exp.counters["blocks_visited"]
    )
    await clean_job(bench, rng, "bad index")
    # list longer than the row: the row is discarded (zeros, empty)
    job.rows = [[0, 1, 0], [1]]
    exp = golden.run_job(CFG, job.q, job.k, job.v, job.rows, job.m, job.sh, nk=nk)
    res = await bench.run_job(job)
    assert res.errors["err_count"] and np.array_equal(res.out, exp.out) and res.empty[: CFG.block].all()
    await clean_job(bench, rng, "long row")
    # a job that ends early: last on the first row's final beat
    job.rows, job.beats = [[0], [1]], [(1, 0), (0, 1)]
    res = await bench.run_job(job)
    assert res.errors["err_early"] and res.out.shape[0] == CFG.block and res.last[-1]
    await clean_job(bench, rng, "early end")
    # ends early in the middle of a row
    job.beats = [(2, 0), (0, 1)]
    res = await bench.run_job(job)
    assert res.errors["err_early"]
    await clean_job(bench, rng, "early end mid-row")
    # runs past the last row: extra beats drained up to last
    job.beats = [(1, 0), (0, 0), (1, 0), (1, 0), (5, 0), (0, 0), (3, 1)]
    res = await bench.run_job(job)
    assert res.errors["err_late"] and res.out.shape[0] == nq * CFG.block
    await clean_job(bench, rng, "late end")
    # bad command: nq = 0
    job.nq, job.beats = 0, []
    res = await bench.run_job(job)
    assert res.errors["err_cmd"] and res.out.shape[0] == 0
    await clean_job(bench, rng, "bad command")


@cocotb.test()
async def reset_mid_job(dut):
    """A reset in the middle of a job, then a clean job."""
    bench = await start(dut, seed=5)
    rng = np.random.default_rng(5)
    from hw.cycles import predict  # noqa: PLC0415

    total = predict(CFG, [[0, 1, 2]] * 3, 3, latency=5)["total_cycles"]
    # early (loading), mid-compute, and late (epilogue and output of the last query block)
    for abort in (7, 40, total // 2, total - CFG.block * 3):
        job, _ = build_job(rng, 3, 3, 1.0)
        res = await bench.run_job(job, Timing(latency=5), abort_after=abort)
        assert not res.finished
        await bench.reset()
        await clean_job(bench, rng, f"reset at {abort}")
    await RisingEdge(dut.clk_i)


@cocotb.test()
async def dense_utilisation(dut):
    """Dense job with enough memory bandwidth: the MAC array is >= 90% busy while streaming, and
    a job at density s takes close to s times the dense cycles. Writes measurements to
    BSA_REPORT (JSON) when set."""
    from hw.cycles import predict  # noqa: PLC0415

    bench = await start(dut, seed=6)
    rng = np.random.default_rng(6)
    n = min(CFG.max_blocks, 8)
    report = {"config": CFG.label, "jobs": []}
    dense_total = None
    for density in (1.0, 0.5, 0.25):
        job, exp = build_job(rng, n, n, density)
        timing = Timing(latency=10, rsp_gap=1)
        res = await bench.run_job(job, timing)
        check(res, exp, f"utilisation s={density}")
        c = res.counters
        pred = predict(CFG, job.rows, n, latency=timing.latency, rsp_gap=timing.rsp_gap)
        entry = {
            "density": density,
            "nq": n,
            "nk": n,
            "total": c["total_cycles"],
            "busy": c["busy_cycles"],
            "stall": c["stall_cycles"],
            "util": c["busy_cycles"] / c["total_cycles"],
            "pred_total": pred["total_cycles"],
            "pred_err": pred["total_cycles"] / c["total_cycles"] - 1,
        }
        if density == 1.0:
            dense_total = c["total_cycles"]
        entry["ratio_to_dense"] = c["total_cycles"] / dense_total
        if CFG.name in PRESETS:  # corner sets (B*D tiny next to the epilogue) only check the model
            assert density < 1.0 or entry["util"] >= 0.9, entry
            assert density - 0.02 <= entry["ratio_to_dense"] <= density + 0.05, entry
        report["jobs"].append(entry)
        dut._log.info("%s", entry)
        assert abs(entry["pred_err"]) <= 0.05, entry
    if os.environ.get("BSA_REPORT"):
        with open(os.environ["BSA_REPORT"], "w") as fh:
            json.dump(report, fh, indent=1)
