"""cocotb entry used by `python -m hw simulate`: runs the job stored in $BSA_JOB (npz) and writes
the RTL's outputs, counters and flags to $BSA_RESULT (JSON)."""

from __future__ import annotations

import ast
import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock

from hw.config import AccelConfig
from hw.tb import Bench, Job, Timing


@cocotb.test()
async def run_job_from_env(dut):
    cfg = AccelConfig.from_rtl_parameters(ast.literal_eval(os.environ["BSA_PARAMS"]), os.environ.get("BSA_CONFIG", ""))
    data = np.load(os.environ["BSA_JOB"])
    rows = json.loads(str(data["rows"]))
    job = Job(
        data["q"],
        data["k"],
        data["v"],
        rows,
        int(data["m"]),
        int(data["sh"]),
        nq=len(rows),
        nk=int(data["nk"]),
    )
    Clock(dut.clk_i, 10, unit="ns").start()
    bench = Bench(dut, cfg, seed=int(data["seed"]))
    await bench.reset()
    timing = Timing(latency=int(data["latency"]), rsp_gap=int(data["rsp_gap"]))
    res = await bench.run_job(job, timing)
    with open(os.environ["BSA_RESULT"], "w") as fh:
        json.dump(
            {
                "out": res.out.astype(int).tolist(),
                "empty": res.empty.tolist(),
                "counters": res.counters,
                "errors": res.errors,
                "cycles": res.cycles,
            },
            fh,
        )
