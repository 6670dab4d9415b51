"""The `host` device: the CPU this runs on, detected at run time.

Peaks are derived (cores x clock x FLOP per cycle from the SIMD flags); the memory bandwidth is
measured with a short numpy copy when the host is first loaded. Every number's source says which.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import numpy as np

from perfmodel.hardware import Hardware


def _cpuinfo() -> dict:
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def _cache_bytes() -> dict:
    """Level -> bytes of the first core's data/unified caches (from /sys)."""
    caches = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        try:
            if (idx / "type").read_text().strip() == "Instruction":
                continue
            level = int((idx / "level").read_text())
            size = (idx / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        mult = {"K": 1024, "M": 1024**2}.get(size[-1], 1)
        caches[level] = float(size.rstrip("KM")) * mult
    return caches


def _clock_hz(info: dict) -> tuple[float, str]:
    try:
        khz = float(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
        return khz * 1e3, "measured: cpufreq cpuinfo_max_freq"
    except (OSError, ValueError):
        pass
    if "cpu MHz" in info:
        return float(info["cpu MHz"]) * 1e6, "measured: /proc/cpuinfo cpu MHz"
    return 2.0e9, "assumed: 2 GHz (clock not readable)"


def simd_flops_per_cycle(flags: set[str]) -> tuple[int, str]:
    """FP32 FLOP per cycle per core from the SIMD flags (2 FMA pipes assumed, as on current cores)."""
    if "avx512f" in flags:
        return 64, "AVX-512: 2 x 16-lane FMA"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2: 2 x 8-lane FMA"
    if "avx" in flags:
        return 16, "AVX: 8-lane add + mul"
    if "asimd" in flags or "neon" in flags:
        return 16, "NEON: 2 x 4-lane FMA"
    return 8, "SSE: 4-lane add + mul"


def measure_copy_bandwidth(mib: int = 64, repeats: int = 3) -> float:
    """Best-of-n numpy copy bandwidth in byte/s (read + write counted), single thread."""
    src = np.ones(mib * 1024 * 1024 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best


@functools.lru_cache(maxsize=1)
def detect_host() -> Hardware:
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    name = info.get("model name") or info.get("Model") or "unknown CPU"
    clock, clock_src = _clock_hz(info)
    fpc, simd = simd_flops_per_cycle(flags)
    fp32 = cores * clock * fpc
    int8_mult = 4 if flags & {"avx512_vnni", "avx_vnni", "asimddp"} else 2
    fp16_native = bool(flags & {"avx512_fp16", "asimdhp", "fphp"})
    caches = _cache_bytes()
    l2 = caches.get(2, 256 * 1024.0)
    bw = measure_copy_bandwidth()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        mem = 8e9
    derived = f"derived: {cores} cores x {clock / 1e9:.2f} GHz x {fpc} FLOP/cycle ({simd})"
    sources = {
        "peak_tflops.fp32": derived,
        "peak_tflops.fp16": derived + (", native fp16 doubles it" if fp16_native else ", no native fp16 FMA: as fp32"),
        "peak_tflops.bf16": derived + ", no native bf16 FMA assumed: as fp32",
        "peak_tflops.int8": derived + f", int8 dot products {int8_mult}x fp32",
        "vector_tflops": derived,
        "mem_bw_gbps": "measured: numpy copy of 64 MiB, best of 3, one thread, at load time",
        "mem_capacity_gb": "measured: sysconf physical pages",
        "sram_per_core_kib": "measured: /sys cpu0 L2 cache size",
        "l2_mib": "measured: /sys cpu0 last-level cache size",
        "cores": "measured: sched_getaffinity",
        "clock_ghz": clock_src,
        "launch_overhead_us": "assumed: ~3 us framework dispatch per op",
        "power_w": "assumed: 10 W per core (no power sensor read)",
        "efficiency.matmul": "assumed: CPU BLAS reaches about half of peak",
        "efficiency.vector": "assumed",
        "efficiency.memory": "assumed: the measured copy bandwidth is already attainable",
    }
    return Hardware(
        id="host", name=name, kind="cpu",
        description=f"this machine's CPU: {name}, {cores} cores, {simd}, L2 {l2 / 1024:.0f} KiB/core",
        peak_flops={"fp32": fp32, "fp16": fp32 * (2 if fp16_native else 1), "bf16": fp32, "int8": fp32 * int8_mult},
        vector_flops=fp32, mem_bw=bw, mem_capacity=float(mem), sram_per_core=l2,
        l2=max(caches.values()) if caches else None, cores=cores, clock_hz=clock, launch_overhead_s=3e-6,
        power_w=10.0 * cores, eff_matmul=0.5, eff_vector=0.3, eff_memory=1.0, sources=sources,
    )
