"""Layer and model scope: the ops around attention, and the parameter count of a model (pure numpy).

Scope `attention` is cost.py's norm + QKV/O projections + attention per layer. Scope `layer` adds the
rest of a pre-norm transformer layer: the second norm, the MLP (SwiGLU: gate+up, SiLU·mul, down;
GELU: up, GELU, down) and the two residual adds. Scope `model` adds, once per model, the token
embedding, the final norm and the LM head. Every op here has cost.py's signature: a table `t`
(per-workload arrays, shape (W, 1)) and the tokens of each layer `n` (shape (W, K)), returning
FLOPs, bytes, tiles and kernels broadcast to (W, K), plus the memory it holds:
`weights` (parameter bytes), `acts` (activations alive while it runs), `saved` (kept for backward).
Ops with `once` ("first" or "last") count once per model (the first / last layer's tokens), not per layer.
Conventions:
- Matmul FLOPs 2·rows·in·out; training = forward + dX and dW GEMMs = 3x forward (Kaplan et al. 2020,
  sec. 2.1: C ≈ 6·N·tokens), so decode FLOPs ≈ 2 x parameters per token.
- GEMMs and GEMVs are assumed to fill the machine (split-K), as cost.proj_ops assumes.
- Prefill computes logits for the last position only (what generation needs: vLLM, llama.cpp);
  training computes them for every position (fp32 logits for the loss).
- Residual adds are fused into the next norm (no launch of their own): one extra read and write each.
- Weights: int8/int4 store an fp16 scale per 128 weights (workload.weight_elt_bytes); every matrix is
  quantised (embedding and LM head included, as llama.cpp Q4 and MLC q4f16 do); norms, biases and
  learned position tables stay in the activation dtype.
"""

from __future__ import annotations

import math

import numpy as np

from perfmodel import cost as C
from perfmodel.errors import UserError
from perfmodel.workload import DTYPE_BYTES, QUANT_GROUP, QUANT_SCALE_BYTES, SCOPES, WEIGHT_DTYPES

ATTENTION, LAYER, MODEL = (SCOPES.index(s) for s in ("attention", "layer", "model"))
SWIGLU, GELU = 0, 1
MLP_CODES = {"swiglu": SWIGLU, "gelu": GELU}
ACT_FLOPS = {SWIGLU: 6.0, GELU: 8.0}  # per intermediate element: SiLU (exp, add, div) x up; GELU tanh form
ALL_TILES = np.inf  # fills the machine
COLUMNS = ("ffn", "vocab", "mlp", "tied_embeddings")
ADAM_STATE_BYTES = 12.0  # fp32 master weight + Adam m and v, per parameter
ADAM_TRAFFIC_BYTES = 28.0  # read fp16 grad 2, read+write master 8, m 8, v 8, write fp16 weight 2
ADAM_FLOPS = 12.0  # per parameter: two moment updates, bias corrections, sqrt, divide, weight update


# ---------------------------------------------------------------- encoding (called by predict.to_table)
def encode(t: dict, cols: dict) -> None:
    """Add the model-scope columns to table `t`: ffn, vocab, mlp code, tied flag, scope code."""
    n = t["n"]
    t["scope_code"] = np.asarray([SCOPES.index(u) for u in t["scope_uniques"]])[t["scope_codes"]]
    whole = t["scope_code"] == MODEL
    ffn = _num(cols["ffn"], n)
    t["ffn"] = np.where(np.isnan(ffn), 4.0 * t["hidden"], ffn)  # default: the classic 4 x hidden
    vocab = _num(cols["vocab"], n)
    missing = whole & np.isnan(vocab)
    if missing.any():
        raise UserError(f"row {int(np.argmax(missing))}: scope 'model' needs the vocabulary size (vocab)")
    t["vocab"] = np.where(np.isnan(vocab), 1.0, vocab)
    for name in ("ffn", "vocab"):
        bad = ~(t[name] >= 1) | (t[name] != np.floor(t[name]))
        if bad.any():
            raise UserError(f"row {int(np.argmax(bad))}: {name} must be a positive integer")
    from perfmodel.predict import _factorize

    codes, uniques = _factorize(cols["mlp"])
    for u in uniques:
        if u not in MLP_CODES:
            raise UserError(f"unknown mlp '{u}' (expected one of: {', '.join(MLP_CODES)})")
    t["mlp"] = np.asarray([MLP_CODES[u] for u in uniques])[codes]
    tied = cols["tied_embeddings"]
    t["tied"] = np.asarray([bool(v) for v in tied]) if tied.dtype == object else np.asarray(tied, dtype=bool)


