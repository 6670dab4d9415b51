"""The CLI's subcommands: build workloads from flags, evaluate, print (no pandas on this path)."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import replace

import numpy as np

from perfmodel import cli
from perfmodel import modelscope as M
from perfmodel.errors import UserError
from perfmodel.hardware import hardware_ids, load_hardware, resolve
from perfmodel.models import ModelShape, list_models, load_config, load_model
from perfmodel.modelscope import model_metrics
from perfmodel.patterns import parse_pattern
from perfmodel.predict import evaluate, result_columns, to_table
from perfmodel.report import format_model_summary, format_table, human_bytes

RECORD_FIELDS = ("hw", "model", "variant", "pattern", "kernel", "phase", "scope", "batch", "seq", "heads", "kv_heads",
                 "head_dim", "layers", "dtype", "causal", "flops", "bytes", "latency_s", "bound",
                 "intensity_flop_per_byte", "attainable_flop_per_s", "achieved_flop_per_s", "kv_cache_bytes",
                 "weight_bytes", "activation_bytes", "peak_memory_bytes", "fits_in_memory", "energy_j", "calibrated",
                 "flops_attn_matmul", "exec_flops_attn_matmul", "latency_attn_s", "latency_qkv_proj_s",
                 "latency_o_proj_s", "latency_norm_s", "bound_attn", "parallel_fraction_attn", "splits",
                 "speedup_vs_mha_dense_naive")
MODEL_FIELDS = ("weights", "kv_dtype", "tokens_per_s", "ttft_s", "decode_s", "generate_tokens", "generate_s",
                "train_step_s", "latency_bound_s", "ttft_bound_s", "decode_bound_s", "generate_bound_s",
                "generate_peak_memory_bytes", "generate_fits", "energy_per_token_j", "param_count",
                "weights_bytes_on_wire", "link_kbps", "link_transfer_s", "mem_capacity_bytes", "power_w",
                "optimizer_state_bytes",
                "latency_mlp_up_s", "latency_mlp_down_s", "latency_mlp_norm_s", "latency_residual_s",
                "latency_embedding_s", "latency_final_norm_s", "latency_lm_head_s")
MAX_SUMMARIES = 6  # more rows than this per device: the comparison table instead of one summary each


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
    scope = getattr(args, "scope", "attention")
    if scope not in ("attention", "layer", "model"):
        raise UserError(f"unknown --scope '{scope}' (expected one of: attention, layer, model)")
    whole = scope != "attention"
    layers = args.layers or (1 if scope == "layer" else shape.layers)
    seq = args.seq or cli.DEFAULT_SEQ
    if not whole and (getattr(args, "generate", None) or getattr(args, "link_kbps", None)):
        raise UserError("--generate and --link-kbps need --scope layer or model")
    variant = args.variant or ("model" if whole or args.kv_heads else "all")
    kvs = _variants(variant, heads, kv_model)
    own = [f"local:{shape.sliding_window}"] if shape.sliding_window and shape.sliding_window < seq else ["dense"]
    pats = _patterns(args.pattern or (own if whole else None), seq)
    kernels = _choices(args.kernel or ("auto" if whole else "all"), ("naive", "flash", "flash-decoding", "auto"),
                       "kernel")
    phases = _choices(args.phase, ("prefill", "decode", "train"), "phase")
    if args.dtype not in ("fp32", "fp16", "bf16", "fp8", "int8"):
        raise UserError(f"unknown dtype '{args.dtype}' (expected fp32, fp16, bf16, fp8 or int8)")
    custom = any((args.heads, args.head_dim, args.hidden, args.layers))
    model_name = (f"{shape.id}+custom" if (args.model or args.config) else "custom") if custom else shape.id
    rows = []
    for phase in phases:
        ks = [("flash-decoding" if phase == "decode" else "flash") if k == "auto" else k for k in kernels]
        ks = list(dict.fromkeys(k for k in ks if k != "flash-decoding" or phase == "decode"))
        if not ks:
            raise UserError(f"kernel flash-decoding is a decode kernel; phase '{phase}' needs naive or flash")
        for kv in kvs:
            for pat in pats:
                for k in ks:
                    rows.append(dict(heads=heads, kv_heads=kv, head_dim=head_dim, hidden=hidden, layers=layers,
                                     batch=args.batch, seq=seq, pattern=pat, kernel=k, phase=phase, dtype=args.dtype,
                                     causal=args.causal, prune=tuple(args.prune), norm=args.norm or shape.norm,
                                     scope=scope, model=model_name, ffn=shape.ffn, vocab=shape.vocab,
                                     mlp=shape.mlp, tied_embeddings=shape.tied_embeddings,
                                     weights=getattr(args, "weights", None), kv_dtype=getattr(args, "kv_dtype", None)))
    cols = {}
    for key in rows[0]:
        arr = np.empty(len(rows), dtype=object)
        arr[:] = [r[key] for r in rows]
        cols[key] = arr
    note = (f"model {shape.id} ({shape.source.split('(')[0].strip()}): {layers} layers, {heads} heads, "
            f"head_dim {head_dim}, hidden {hidden}; batch {args.batch}, seq {seq}, {args.dtype}, "
            f"{'causal' if args.causal else 'non-causal'}, {_scope_note(scope, shape, layers, args)}")
    return cols, note


def _scope_note(scope, shape, layers, args) -> str:
    if scope == "attention":
        return "scope attention (all layers' norm + QKV/O + attention)"
    mlp = f"{shape.mlp} MLP {shape.ffn}"
    body = f"{layers} layer{'s' if layers > 1 else ''} of norm + QKV/O + attention + norm + {mlp} + residuals"
    if scope == "model":
        tied = ", tied" if shape.tied_embeddings else ""
        body = f"embedding ({shape.vocab}{tied}) + {body} + final norm + LM head"
    w = getattr(args, "weights", None) or args.dtype
    quant = " (+ fp16 scale per 128)" if w in ("int8", "int4") else ""
    return f"scope {scope}: {body}; weights {w}{quant}, KV cache {getattr(args, 'kv_dtype', None) or args.dtype}"


def _model_fields(cols: dict, args, hw) -> dict:
    """Per row, from the model's shape: parameters, weight bytes on the wire and the link time."""
    base = _model(args)
    n = len(cols["heads"])
    out = {k: np.full(n, np.nan) for k in ("param_count", "weights_bytes_on_wire", "link_transfer_s")}
    for i in range(n):
        if cols["scope"][i] != "model":
            continue
        shape = replace(base, heads=int(cols["heads"][i]), kv_heads=int(cols["kv_heads"][i]),
                        head_dim=int(cols["head_dim"][i]), hidden=int(cols["hidden"][i]), layers=int(cols["layers"][i]))
        out["param_count"][i] = M.param_count(shape)
        out["weights_bytes_on_wire"][i] = M.weight_bytes(shape, cols["weights"][i] or args.dtype, args.dtype)
        if args.link_kbps:
            out["link_transfer_s"][i] = M.link_seconds(out["weights_bytes_on_wire"][i], args.link_kbps)
    out["link_kbps"] = np.full(n, args.link_kbps if args.link_kbps else np.nan)
    out["weights"] = np.asarray([w or args.dtype for w in cols["weights"]], dtype=object)
    out["kv_dtype"] = np.asarray([k or args.dtype for k in cols["kv_dtype"]], dtype=object)
    out["mem_capacity_bytes"] = np.full(n, hw.mem_capacity)
    out["power_w"] = np.full(n, hw.power_w)
    out["generate_tokens"] = np.full(n, args.generate if args.generate else np.nan)
    return out


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
    whole = args.scope != "attention"
    outs = []
    for name in _split(args.hw):
        resolve(name)
    for name in _split(args.hw):
        hw = load_hardware(name, calibrated=not args.uncalibrated, power_mode=args.power_mode)
        if whole:
            res, metrics = model_metrics(cols, hw, args.generate)
            out = {**result_columns(t, res, hw), **metrics, **_model_fields(cols, args, hw)}
        else:
            out = result_columns(t, evaluate(t, hw), hw)
        out["speedup_vs_mha_dense_naive"] = _speedups(out)
        outs.append((hw, name, out))
    if args.format == "table":
        print(note)
        for hw, name, out in outs:
            many = whole and len(out["latency_s"]) > MAX_SUMMARIES
            print(format_model_summary(hw, name, out, args) if whole and not many else format_table(hw, name, out))
        return 0
    fields = RECORD_FIELDS + (MODEL_FIELDS if whole else ())
    records = []
    for _, _, out in outs:
        for i in range(len(out["latency_s"])):
            records.append({f: _plain(out[f][i]) for f in fields})
    if args.format == "json":
        json.dump(records, sys.stdout, indent=1)
        print()
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
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
