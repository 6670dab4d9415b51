"""The CLI's subcommands: build workloads from flags, evaluate, print (no pandas on this path)."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np

from perfmodel import cli
from perfmodel.errors import UserError
from perfmodel.hardware import hardware_ids, load_hardware, resolve
from perfmodel.models import ModelShape, list_models, load_config, load_model
from perfmodel.patterns import parse_pattern
from perfmodel.predict import evaluate, result_columns, to_table
from perfmodel.report import format_table, human_bytes

RECORD_FIELDS = ("hw", "model", "variant", "pattern", "kernel", "phase", "scope", "batch", "seq", "heads", "kv_heads",
                 "head_dim", "layers", "dtype", "causal", "flops", "bytes", "latency_s", "bound",
                 "intensity_flop_per_byte", "attainable_flop_per_s", "achieved_flop_per_s", "kv_cache_bytes",
                 "weight_bytes", "activation_bytes", "peak_memory_bytes", "fits_in_memory", "energy_j", "calibrated",
                 "flops_attn_matmul", "exec_flops_attn_matmul", "latency_attn_s", "latency_qkv_proj_s",
                 "latency_o_proj_s", "latency_norm_s", "bound_attn", "parallel_fraction_attn", "splits",
                 "speedup_vs_mha_dense_naive")


def _split(text: str, sep: str = ",") -> list[str]:
    return [x.strip() for x in text.split(sep) if x.strip()]


def _model(args) -> ModelShape:
    if args.config:
        shape = load_config(args.config)
    else:
        shape = load_model(args.model or cli.DEFAULT_MODEL)
    return shape


def _default_gqa(heads: int, kv_heads: int) -> int:
    if 1 < kv_heads < heads:
        return kv_heads
    for g in range(max(heads // 4, 1), 0, -1):  # a quarter of the heads, or the nearest divisor below
        if heads % g == 0 and 1 < g < heads:
            return g
    return heads


def _variants(spec: str, heads: int, kv_heads: int) -> list[int]:
    """KV-head counts for --variant."""
    out = []
    for v in _split(spec.lower()):
        if v == "all":
            out += [heads, _default_gqa(heads, kv_heads), 1]
        elif v == "model":
            out.append(kv_heads)
        elif v == "mha":
            out.append(heads)
        elif v == "mqa":
            out.append(1)
        elif v.startswith("gqa"):
            _, _, g = v.partition(":")
            if not g:
                out.append(_default_gqa(heads, kv_heads))
                continue
            try:
                groups = int(g)
            except ValueError:
                raise UserError(f"--variant '{v}': G must be an integer number of KV heads") from None
            if groups < 1 or heads % groups:
                raise UserError(f"--variant '{v}': {heads} heads are not divisible into {groups} KV heads")
            out.append(groups)
        else:
            raise UserError(f"unknown variant '{v}' (expected mha, mqa, gqa:G, model or all)")
    return list(dict.fromkeys(out))


def default_patterns(seq: int) -> list[str]:
    w = max(seq // 8, 1)
    return ["dense", f"local:{w}", "strided:8", f"hybrid:{max(seq // 16, 1)},64", "block:64,0.25"]


def _patterns(specs, seq: int) -> list[str]:
    out = []
    for spec in specs or ["all"]:
        for s in _split(spec, ";"):
            if s.lower() == "all":
                out += default_patterns(seq)
            else:
                parse_pattern(s)
                out.append(s)
    return list(dict.fromkeys(out))


def _choices(spec: str, allowed: tuple, name: str) -> list[str]:
    out = []
    for v in _split(spec.lower()):
        if v == "all":
            out += list(allowed)
        elif v in allowed:
            out.append(v)
        else:
            raise UserError(f"unknown {name} '{v}' (expected one of: {', '.join(allowed)}, all)")
    return list(dict.fromkeys(out))


def build_workloads(args) -> tuple[dict, str]:
    """Workload columns for the flags, and a one-line description of the defaults used."""
    shape = _model(args)
    heads = args.heads or shape.heads
    head_dim = args.head_dim or shape.head_dim
    kv_model = args.kv_heads or (shape.kv_heads if heads == shape.heads else heads)
    if heads % kv_model:
        raise UserError(f"heads ({heads}) must be divisible by kv_heads ({kv_model})")
    hidden = args.hidden or (shape.hidden if (args.heads is None and args.head_dim is None) else heads * head_dim)
    layers = args.layers or shape.layers
    seq = args.seq or cli.DEFAULT_SEQ
    if args.scope != "attention":
        raise UserError(f"--scope '{args.scope}' is not available yet (only: attention)")
    if args.kv_heads and args.variant == "all":
        args.variant = "model"
    kvs = _variants(args.variant, heads, kv_model)
    pats = _patterns(args.pattern, seq)
    kernels = _choices(args.kernel, ("naive", "flash", "flash-decoding"), "kernel")
    phases = _choices(args.phase, ("prefill", "decode", "train"), "phase")
    if args.dtype not in ("fp32", "fp16", "bf16", "fp8", "int8"):
        raise UserError(f"unknown dtype '{args.dtype}' (expected fp32, fp16, bf16, fp8 or int8)")
    rows = []
    for phase in phases:
        ks = [k for k in kernels if k != "flash-decoding" or phase == "decode"]
        if not ks:
            raise UserError(f"kernel flash-decoding is a decode kernel; phase '{phase}' needs naive or flash")
        for kv in kvs:
            for pat in pats:
                for k in ks:
                    rows.append(dict(heads=heads, kv_heads=kv, head_dim=head_dim, hidden=hidden, layers=layers,
                                     batch=args.batch, seq=seq, pattern=pat, kernel=k, phase=phase, dtype=args.dtype,
                                     causal=args.causal, prune=tuple(args.prune), norm=args.norm or shape.norm,
                                     scope=args.scope, model=shape.id))
    cols = {}
    for key in rows[0]:
        arr = np.empty(len(rows), dtype=object)
        arr[:] = [r[key] for r in rows]
        cols[key] = arr
    note = (f"model {shape.id} ({shape.source.split('(')[0].strip()}): {layers} layers, {heads} heads, "
            f"head_dim {head_dim}, hidden {hidden}; batch {args.batch}, seq {seq}, {args.dtype}, "
            f"{'causal' if args.causal else 'non-causal'}, scope attention (all layers' norm + QKV/O + attention)")
    return cols, note


def _speedups(out: dict) -> np.ndarray:
    """Latency of MHA-dense-naive (same device, phase) over each row's latency."""
    base = {}
    for i in range(len(out["latency_s"])):
        if out["variant"][i] == "mha" and out["pattern"][i] == "dense" and out["kernel"][i] == "naive":
            base[(out["hw"][i], out["phase"][i])] = out["latency_s"][i]
    return np.asarray([base.get((h, p), np.nan) / lat for h, p, lat in zip(out["hw"], out["phase"], out["latency_s"])])