def _num(col, n):
    return np.asarray([np.nan if v is None else float(v) for v in col], dtype=float) if col.dtype == object \
        else np.asarray(col, dtype=float)


# ---------------------------------------------------------------- the ops
def _mask(op: dict, keep) -> dict:
    keep = keep.astype(float)
    for key in ("flops_mm", "flops_vec", "bytes", "kernels", "weights", "acts", "saved", "state"):
        if key in op:
            op[key] = op[key] * keep
    return op


def _train(t):
    train = t["phase"] == C.TRAIN
    return train, np.where(train, 3.0, 1.0)


def _norm_params(t):
    return np.where(t["norm"] == C.LAYERNORM, 2.0, 1.0) * t["hidden"]


def mlp_ops(t, n) -> dict:
    """Second norm, MLP (up [+ gate] GEMM with the activation fused, down GEMM) and the residual adds."""
    rows = t["batch"] * C.tokens_in_step(t, n)
    D, F, e, we = t["hidden"], t["ffn"], t["elt"], t["w_elt"]
    up_out = np.where(t["mlp"] == SWIGLU, 2.0, 1.0) * F
    train, mult = _train(t)
    kernels = np.where(train, 3.0, 1.0)
    norm = C.norm_op(t, n)
    norm.update(weights=e * _norm_params(t), acts=2.0 * e * rows * D, saved=train * e * rows * D)
    up_mm = 2.0 * rows * D * up_out
    act = np.where(t["mlp"] == SWIGLU, ACT_FLOPS[SWIGLU], ACT_FLOPS[GELU]) * rows * F
    up = C._op(up_mm * mult, act * mult, (we * D * up_out + e * rows * (D + F)) * mult, ALL_TILES, kernels,
               weights=we * D * up_out, acts=e * rows * (D + up_out + F), saved=train * e * rows * (up_out + F))
    down = C._op(2.0 * rows * F * D * mult, 0.0 * rows, (we * F * D + e * rows * (F + D)) * mult, ALL_TILES,
                 kernels, weights=we * F * D, acts=e * rows * (F + D), saved=0.0 * rows)
    res = C._op(0.0 * rows, 2.0 * rows * D * mult, 4.0 * e * rows * D * mult, ALL_TILES, 0.0 * rows,
                weights=0.0 * rows, acts=3.0 * e * rows * D, saved=0.0 * rows)
    keep = t["scope_code"] >= LAYER
    return {name: _mask(op, keep) for name, op in
            (("mlp_norm", norm), ("mlp_up", up), ("mlp_down", down), ("residual", res))}


def model_ops(t, n) -> dict:
    """Embedding lookup (first layer's tokens), final norm and LM head (last layer's tokens)."""
    B, D, V, e, we = t["batch"], t["hidden"], t["vocab"], t["elt"], t["w_elt"]
    rows = B * C.tokens_in_step(t, n)
    train, mult = _train(t)
    kernels = np.where(train, 2.0, 1.0)
    embed = C._op(0.0 * rows, 0.0 * rows, (we + e) * rows * D * mult, ALL_TILES, kernels, once="first",
                  weights=we * V * D, acts=e * rows * D, saved=0.0 * rows)
    norm = C.norm_op(t, n)
    norm.update(once="last", weights=e * _norm_params(t), acts=2.0 * e * rows * D, saved=train * e * rows * D)
    logit_rows = np.where(train, rows, B)  # inference: the last position's logits only
    head = C._op(2.0 * logit_rows * D * V * mult, 5.0 * logit_rows * V * train,  # + softmax cross-entropy
                 (we * D * V + e * logit_rows * D + 4.0 * logit_rows * V) * mult, ALL_TILES,
                 np.where(train, 3.0, 1.0), once="last", weights=np.where(t["tied"], 0.0, we * D * V),
                 acts=4.0 * logit_rows * V + e * logit_rows * D, saved=train * 4.0 * logit_rows * V)
    keep = t["scope_code"] == MODEL
    return {name: _mask(op, keep) for name, op in (("embedding", embed), ("final_norm", norm), ("lm_head", head))}


