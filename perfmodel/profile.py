"""`perfmodel profile`: measure the reference kernels over a grid and append one CSV row per workload.

Grid: variants (MHA, GQA, MQA) x patterns x kernels x phases x sequence lengths x batch x dtype.
Per row: warm-up calls, then timed calls until both a minimum count and a minimum time are reached
(--quick: 5 calls and 0.1 s; full: 10 calls and 1 s), or, for slow rows, 3 calls and a time cap
(--quick 2 s, full 30 s); median, IQR and minimum latency; peak memory of one untimed call (the
first warm-up call); the cost model's FLOPs, bytes and latency for the same workload
(perfmodel.predict on the same device, attention op only); environment metadata.

Timing: CPU with time.perf_counter around each call; CUDA with CUDA events and a synchronisation
after each call. Peak memory: CUDA max_memory_allocated minus the bytes allocated before the call;
CPU: the peak of the net bytes allocated through torch's CPU allocator during the call, summed in
time order from the torch profiler's memory events (inputs excluded, outputs and temporaries
included; memory that kernels allocate outside torch's allocator is not seen).

Rows are appended one complete line at a time (write, flush, fsync), so Ctrl-C, a crash or a kill
loses at most the row being measured; a rerun with the same --out validates what is there, drops a
partial last line with a warning, and skips every workload already measured. The schema is
documented and validated in perfmodel.measured.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import sys
import time

from perfmodel.errors import UserError
from perfmodel.measured import format_row, header_line, read_rows, row_key, variant_of

DEVICES = ("cpu", "cuda", "mps")
CPU_MEMORY_METHOD = "torch profiler CPU allocator events: peak net bytes during one call"
CUDA_MEMORY_METHOD = "torch.cuda.max_memory_allocated minus allocated before the call"


# ---------------------------------------------------------------------------------------------- grid


def grid(quick: bool, device: str, seqs=None, batches=None, dtypes=None) -> list[dict]:
    """Workload dicts (Workload fields) of the grid, cheapest first within each sequence length."""
    heads, head_dim = (8, 64) if quick else (16, 64)
    variants = [heads, 2, 1]  # kv_heads: MHA, GQA, MQA
    if seqs is None:
        seqs = [512, 2048] if quick else [256, 512, 1024, 2048, 4096, 8192, 16384]
    if batches is None:
        batches = [1] if quick else [1, 4]
    if dtypes is None:
        dtypes = ["fp32"] if quick else (["fp32", "bf16"] if device == "cpu" else ["fp16", "bf16", "fp32"])
    phases = [("prefill", ("naive", "flash")), ("decode", ("naive", "flash", "flash-decoding"))]
    if not quick:
        phases.append(("train", ("naive", "flash")))
    rows = []
    for n in seqs:
        patterns = [
            "dense",
            f"local:{max(1, n // 8)}",
            "strided:8",
            f"hybrid:{max(1, n // 16)},16",
            "block:64,0.25",
        ]
        for dtype in dtypes:
            for batch in batches:
                for phase, kernels in phases:
                    for kv in variants:
                        for pattern in patterns:
                            for kernel in kernels:
                                rows.append(
                                    dict(
                                        heads=heads,
                                        kv_heads=kv,
                                        head_dim=head_dim,
                                        batch=batch,
                                        seq=n,
                                        pattern=pattern,
                                        kernel=kernel,
                                        phase=phase,
                                        dtype=dtype,
                                        causal=True,
                                    )
                                )
    return rows


# ---------------------------------------------------------------------------------------------- env


def cpu_description() -> str:
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info and "model" in info:
        name += f" (family {info['cpu family']} model {info['model']})"
    return name


def environment(device: str, threads: int) -> dict:
    import numpy as np
    import torch

    if device == "cuda":
        desc = torch.cuda.get_device_name(0)
    elif device == "mps":
        desc = f"Apple MPS ({platform.machine()})"
    else:
        desc = cpu_description()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return dict(
        device_desc=desc,
        torch_version=torch.__version__,
        numpy_version=np.__version__,
        python_version=platform.python_version(),
        threads=threads,
        cores=cores,
        date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def check_device(device: str):
    import torch

    if device not in DEVICES:
        raise UserError(f"unknown device '{device}' (expected one of: {', '.join(DEVICES)})")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' requested but torch.cuda.is_available() is False on this machine")
    if device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise UserError("device 'mps' requested but torch.backends.mps.is_available() is False")


def hardware_id(device: str, hw: str | None) -> str:
    """The perfmodel hardware id the cost-model columns use: --hw, else 'host' for the CPU, else the
    longest prefix of the accelerator's name that is a hardware id or alias
    ('NVIDIA H100 80GB HBM3' -> h100-80gb -> h100-sxm)."""
    from perfmodel import load_hardware

    if hw is not None:
        return load_hardware(hw, calibrated=False).id
    if device == "cpu":
        return "host"
    import torch

    name = torch.cuda.get_device_name(0) if device == "cuda" else "mps"
    for guess in name_candidates(name):
        try:
            return load_hardware(guess, calibrated=False).id
        except UserError:
            continue
    raise UserError(
        f"cannot tell which perfmodel hardware '{name}' is: pass --hw ID (a file in profiles/hardware)"
    )


def name_candidates(name: str) -> list[str]:
    """Hardware-id guesses from a device name, longest first."""
    slug = name.lower().replace("_", " ").replace("-", " ")
    tokens = [t for t in slug.split() if t not in ("nvidia", "geforce", "tesla")]
    return ["-".join(tokens[:k]) for k in range(len(tokens), 0, -1)]


# ---------------------------------------------------------------------------------------------- measure


def model_columns(rows: list[dict], hw: str) -> list[dict]:
    """The cost model's attention-op FLOPs, bytes and latency for each workload (one predict call)."""
    from perfmodel.predict import predict
    from perfmodel.workload import Workload

    df = predict([Workload(**r, scope="attention", layers=1) for r in rows], hw)
    return [
        dict(
            model_flops=float(r.flops_attn),
            model_bytes=float(r.bytes_attn),
            model_exec_flops_attn_matmul=float(r.exec_flops_attn_matmul),
            model_flops_attn_matmul=float(r.flops_attn_matmul),
            model_latency_s=float(r.latency_attn_s),
        )
        for r in df.itertuples()
    ]