def run_predict(args) -> int:
    cols, note = build_workloads(args)
    t = to_table(cols)
    outs = []
    for name in _split(args.hw):
        resolve(name)
    for name in _split(args.hw):
        hw = load_hardware(name, calibrated=not args.uncalibrated, power_mode=args.power_mode)
        out = result_columns(t, evaluate(t, hw), hw)
        out["speedup_vs_mha_dense_naive"] = _speedups(out)
        outs.append((hw, name, out))
    if args.format == "table":
        print(note)
        for hw, name, out in outs:
            print(format_table(hw, name, out))
        return 0
    records = []
    for _, _, out in outs:
        for i in range(len(out["latency_s"])):
            records.append({f: _plain(out[f][i]) for f in RECORD_FIELDS})
    if args.format == "json":
        json.dump(records, sys.stdout, indent=1)
        print()
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=RECORD_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return 0


def _plain(v):
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    return v


def run_hw(args) -> int:
    if args.hw_command == "show":
        hw = load_hardware(args.name)
        print(f"{hw.id}: {hw.name} ({hw.kind})")
        print(f"  {hw.description}")
        if hw.aliases:
            print(f"  aliases: {', '.join(hw.aliases)}")
        rows = [(f"peak {d}", f"{v / 1e12:.4g} TFLOP/s", hw.sources.get(f"peak_tflops.{d}", "")) for d, v in hw.peak_flops.items()]
        rows += [
            ("vector fp32", f"{hw.vector_flops / 1e12:.4g} TFLOP/s", hw.sources.get("vector_tflops", "")),
            ("memory bandwidth", f"{hw.mem_bw / 1e9:.4g} GB/s", hw.sources.get("mem_bw_gbps", "")),
            ("memory capacity", human_bytes(hw.mem_capacity), hw.sources.get("mem_capacity_gb", "")),
            ("on-chip per core", human_bytes(hw.sram_per_core), hw.sources.get("sram_per_core_kib", "")),
            ("L2", human_bytes(hw.l2) if hw.l2 else "unknown", hw.sources.get("l2_mib", "")),
            ("cores", str(hw.cores), hw.sources.get("cores", "")),
            ("clock", f"{hw.clock_hz / 1e9:.3g} GHz", hw.sources.get("clock_ghz", "")),
            ("launch overhead", f"{hw.launch_overhead_s * 1e6:.3g} us", hw.sources.get("launch_overhead_us", "")),
            ("power", f"{hw.power_w:.4g} W", hw.sources.get("power_w", "")),
        ]
        rows += [(f"power mode {m}", f"{w:.4g} W", hw.sources.get(f"power_modes_w.{m}", "")) for m, w in hw.power_modes.items()]
        cal = f"calibrated ({hw.calibration_source})" if hw.calibrated else "assumed (not calibrated)"
        rows += [(f"efficiency {k}", f"{getattr(hw, 'eff_' + k):.3g}", cal if hw.calibrated else hw.sources.get(f"efficiency.{k}", ""))
                 for k in ("matmul", "vector", "memory")]
        width = max(len(r[0]) for r in rows)
        vwidth = max(len(r[1]) for r in rows)
        for key, value, source in rows:
            print(f"  {key:<{width}}  {value:>{vwidth}}  {source}")
        return 0
    if args.hw_command != "list":
        raise UserError("usage: perfmodel hw list | perfmodel hw show NAME")
    print(f"{'id':<24} {'kind':<9} {'fp16 TFLOP/s':>12} {'GB/s':>8} {'memory':>9}  aliases")
    for hw_id in hardware_ids():
        if hw_id == "host":
            print(f"{'host':<24} {'cpu':<9} {'(detected)':>12} {'':>8} {'':>9}  the CPU this runs on")
            continue
        hw = load_hardware(hw_id, calibrated=False)
        fp16 = hw.peak_flops.get("fp16", float("nan")) / 1e12
        print(f"{hw.id:<24} {hw.kind:<9} {fp16:>12.4g} {hw.mem_bw / 1e9:>8.4g} {human_bytes(hw.mem_capacity):>9}  "
              f"{', '.join(hw.aliases)}")
    return 0


def run_models() -> int:
    print(f"{'id':<16} {'hidden':>6} {'layers':>6} {'heads':>5} {'kv':>3} {'hd':>4} {'ffn':>6} {'norm':<9} {'window':>6}  source")
    for m in list_models():
        win = str(m.sliding_window) if m.sliding_window else "-"
        print(f"{m.id:<16} {m.hidden:>6} {m.layers:>6} {m.heads:>5} {m.kv_heads:>3} {m.head_dim:>4} {m.ffn:>6} "
              f"{m.norm:<9} {win:>6}  {m.source}")
    return 0