def optimizer_ops(t, n) -> dict:
    """Training only: the mixed-precision Adam step over the layer's parameters (per layer) and the
    embedding / LM head / final norm (once). It holds ADAM_STATE_BYTES per parameter (fp32 master copy,
    m, v: Rajbhandari et al. 2020, ZeRO sec. 3.1, 16 bytes per parameter with the fp16 weight and
    gradient) and moves ADAM_TRAFFIC_BYTES per parameter (one fused multi-tensor kernel per model)."""
    train = (t["phase"] == C.TRAIN).astype(float)
    D, F, H, Hkv, d = t["hidden"], t["ffn"], t["heads"], t["kv_heads"], t["head_dim"]
    up = np.where(t["mlp"] == SWIGLU, 2.0, 1.0) * F
    layer = D * (H + 2.0 * Hkv) * d + H * d * D + D * up + F * D + 2.0 * _norm_params(t)
    head = t["vocab"] * D * np.where(t["tied"], 1.0, 2.0) + _norm_params(t)
    ops = {}
    for name, params, keep, once in (("optimizer", layer, t["scope_code"] >= LAYER, None),
                                     ("optimizer_head", head, t["scope_code"] == MODEL, "last")):
        p = train * params + 0.0 * n
        op = C._op(0.0 * p, ADAM_FLOPS * p, ADAM_TRAFFIC_BYTES * p, ALL_TILES, 0.0 * p + train * (once is not None),
                   weights=0.0 * p, acts=0.0 * p, saved=0.0 * p, state=ADAM_STATE_BYTES * p)
        if once:
            op["once"] = once
        ops[name] = _mask(op, keep)
    return ops


def scope_ops(t, n, hw=None) -> dict:
    """All layer- and model-scope ops (zero for rows of a narrower scope); evaluate's extra_ops hook."""
    ops = {**mlp_ops(t, n), **model_ops(t, n)}
    if (t["phase"] == C.TRAIN).any():
        ops.update(optimizer_ops(t, n))
    return ops


# ---------------------------------------------------------------- closed forms on a ModelShape
def matrices(shape) -> list[tuple[str, int, int, int]]:
    """(name, input dim, output dim, how many) of every weight matrix of the model."""
    D, H, Hkv, d, F = shape.hidden, shape.heads, shape.kv_heads, shape.head_dim, shape.ffn
    L = shape.layers
    mats = [("q_proj", D, H * d, L), ("k_proj", D, Hkv * d, L), ("v_proj", D, Hkv * d, L), ("o_proj", H * d, D, L),
            ("mlp_up", D, F, L * (2 if shape.mlp == "swiglu" else 1)), ("mlp_down", F, D, L),
            ("embedding", D, shape.vocab, 1)]
    if not shape.tied_embeddings:
        mats.append(("lm_head", D, shape.vocab, 1))
    return mats


def vectors(shape) -> dict[str, int]:
    """Parameters outside the matrices: norms, biases, a learned position table."""
    D, F, L = shape.hidden, shape.ffn, shape.layers
    norm = (2 if shape.norm == "layernorm" else 1) * D
    norms = L * (1 if shape.parallel_attn_mlp else 2) * norm + norm  # + the final norm
    bias = 0
    if shape.bias in ("qkv", "all"):
        bias += L * (shape.heads + 2 * shape.kv_heads) * shape.head_dim
    if shape.bias == "all":
        bias += L * (D + (2 if shape.mlp == "swiglu" else 1) * F + D)
    positions = shape.context * D if shape.positions == "learned" else 0
    return {"norms": norms, "biases": bias, "positions": positions}


