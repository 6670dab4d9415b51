"""One RTL simulation of a random job, checked against the golden model and fp32 attention."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import tempfile

import numpy as np

from hw import golden, rtl
from hw.config import AccelConfig, config_for
from hw.cycles import predict
from hw.energy import job_energy
from hw.jobs import make_inputs, random_mask


@contextlib.contextmanager
def _to_log(path):
    """Send this process's stdout/stderr file descriptors (and so the build and simulator
    subprocesses') to a log file, so that the CLI's own output stays clean."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class UserError(ValueError):
    """A bad request (flags out of range); the CLI prints it on one line and exits 2."""


MAX_SIM_CYCLES = 6_000_000  # about four minutes of cocotb + Verilator on this machine
MAX_SEQ_BLOCKS = 256  # a job of up to 256 x 256 blocks (the simulation time grows with its square)


def check_config(block: int, head_dim: int, seq: int, density: float, macs: int | None = None) -> AccelConfig:
    """The configuration a job of `seq` tokens runs on, after checking the shape flags (UserError)."""
    if not 0.0 <= density <= 1.0:
        raise UserError(f"--density must be in [0, 1], got {density}")
    if block < 2 or head_dim < 2 or block & (block - 1) or head_dim & (head_dim - 1):
        raise UserError(f"--block and --head-dim must be powers of two >= 2, got {block} and {head_dim}")
    if block > 64 or head_dim > 256:
        raise UserError(f"--block must be <= 64 and --head-dim <= 256 (got {block}, {head_dim}): larger cores "
                        "take too long to build and simulate here")
    if seq <= 0 or seq % block:
        raise UserError(f"--seq must be a positive multiple of --block {block}, got {seq}")
    if macs is not None and (macs < 1 or macs & (macs - 1) or block % macs or head_dim % macs):
        raise UserError(f"--macs must be a power of two dividing --block and --head-dim, got {macs}")
    try:
        return config_for(block, head_dim, seq // block, macs)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def check_request(block: int, head_dim: int, seq: int, density: float, macs: int | None = None) -> AccelConfig:
    """check_config, plus the simulation's own limit on the job size."""
    if block > 0 and seq > 0 and seq % block == 0 and seq // block > MAX_SEQ_BLOCKS:
        raise UserError(f"--seq {seq} is over {MAX_SEQ_BLOCKS * block} ({MAX_SEQ_BLOCKS} blocks of {block})")
    return check_config(block, head_dim, seq, density, macs)


def simulate(
    block: int,
    head_dim: int,
    seq: int,
    density: float,
    seed: int,
    kind: str = "gaussian",
    latency: int = 4,
    rsp_gap: int = 1,
    macs: int | None = None,
) -> dict:
    cfg = check_request(block, head_dim, seq, density, macs)
    if seed < 0:
        raise UserError(f"--seed must be >= 0, got {seed}")
    if latency < 0 or rsp_gap < 1:
        raise UserError("--latency must be >= 0 and --rsp-gap >= 1")
    n = seq // block
    rng = np.random.default_rng(seed)
    qi, ki, vi, m, sh, sv, floats = make_inputs(rng, cfg, n, n, kind)
    rows = random_mask(rng, n, n, density)
    expected = predict(cfg, rows, n, latency=latency, rsp_gap=rsp_gap)["total_cycles"]
    if expected > MAX_SIM_CYCLES:  # the cocotb bench runs ~25k cycles/s here: refuse what would take ages
        raise UserError(
            f"this job takes ~{expected:,} cycles (cycle model), over the simulation limit of {MAX_SIM_CYCLES:,} "
            f"(~{MAX_SIM_CYCLES // 25_000 // 60} min here); use a smaller --seq or --density, or hw.cycles.predict"
        )
    if expected > 1_000_000:
        print(f"hw: simulating ~{expected:,} cycles (about {expected / 25_000:.0f} s here)", file=sys.stderr)
    build_dir = rtl.build_dir_for(cfg, waves=False)
    build_dir.mkdir(parents=True, exist_ok=True)
    rtl.add_to_path(rtl.ROOT)
    with tempfile.TemporaryDirectory(dir=build_dir) as tmp:
        job_path, res_path = os.path.join(tmp, "job.npz"), os.path.join(tmp, "result.json")
        np.savez(
            job_path,
            q=qi,
            k=ki,
            v=vi,
            m=m,
            sh=sh,
            nk=n,
            rows=json.dumps(rows),
            seed=seed,
            latency=latency,
            rsp_gap=rsp_gap,
        )
        with _to_log(build_dir / "cli.log"), open(build_dir / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent CLI runs share one cached build
            runner = rtl.build(cfg, build_dir, waves=False)
            fcntl.flock(lock, fcntl.LOCK_UN)
            rtl.run(
                runner,
                cfg,
                "hw.sim_entry",
                build_dir=build_dir,
                waves=False,
                test_dir=tmp,
                extra_env={"BSA_JOB": job_path, "BSA_RESULT": res_path},
            )
        if not os.path.exists(res_path):
            raise RuntimeError(f"the simulation wrote no result; see {build_dir / 'cli.log'}")
        with open(res_path) as fh:
            res = json.load(fh)
    exp = golden.run_job(cfg, qi, ki, vi, rows, m, sh, nk=n)
    out = np.array(res["out"], dtype=np.int8).reshape(-1, head_dim)
    match = out.shape == exp.out.shape and bool(np.array_equal(out, exp.out))
    counters = res["counters"]
    exact = {k: counters[k] == v for k, v in exp.counters.items()}
    result = {
        "config": cfg.label,
        "block": block,
        "head_dim": head_dim,
        "macs_per_cycle": cfg.macs,
        "seq": seq,
        "density": density,
        "seed": seed,
        "kind": kind,
        "blocks_visited": counters["blocks_visited"],
        "blocks_total": n * n,
        "counters": counters,
        "errors": res["errors"],
        "bit_exact": match,
        "counters_match_golden": all(exact.values()),
        "utilisation": counters["busy_cycles"] / counters["total_cycles"],
    }
    if floats is not None:
        ref = golden.attention_fp32(*floats, golden.block_mask(rows, n), block)
        result["error_vs_fp32"] = golden.error_vs_fp32(out, sv, ref, floats[2])
        # the same fp32 attention on the INT8-quantised inputs: what the fixed-point arithmetic adds
        qf, kf, vf = floats
        deq = [a * (float(np.abs(f).max()) / 127) for a, f in ((qi, qf), (ki, kf))]
        naive = golden.attention_fp32(*deq, vi * sv, golden.block_mask(rows, n), block)
        result["error_vs_int8_reference"] = golden.error_vs_fp32(out, sv, naive, vf)
        result["int8_reference_error_vs_fp32"] = golden.error_vs_fp32(
            np.zeros_like(out), 0.0, ref - naive, vf
        )
    pred = predict(cfg, rows, n, latency=latency, rsp_gap=rsp_gap)
    result["predicted_total_cycles"] = pred["total_cycles"]
    result["cycle_model_error"] = pred["total_cycles"] / counters["total_cycles"] - 1
    from hw.area import CACHE, area  # noqa: PLC0415

    flops = area(cfg)["flops"] if CACHE.exists() and cfg.label in CACHE.read_text() else None
    result["energy"] = job_energy(cfg, counters, flops)
    return result