def make_inputs(w: dict, device: str, seed: int = 0):
    import torch

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[w["dtype"]]
    g = torch.Generator().manual_seed(seed)
    nq = 1 if w["phase"] == "decode" else w["seq"]
    train = w["phase"] == "train"

    def t(heads, n):
        x = torch.randn(w["batch"], heads, n, w["head_dim"], generator=g).to(device=device, dtype=dtype)
        return x.requires_grad_(train)

    return t(w["heads"], nq), t(w["kv_heads"], w["seq"]), t(w["kv_heads"], w["seq"])


def make_call(w: dict, device: str):
    """set up the kernel for one workload; return call() running one forward (+ backward for train)."""
    from perfmodel.kernels import prepare

    phase = w["phase"]
    fn = prepare(
        w["kernel"],
        w["pattern"],
        w["seq"],
        w["causal"],
        "decode" if phase == "decode" else "prefill",
        device=device,
    )
    q, k, v = make_inputs(w, device)
    if phase != "train":
        import torch

        def call():
            with torch.no_grad():
                return fn(q, k, v)

        return call
    grad = None

    def call():
        nonlocal grad
        o = fn(q, k, v)
        if grad is None:
            grad = o.detach().clone().normal_()
        o.backward(grad)
        q.grad = k.grad = v.grad = None
        return o

    return call