def param_count(shape) -> int:
    """Parameters of the whole model (tied embeddings counted once)."""
    return sum(i * o * k for _, i, o, k in matrices(shape)) + sum(vectors(shape).values())


def decode_flops_per_token(shape, context: int = 0) -> float:
    """Forward FLOPs for one token: 2 x matrix parameters (+ attention 4·H·d·context per layer)."""
    mm = sum(i * o * k for name, i, o, k in matrices(shape) if name != "embedding")
    if shape.tied_embeddings:
        mm += shape.hidden * shape.vocab  # the tied matrix is used again as the LM head
    return 2.0 * mm + 4.0 * shape.layers * shape.heads * shape.head_dim * context


def weight_bytes(shape, weights: str = "fp16", dtype: str = "fp16") -> float:
    """Bytes of the stored weights: matrices at `weights` (int8/int4 + one fp16 scale per 128 weights
    along the input dimension, out x ceil(in/128) scales), everything else at `dtype`."""
    if weights not in WEIGHT_DTYPES:
        raise UserError(f"unknown weights dtype '{weights}' (expected one of: {', '.join(WEIGHT_DTYPES)})")
    quant = weights in ("int8", "int4")
    total = 0.0
    for _, i, o, k in matrices(shape):
        scales = o * math.ceil(i / QUANT_GROUP) * QUANT_SCALE_BYTES if quant else 0.0
        total += k * (i * o * DTYPE_BYTES[weights] + scales)
    return total + sum(vectors(shape).values()) * DTYPE_BYTES[dtype]


def link_seconds(nbytes, kbps):
    """Seconds to send `nbytes` over a link of `kbps` kilobit/s (1 kbit = 1000 bit; no protocol overhead)."""
    return np.asarray(nbytes, dtype=float) * 8.0 / (np.asarray(kbps, dtype=float) * 1e3)


# ---------------------------------------------------------------- whole-model answers
GEN_SAMPLES = 17  # decode contexts sampled along a long generation (decode cost is piecewise linear in it)


def lower_bound_s(res: dict, t: dict, hw) -> np.ndarray:
    """Physical lower bound of each row's time: every useful FLOP at the dtype's peak and the bytes that
    must move at full bandwidth (weights read once per step, the KV cache once; training also writes the
    gradients), overlapped perfectly, with no launch overhead and every core busy."""
    peak = np.asarray([hw.peak(u) for u in t["dtype_uniques"]], dtype=float)[t["dtype_codes"]]
    flops = res["flops"] - res["exec_flops_attn_matmul"] + res["flops_attn_matmul"]
    train = t["phase"] == C.TRAIN
    nbytes = res["weight_bytes"] * np.where(train, 2.0, 1.0) + res["kv_cache_bytes"]
    return np.maximum(flops / peak, nbytes / hw.mem_bw)


def _companions(cols: dict, generate) -> tuple[dict, list]:
    """Rows to evaluate beside each workload: its prefill (TTFT), its decode at seq, and the decode steps
    of a generation of T tokens (contexts seq .. seq + T - 2, sampled), with their weights in the sum."""
    n = len(cols["phase"])
    gens = np.broadcast_to(np.asarray([0] if generate is None else generate, dtype=object), (n,))
    rows, plan = [], []
    for i in range(n):
        base = {k: v[i] for k, v in cols.items()}
        if base["phase"] == "train":  # no inference answers for a training row
            plan.append({})
            continue
        kern = base.get("kernel", "flash")
        entry = {"prefill": len(rows)}
        rows.append({**base, "phase": "prefill", "kernel": "flash" if kern == "flash-decoding" else kern})
        dec_kernel = kern if base["phase"] == "decode" else ("naive" if kern == "naive" else "flash-decoding")
        entry["decode"] = len(rows)
        rows.append({**base, "phase": "decode", "kernel": dec_kernel})
        T, P = int(gens[i] or 0), int(base["seq"])
        if T > 1:
            ctx = np.arange(P, P + T - 1) if T - 1 <= GEN_SAMPLES else np.linspace(P, P + T - 2, GEN_SAMPLES).round()
            entry["gen"] = (len(rows), ctx, T - 1)
            rows += [{**base, "phase": "decode", "kernel": dec_kernel, "seq": int(c)} for c in ctx]
        plan.append(entry)
    if not rows:
        return None, plan
    out = {}
    for key in rows[0]:
        arr = np.empty(len(rows), dtype=object)
        arr[:] = [r[key] for r in rows]
        out[key] = arr
    return out, plan


