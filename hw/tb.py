"""cocotb test-bench components for bsa_top: a job description, a memory model with configurable
latency and bandwidth, stream drivers with idle cycles, an output monitor with back-pressure.

All DUT outputs are functions of registered state only, so one coroutine samples them at the
falling edge, decides every handshake that will happen at the next rising edge and drives the
inputs for it. One coroutine per cycle keeps the Python cost low.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from hw.config import CNT_W, COUNTERS, ERRORS, AccelConfig


@dataclass
class Timing:
    """Memory and stream timing. latency: cycles from a request to its first response beat;
    rsp_gap: cycles per response beat (bandwidth = D bytes / rsp_gap per cycle); the *_idle and
    out_stall values are probabilities of an idle cycle on that stream."""

    latency: int = 4
    rsp_gap: int = 1
    rsp_idle: float = 0.0
    list_idle: float = 0.0
    req_stall: float = 0.0
    out_stall: float = 0.0


@dataclass
class Job:
    q: np.ndarray  # (nq*B, D) int8
    k: np.ndarray  # (nk*B, D) int8
    v: np.ndarray  # (nk*B, D) int8
    rows: list  # nq lists of key-block indices
    m: int
    sh: int
    nq: int = 0
    nk: int = 0
    beats: list | None = None  # (data, last) list beats; default: built from rows

    def __post_init__(self):
        self.nq = self.nq or len(self.rows)

    def list_beats(self) -> list[tuple[int, int]]:
        if self.beats is not None:
            return self.beats
        beats = []
        for row in self.rows:
            beats.append((len(row), 0))
            beats.extend((int(i), 0) for i in row)
        beats[-1] = (beats[-1][0], 1)
        return beats


@dataclass
class SimResult:
    out: np.ndarray  # (rows, D) int8
    empty: np.ndarray  # (rows,) bool
    last: list
    counters: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    cycles: int = 0
    finished: bool = True


def rows_to_ints(a: np.ndarray) -> list[int]:
    """(n, D) int8 -> one integer per row, element d in bits [8d+7:8d]."""
    u = np.ascontiguousarray(a.astype(np.int8)).view(np.uint8)
    return [int.from_bytes(r.tobytes(), "little") for r in u]


def int_to_row(x: int, d: int) -> np.ndarray:
    return np.frombuffer(x.to_bytes(d, "little"), dtype=np.int8)


class Bench:
    """Drives one bsa_top instance."""

    def __init__(self, dut, cfg: AccelConfig, seed: int = 0):
        self.dut, self.cfg = dut, cfg
        self.rng = random.Random(seed)
        self.cycle = 0

    def idle_inputs(self):
        d = self.dut
        for sig in (d.cmd_valid_i, d.list_valid_i, d.rsp_valid_i):
            sig.value = 0
        d.req_ready_i.value = 0
        d.out_ready_i.value = 0
        d.cmd_nq_i.value = 0
        d.cmd_nk_i.value = 0
        d.cmd_scale_i.value = 0
        d.cmd_shift_i.value = 0
        d.list_data_i.value = 0
        d.list_last_i.value = 0
        d.rsp_data_i.value = 0

    async def reset(self, cycles: int = 3):
        self.idle_inputs()
        self.dut.rst_ni.value = 0
        for _ in range(cycles):
            await RisingEdge(self.dut.clk_i)
        self.dut.rst_ni.value = 1
        await RisingEdge(self.dut.clk_i)

    def read_counters(self) -> dict:
        raw = int(self.dut.cnt_o.value)
        mask = (1 << CNT_W) - 1
        return {name: (raw >> (i * CNT_W)) & mask for i, name in enumerate(COUNTERS)}

    def read_errors(self) -> dict:
        raw = int(self.dut.err_o.value)
        return {name: bool((raw >> i) & 1) for i, name in enumerate(ERRORS)}

    async def run_job(
        self,
        job: Job,
        timing: Timing | None = None,
        max_cycles: int = 2_000_000,
        abort_after: int | None = None,
    ) -> SimResult:
        """Run one job to its done pulse (or for abort_after cycles, then return unfinished)."""
        t = timing or Timing()
        d, cfg, rng = self.dut, self.cfg, self.rng
        b, hd = cfg.block, cfg.head_dim
        nk = job.nk or job.k.shape[0] // b
        qrows, krows, vrows = rows_to_ints(job.q), rows_to_ints(job.k), rows_to_ints(job.v)
        beats = deque(job.list_beats())
        pending = deque()  # response beats: (ready_cycle, data)
        outs, empties, lasts = [], [], []
        cmd_pending = True
        next_rsp = 0
        cyc = 0
        self.idle_inputs()
        while True:
            await FallingEdge(d.clk_i)
            cyc += 1
            # sample DUT outputs (registered state; stable until the next rising edge)
            if int(d.done_o.value) and not cmd_pending:
                break
            if cyc > max_cycles:
                raise TimeoutError(f"job did not finish in {max_cycles} cycles")
            if abort_after is not None and cyc >= abort_after:
                return SimResult(np.zeros((0, hd), np.int8), np.zeros(0, bool), [], finished=False)
            cmd_ready = int(d.cmd_ready_o.value)
            list_ready = int(d.list_ready_o.value)
            req_valid = int(d.req_valid_o.value)
            rsp_ready = int(d.rsp_ready_o.value)
            out_valid = int(d.out_valid_o.value)
            # command
            if cmd_pending:
                d.cmd_valid_i.value = 1
                d.cmd_nq_i.value = job.nq
                d.cmd_nk_i.value = nk
                d.cmd_scale_i.value = job.m
                d.cmd_shift_i.value = job.sh
                if cmd_ready:
                    cmd_pending = False
                continue_cmd = True
            else:
                d.cmd_valid_i.value = 0
                continue_cmd = False
            # list stream with idle cycles
            if beats and not continue_cmd and rng.random() >= t.list_idle:
                data, last = beats[0]
                d.list_valid_i.value = 1
                d.list_data_i.value = data
                d.list_last_i.value = last
                if list_ready:
                    beats.popleft()
            else:
                d.list_valid_i.value = 0
            # memory requests (with stalls) -> response beats after the latency
            take = 1 if rng.random() >= t.req_stall else 0
            d.req_ready_i.value = take
            if req_valid and take:
                kv, idx = int(d.req_kv_o.value), int(d.req_idx_o.value)
                start = max(cyc + t.latency, next_rsp)
                if kv:
                    data = krows[idx * b : (idx + 1) * b] + vrows[idx * b : (idx + 1) * b]
                else:
                    data = qrows[idx * b : (idx + 1) * b]
                for row in data:
                    pending.append((start, row))
                    start += t.rsp_gap
                next_rsp = start
            # memory responses (bandwidth-limited, with idle cycles)
            if pending and pending[0][0] <= cyc and rng.random() >= t.rsp_idle:
                d.rsp_valid_i.value = 1
                d.rsp_data_i.value = pending[0][1]
                if rsp_ready:
                    pending.popleft()
                    if pending and pending[0][0] <= cyc:
                        pending[0] = (cyc + t.rsp_gap, pending[0][1])
            else:
                d.rsp_valid_i.value = 0
            # output rows with back-pressure
            ready = 1 if rng.random() >= t.out_stall else 0
            d.out_ready_i.value = ready
            if out_valid and ready:
                outs.append(int_to_row(int(d.out_data_o.value), hd))
                empties.append(bool(int(d.out_empty_o.value)))
                lasts.append(bool(int(d.out_last_o.value)))
        self.idle_inputs()
        counters, errors = self.read_counters(), self.read_errors()
        out = np.array(outs, dtype=np.int8).reshape(-1, hd)
        return SimResult(out, np.array(empties, bool), lasts, counters, errors, cyc)
