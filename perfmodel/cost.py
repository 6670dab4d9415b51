"""The cost model: per op, FLOPs, off-chip bytes, independent tiles and memory footprint (pure numpy).

Every function takes a table `t` (dict of per-workload numpy arrays, shape (W, 1)) and the tokens of
each layer `n` (shape (W, K), see predict.py), and returns arrays broadcast to (W, K) per layer.
Conventions, with their sources:
- Attention FLOPs: forward 4·B·H·pairs·d over the pairs the pattern allows (4·B·H·N²·d dense, halved
  for causal), backward 2.5x forward; decode 4·B·H·keys·d per token (FlashAttention papers,
  Dao et al. 2022 sec. 4 / Dao 2023 sec. 4.1).
- Materialised ("naive") attention moves Θ(N·d + N²) per head: S written, read and masked, P written
  and read (FlashAttention Theorem 2's "standard attention"), and it computes the whole N x N matrix
  whatever the mask.
- Tiled ("flash") attention reads Q once, writes O once and re-reads K/V once per query tile of Br
  rows: Θ(N²·d²/M) with real tiles Bc = ceil(M / 4d), Br = min(Bc, d), M the on-chip memory per core
  in elements (FlashAttention Algorithm 1 and Theorem 2; Proposition 4 for block-sparse).
- Decode reads each KV head once for all the query heads that share it (MQA/GQA), so KV bytes shrink by
  heads / kv_heads (Shazeer 2019; Ainslie et al. 2023).
- Parallelism: a kernel keeps busy at most as many cores (SMs) as it has independent tiles. Flash
  decode has one tile per (batch, KV head); split-KV (flash-decoding) splits the cache until the cores
  are full (Dao et al. 2023, "Flash-Decoding for long-context inference").
"""

from __future__ import annotations

import numpy as np

from perfmodel import patterns as P

NAIVE, FLASH, FLASH_DECODING = 0, 1, 2
PREFILL, DECODE, TRAIN = 0, 1, 2
LAYERNORM, RMSNORM = 0, 1
NORM_FLOPS = {LAYERNORM: 8.0, RMSNORM: 4.0}  # per element: LN mean, var, centre, scale, shift; RMS square-sum, scale
SOFTMAX_FLOPS = 5.0  # per score: scale, running max, subtract, exp, sum (online softmax)
ROW_TILE = 128  # query rows (naive) or keys (decode chunks) one tile of a materialised kernel covers
SPLIT_MIN_KEYS = 128  # flash-decoding never splits the cache finer than this
FULLY_PARALLEL = np.inf  # tile count of ops assumed to fill the machine (GEMMs/GEMVs: split-K, norms)


MAX_TILE = 128  # no real kernel tiles wider: FlashAttention-2/3 use 64 or 128 keys per block, CPU kernels alike


def tile_sizes(sram_bytes, elt_bytes, d):
    """FlashAttention tiles from the on-chip memory M (elements): Bc = ceil(M/4d), Br = min(Bc, d)
    (Algorithm 1), with Bc capped at MAX_TILE: a 1 MiB CPU L2 would otherwise give 1024-key tiles that
    no kernel uses, and sparse patterns would lose their skipped blocks."""
    m = sram_bytes / elt_bytes
    bc = np.clip(np.ceil(m / (4.0 * d)), 1.0, MAX_TILE)
    return np.minimum(bc, d), bc


def _op(flops_mm, flops_vec, nbytes, tiles, kernels, **extra):
    return {"flops_mm": flops_mm, "flops_vec": flops_vec, "bytes": nbytes, "tiles": tiles,
            "kernels": kernels, **extra}


def tokens_in_step(t, n):
    """Tokens a layer processes this step: all n in prefill/train, one per sequence in decode."""
    return np.where(t["phase"] == DECODE, 1.0, n)


def norm_op(t, n):
    """Pre-attention norm over (B, Nq, D): LayerNorm or RMSNorm (one read, one write)."""
    rows = t["batch"] * tokens_in_step(t, n)
    elems = rows * t["hidden"]
    c = np.where(t["norm"] == LAYERNORM, NORM_FLOPS[LAYERNORM], NORM_FLOPS[RMSNORM])
    params = np.where(t["norm"] == LAYERNORM, 2.0, 1.0) * t["hidden"]
    fwd_bytes = t["elt"] * (2.0 * elems + params)
    train = t["phase"] == TRAIN
    mult = np.where(train, 3.0, 1.0)  # backward: about twice the forward work and traffic
    return _op(0.0 * elems, c * elems * mult, fwd_bytes * mult, FULLY_PARALLEL, np.where(train, 2.0, 1.0))