def model_metrics(cols: dict, hw, generate=None) -> tuple[dict, dict]:
    """(evaluate's result, whole-model answers) per workload row (scope layer or model), as arrays:
    ttft_s (prefill of seq tokens), decode_s (one token per sequence at a cache of seq), tokens_per_s
    (of the row's own phase), generate_s (T tokens after a prompt of seq: TTFT + T - 1 decode steps),
    train_step_s, energy_per_token_j, and the physical lower bound of each time (`*_bound_s`).
    `cols`: workload columns (name -> array); `generate`: T per row (or one T, or None)."""
    from perfmodel.predict import evaluate, to_table

    main = to_table(cols)
    res = evaluate(main, hw)
    res.setdefault("optimizer_state_bytes", np.zeros(main["n"]))
    aux_cols, plan = _companions(cols, generate)
    if aux_cols is not None:
        aux_t = to_table(aux_cols)
        aux = evaluate(aux_t, hw)
        aux_lb = lower_bound_s(aux, aux_t, hw)
    n = main["n"]
    out = {k: np.full(n, np.nan) for k in ("ttft_s", "decode_s", "generate_s", "train_step_s", "ttft_bound_s",
                                           "decode_bound_s", "generate_bound_s", "train_step_bound_s",
                                           "generate_peak_memory_bytes")}
    out["generate_fits"] = np.full(n, False)
    phase = main["phase"]
    tokens = main["batch"] * np.where(phase == C.DECODE, 1.0, main["seq"])
    for i, entry in enumerate(plan):
        if not entry:
            continue
        p, d = entry["prefill"], entry["decode"]
        out["ttft_s"][i], out["ttft_bound_s"][i] = aux["latency_s"][p], aux_lb[p]
        out["decode_s"][i], out["decode_bound_s"][i] = aux["latency_s"][d], aux_lb[d]
        if "gen" in entry:
            start, ctx, steps = entry["gen"]
            sl = slice(start, start + len(ctx))
            out["generate_s"][i] = out["ttft_s"][i] + _steps_sum(aux["latency_s"][sl], ctx, steps)
            out["generate_bound_s"][i] = out["ttft_bound_s"][i] + _steps_sum(aux_lb[sl], ctx, steps)
            out["generate_peak_memory_bytes"][i] = aux["peak_memory_bytes"][sl][-1]
            out["generate_fits"][i] = aux["fits_in_memory"][sl][-1]
    train = phase == C.TRAIN
    lb = lower_bound_s(res, main, hw)
    out["train_step_s"] = np.where(train, res["latency_s"], np.nan)
    out["train_step_bound_s"] = np.where(train, lb, np.nan)
    out["latency_bound_s"] = lb
    out["tokens_per_s"] = tokens / res["latency_s"]
    out["energy_per_token_j"] = res["energy_j"] / tokens
    return res, out


def _steps_sum(lat, ctx, steps):
    """Sum of `steps` decode latencies from samples `lat` at contexts `ctx` (exact when every step is sampled)."""
    if len(ctx) == steps:
        return float(np.sum(lat))
    span = ctx[-1] - ctx[0]
    area = float(np.sum(0.5 * (lat[1:] + lat[:-1]) * np.diff(ctx)))  # trapezoid rule
    return area / span * steps if span > 0 else float(lat[0] * steps)