def time_calls(
    call,
    device: str,
    warmup: int,
    min_repeats: int,
    min_time_s: float,
    max_repeats: int,
    max_time_s: float = float("inf"),
    floor: int = 3,
):
    """Latencies (s) of repeated calls after warm-up: at least min_repeats calls and min_time_s in total,
    unless `floor` calls already took max_time_s (slow rows), and never more than max_repeats."""
    import torch

    sync = {"cuda": torch.cuda.synchronize, "mps": getattr(torch, "mps", None) and torch.mps.synchronize}.get(
        device
    )
    sync = sync or (lambda: None)
    for _ in range(warmup):
        call()
    sync()
    times = []
    total = 0.0
    while len(times) < max_repeats and (len(times) < min_repeats or total < min_time_s):
        if len(times) >= floor and total >= max_time_s:
            break
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            end.synchronize()
            t = start.elapsed_time(end) / 1e3
        else:
            t0 = time.perf_counter()
            call()
            sync()
            t = time.perf_counter() - t0
        times.append(t)
        total += t
    return times


def peak_memory(call, device: str) -> tuple[float, str]:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        call()
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated() - before), CUDA_MEMORY_METHOD
    if device == "mps":
        torch.mps.synchronize()
        before = torch.mps.driver_allocated_memory()
        out = call()
        torch.mps.synchronize()
        after = torch.mps.driver_allocated_memory()
        del out
        return float(
            max(0, after - before)
        ), "torch.mps driver-allocated bytes after minus before (MPS has no peak API)"
    from torch.profiler import ProfilerActivity, profile

    with _quiet_fd2(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    cur = peak = 0
    for e in events:
        cur += e.nbytes()
        peak = max(peak, cur)
    return float(peak), CPU_MEMORY_METHOD


@contextlib.contextmanager
def _quiet_fd2():
    """Silence file descriptor 2 (the profiler's C++ start/stop log lines) for the block."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quantiles(times):
    import numpy as np

    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return float(med), float(q3 - q1), float(min(times))


def measure(w: dict, device: str, quick: bool) -> dict:
    """One row's measured fields. The untimed memory-measuring call comes first and doubles as the
    first warm-up call (it pays the one-off allocations)."""
    call = make_call(w, device)
    mem, method = peak_memory(call, device)
    warmup = 1 if quick else 3
    if quick:
        times = time_calls(call, device, warmup, 5, 0.1, 1000, max_time_s=2.0)
    else:
        times = time_calls(call, device, warmup, 10, 1.0, 10000, max_time_s=30.0)
    med, iqr, lo = quantiles(times)
    return dict(
        warmup=warmup + 1,
        repeats=len(times),
        latency_median_s=med,
        latency_iqr_s=iqr,
        latency_min_s=lo,
        peak_memory_bytes=mem,
        memory_method=method,
        metric="latency",
        value=med,
        unit="s",
        note="",
    )


# ---------------------------------------------------------------------------------------------- file


def open_profile(path: str) -> set:
    """Prepare `path` for appending; return the keys of the rows already in it (resume)."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"--out {path}: directory {parent} does not exist")
    if os.path.isdir(path):
        raise UserError(f"--out {path} is a directory (expected a CSV file path)")
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        _append(path, header_line())
        return set()
    with open(path, "rb") as f:
        data = f.read()
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        print(f"warning: {path}: dropping a partial last line (an interrupted write)", file=sys.stderr)
        with open(path, "r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
        if keep == 0:
            _append(path, header_line())
            return set()
    return {row_key(r) for r in read_rows(path)}


def _append(path: str, line: str) -> None:
    """Append one complete line durably: write, flush, fsync."""
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.t0, self.stream = total, 0, time.perf_counter(), stream

    def update(self, label: str) -> None:
        self.done += 1
        frac = self.done / max(self.total, 1)
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        self.stream.write(
            f"\r[{bar}] {self.done}/{self.total} {elapsed:5.0f}s eta {eta:5.0f}s {label[:48]:<48}"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def run(
    workloads: list[dict],
    out: str,
    device: str,
    hw: str,
    quick: bool,
    threads: int,
    memory_limit_bytes: float | None = None,
) -> int:
    """Measure every workload not yet in `out`; returns the number of rows written."""
    import torch

    done = open_profile(out)
    env = environment(device, threads)
    base = dict(source="measured", device=hw, **env)
    todo = []
    for w in workloads:
        row = dict(base, **w, variant=variant_of(w["heads"], w["kv_heads"]))
        if row_key(row) not in done:
            todo.append(row)
    if not todo:
        print(f"{out}: all {len(workloads)} workloads already measured", file=sys.stderr)
        return 0
    fields = (
        "heads",
        "kv_heads",
        "head_dim",
        "batch",
        "seq",
        "pattern",
        "kernel",
        "phase",
        "dtype",
        "causal",
    )
    model = model_columns([{k: r[k] for k in fields} for r in todo], hw)
    bar = Progress(len(todo))
    written = skipped = 0
    for row, cost in zip(todo, model):
        label = f"{row['variant']} {row['pattern']} {row['kernel']} {row['phase']} n={row['seq']}"
        need = (
            3.0 * max(row["batch"] * row["heads"] * row["seq"] * row["seq"] * 4.0, 1.0)
            if row["kernel"] == "naive" and row["phase"] != "decode"
            else 0.0
        )
        if memory_limit_bytes is not None and need > memory_limit_bytes:
            skipped += 1
            bar.update("skip (memory) " + label)
            continue
        row.update(cost)
        row.update(measure(row, device, quick))
        _append(out, format_row(row))
        written += 1
        bar.update(label)
        if device == "cuda":
            torch.cuda.empty_cache()
    bar.close()
    if skipped:
        print(
            f"skipped {skipped} materialised rows whose score matrices exceed the memory limit",
            file=sys.stderr,
        )
    return written


def memory_limit(device: str) -> float:
    import torch

    if device == "cuda":
        return 0.5 * torch.cuda.mem_get_info()[1]
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8e9


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="perfmodel profile",
        description="Measure the reference attention kernels over a grid; append one CSV row per workload (resumable).",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")
    p.add_argument("--quick", action="store_true", help="a small grid (minutes on a 2-core CPU)")
    p.add_argument("--out", help="CSV to append to (resumes if it exists); default profile-<device>.csv")
    p.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    p.add_argument("--hw", help="perfmodel hardware id for the cost-model columns (default: host on cpu)")
    p.add_argument("--seqs", help="comma-separated sequence lengths (overrides the grid's)")
    p.add_argument("--batches", help="comma-separated batch sizes (overrides the grid's)")
    p.add_argument("--dtypes", help="comma-separated dtypes: fp32,fp16,bf16 (overrides the grid's)")
    return p.parse_args(argv)


def _ints(text, flag):
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag} '{text}': expected comma-separated integers") from None
    if not vals or min(vals) < 1:
        raise UserError(f"{flag} '{text}': expected positive integers")
    return vals


def main(argv=None) -> int:
    """Entry point of `perfmodel profile`; returns the exit code (2 for the user's errors)."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return _main(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: rows measured so far are kept in {args.out}; rerun to resume", file=sys.stderr)
        return 130


def _main(args) -> int:
    import torch

    check_device(args.device)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = args.threads or cores
    if threads < 1:
        raise UserError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    hw = hardware_id(args.device, args.hw)
    if args.out is None:
        args.out = f"profile-{hw}.csv"
    dtypes = args.dtypes.split(",") if args.dtypes else None
    for d in dtypes or []:
        if d not in ("fp32", "fp16", "bf16"):
            raise UserError(f"--dtypes: unknown dtype '{d}' (expected fp32, fp16, bf16)")
    workloads = grid(
        args.quick,
        args.device,
        _ints(args.seqs, "--seqs") if args.seqs else None,
        _ints(args.batches, "--batches") if args.batches else None,
        dtypes,
    )
    t0 = time.perf_counter()
    n = run(workloads, args.out, args.device, hw, args.quick, threads, memory_limit(args.device))
    print(f"{n} rows written to {args.out} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