def proj_ops(t, n):
    """Q/K/V projection (fused) and O projection: GEMMs (prefill/train) or GEMVs (decode)."""
    rows = t["batch"] * tokens_in_step(t, n)
    qkv_out = (t["heads"] + 2.0 * t["kv_heads"]) * t["head_dim"]
    o_in = t["heads"] * t["head_dim"]
    train = t["phase"] == TRAIN
    mult = np.where(train, 3.0, 1.0)  # backward = dX and dW GEMMs = 2x forward
    ops = {}
    for name, k, m in (("qkv_proj", t["hidden"], qkv_out), ("o_proj", o_in, t["hidden"])):
        flops = 2.0 * rows * k * m
        nbytes = t["w_elt"] * k * m + t["elt"] * rows * (k + m)
        ops[name] = _op(flops * mult, 0.0 * flops, nbytes * mult, FULLY_PARALLEL, np.where(train, 3.0, 1.0))
    return ops


def _pattern_args(t):
    return dict(window=t["window"], stride=t["stride"], n_global=t["n_global"], density=t["density"])


def attention_op(t, n, sram_bytes, cores, l2_bytes=0.0):
    """Core attention softmax(QKᵀ·scale)·V for every phase and kernel, per layer.

    The forward (prefill, train), backward (train) and decode parts are computed only when some row
    needs them, so a sweep of one phase costs one part.
    """
    naive = t["kernel"] == NAIVE
    is_dec, is_train = t["phase"] == DECODE, t["phase"] == TRAIN
    zero = {"mm": 0.0, "vec": 0.0, "bytes": 0.0, "tiles": 1.0, "kernels": 0.0, "useful_mm": 0.0, "scores": 0.0,
            "splits": 1.0}
    fwd = _forward(t, n, sram_bytes, cores, l2_bytes) if not is_dec.all() else zero
    bwd = _backward(t, n, sram_bytes, fwd) if is_train.any() else zero
    dec = _decode(t, n, cores) if is_dec.any() else zero
    train = is_train.astype(float)
    flops_mm = np.where(is_dec, dec["mm"], fwd["mm"] + train * bwd["mm"])
    return _op(flops_mm, np.where(is_dec, dec["vec"], fwd["vec"] * (1.0 + train)),
               np.where(is_dec, dec["bytes"], fwd["bytes"] + train * bwd["bytes"]),
               np.where(is_dec, dec["tiles"], fwd["tiles"]),
               np.where(is_dec, dec["kernels"], np.where(naive, fwd["kernels"], 1.0) * (1.0 + train)),
               useful_mm=np.where(is_dec, dec["useful_mm"], fwd["useful_mm"] * (1.0 + 2.5 * train)),
               exec_mm=flops_mm, scores_bytes=np.where(is_dec, dec["scores"], fwd["scores"]),
               splits=np.where(is_dec, dec["splits"], 1.0))


def _forward(t, n, sram_bytes, cores=1.0, l2_bytes=0.0):
    """Prefill (and the training forward) over n tokens."""
    B, H, Hkv, d, e = t["batch"], t["heads"], t["kv_heads"], t["head_dim"], t["elt"]
    code, causal = t["pattern"], t["causal"]
    naive = t["kernel"] == NAIVE
    useful = P.useful_pairs(code, n, causal, **_pattern_args(t))
    masked = (useful < n * n).astype(float)  # a materialised kernel spends a masking pass only if some pair is cut
    br, bc = tile_sizes(sram_bytes, e, d)
    br_eff = np.where(code == P.BLOCK, np.minimum(t["block"], n), br)  # block-sparse: tile = pattern block
    tiled = P.tiled_pairs(code, n, causal, br, bc, block=t["block"], useful=useful, **_pattern_args(t))
    exec_pairs = np.where(naive, n * n, tiled)
    mm = 4.0 * d * exec_pairs * B * H
    naive_bytes = e * B * ((2.0 * H + 2.0 * Hkv) * n * d + H * n * n * (4.0 + 2.0 * masked))
    # K/V are re-read once per row tile; the H / Hkv query heads sharing a KV head are packed into the
    # row tiles (FlashAttention-3 PackGQA; with FA2 the L2 catches these re-reads), so a tile holds
    # min(Br, g·n) rows and a short sequence reads each KV head once.
    rows_per_tile = np.minimum(np.where(code == P.BLOCK, t["block"], br), (H / Hkv) * n)
    once = 2.0 * Hkv * n * d
    rereads = np.maximum(once, 2.0 * d * H * exec_pairs / rows_per_tile)
    # The tiles running at once share K/V through the L2: when the K/V of the KV heads in flight fit
    # there, only the first read of each reaches DRAM (the fraction that fits is served from the L2).
    tiles_per_kv_head = np.maximum(1.0, (H / Hkv) * n / rows_per_tile)
    heads_in_flight = np.clip(cores / tiles_per_kv_head, 1.0, B * Hkv)
    hit = np.clip(l2_bytes / (2.0 * n * d * e * heads_in_flight), 0.0, 1.0)
    kv_reads = rereads - hit * (rereads - once)
    flash_bytes = e * B * (2.0 * H * n * d + kv_reads) + 4.0 * B * H * n  # + fp32 log-sum-exp
    # tiles as a continuous count (a partial tile costs its share), so per-tile work never shrinks as n grows
    tiles = B * H * np.where(naive, np.maximum(1.0, n / ROW_TILE),
                             np.where(code == P.BLOCK, np.ceil(n / br_eff), np.maximum(1.0, n / br_eff)))
    return {"mm": mm, "vec": (SOFTMAX_FLOPS + naive * masked) * exec_pairs * B * H,
            "bytes": np.where(naive, naive_bytes, flash_bytes), "tiles": tiles, "kernels": 4.0 + masked,
            "useful_mm": 4.0 * d * useful * B * H, "exec_pairs": exec_pairs, "bc": bc,
            "scores": np.where(naive, 2.0 * e * B * H * n * n, 4.0 * B * H * n)}


def _backward(t, n, sram_bytes, fwd):
    """Training backward: 2.5x forward FLOPs (flash, recomputes S) or 2x (naive, reuses the stored P)."""
    B, H, Hkv, d, e = t["batch"], t["heads"], t["kv_heads"], t["head_dim"], t["elt"]
    naive = t["kernel"] == NAIVE
    naive_bytes = e * B * (2.0 * (H + 2.0 * Hkv) * n * d + 2.0 * H * n * d + 7.0 * H * n * n)
    bc_eff = np.where(t["pattern"] == P.BLOCK, np.minimum(t["block"], n), fwd["bc"])
    # FlashAttention-2 backward: K, V read and dK, dV written once; per key tile, Q, O, dO read and dQ read+written
    flash_bytes = e * B * (4.0 * Hkv * n * d + 5.0 * d * H * fwd["exec_pairs"] / bc_eff)
    return {"mm": np.where(naive, 2.0, 2.5) * fwd["mm"], "bytes": np.where(naive, naive_bytes, flash_bytes)}


def _decode(t, n, cores):
    """One query per sequence against a cache of n keys."""
    B, H, Hkv, d, e = t["batch"], t["heads"], t["kv_heads"], t["head_dim"], t["elt"]
    kernel = t["kernel"]
    naive, split = kernel == NAIVE, kernel == FLASH_DECODING
    keys = P.decode_keys(t["pattern"], n, **_pattern_args(t))
    masked = (keys < n).astype(float)
    exec_keys = np.where(naive, n, keys)
    splits = np.where(split, np.clip(cores / (B * Hkv), 1.0, np.maximum(keys / SPLIT_MIN_KEYS, 1.0)), 1.0)
    tiles = B * Hkv * np.where(naive, np.maximum(1.0, n / ROW_TILE), splits)
    # every tile reads its group's queries, appends its share of the new K/V and writes (partial) outputs
    per_tile = (H / Hkv) * d * (2.0 * e + split * 8.0) + 2.0 * d * t["kv_elt"]
    nbytes = (t["kv_elt"] * B * Hkv * 2.0 * d * exec_keys + per_tile * tiles
              + naive * e * B * H * n * (4.0 + 2.0 * masked))
    partials = split * 8.0 * B * H * splits * (d + 2.0)  # fp32 split outputs + LSE
    return {"mm": 4.0 * d * exec_keys * B * H, "vec": (SOFTMAX_FLOPS + naive * masked) * exec_keys * B * H,
            "bytes": nbytes, "tiles": tiles, "kernels": np.where(naive, 4.0 + masked, np.where(split, 2.0, 1.0)),
            "useful_mm": 4.0 * d * keys * B * H, "splits": splits,
            "scores": np.where(naive, 2.0 * e * B * H * n, partials + 4.0 * B * H)}


def kv_cache_bytes(t, n):
    """KV cache one layer holds: 2·B·Hkv·d·tokens·bytes. A sliding window (local, hybrid) keeps only
    its window (a rolling buffer, as Mistral does); training keeps none."""
    tokens = np.where(t["pattern"] == P.LOCAL, np.minimum(n, t["window"]),
                      np.where(t["pattern"] == P.HYBRID, np.minimum(n, t["window"] + t["n_global"]), n))
    tokens = tokens + (t["phase"] == DECODE)  # the new token's K and V are appended
    cache = 2.0 * t["batch"] * t["kv_heads"] * t["head_dim"] * tokens * t["kv_elt"]
    return np.where(t["phase"] == TRAIN, 0.0, cache)


def attention_weight_bytes(t):
    """Q, K, V, O projection weights of one layer (+ the norm's parameters)."""
    D, d = t["hidden"], t["head_dim"]
    return t["w_elt"] * (D * (t["heads"] + 2.0 * t["kv_heads"]) * d + t["heads"] * d * D) + t["elt"] * 2.0 * D


def activation_bytes(t, n):
    """Activations of one attention block alive at once: x, normed x, q, k, v, o over the step's tokens."""
    rows = t["batch"] * tokens_in_step(t, n)
    return t["elt"] * rows * (2.0 * t["hidden"] + (2.0 * t["heads"] + 2.0 * t["kv_heads"]) * t["head_dim"])
