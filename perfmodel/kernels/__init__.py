"""Torch reference kernels for every attention variant, pattern and kernel the cost model knows.

Imported only by measuring code (profiler, benchmarks, tests): `import perfmodel` never imports torch.

`prepare(kernel, pattern, n, causal, phase)` does the untimed set-up (masks, sparse-row lists, key
index lists) once and returns `run(q, k, v) -> out`:
- naive:           materialised S and P over all N keys, pattern and causal applied as a -inf mask.
- flash:           torch SDPA for dense; block-gather for local / hybrid / block; residue-class
                   permutation for strided. Decode: SDPA over the keys the pattern allows.
- flash-decoding:  split-KV decode over the keys the pattern allows (decode only).
Shapes: prefill q (B, H, N, d), k, v (B, Hkv, N, d); decode q (B, H, 1, d) against a cache of N.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from perfmodel.kernels.decode import decode_key_index, default_splits, gather_keys, split_kv_decode
from perfmodel.kernels.dense import causal_mask, fused_attention, naive_attention
from perfmodel.kernels.sparse import BlockPlan, block_gather_attention, make_plan, strided_attention
from perfmodel.patterns import Pattern, pair_mask, parse_pattern

KERNELS = ("naive", "flash", "flash-decoding")
PHASES = ("prefill", "decode", "train")

__all__ = [
    "KERNELS",
    "PHASES",
    "BlockPlan",
    "block_gather_attention",
    "causal_mask",
    "decode_key_index",
    "fused_attention",
    "make_plan",
    "naive_attention",
    "prepare",
    "split_kv_decode",
    "strided_attention",
]


def prepare(
    kernel: str,
    pattern: Pattern | str,
    n: int,
    causal: bool = True,
    phase: str = "prefill",
    device=None,
    seed: int = 0,
    splits: int | None = None,
    block: int | None = None,
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """Set up one kernel for sequence (or KV cache) length n; returns run(q, k, v).

    train runs the prefill kernel (the caller does the backward). Decode queries sit at position
    n - 1 and are causal by construction. `splits` (flash-decoding) defaults to filling the cores.
    """
    pat = parse_pattern(pattern) if isinstance(pattern, str) else pattern
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel '{kernel}', expected one of {KERNELS}")
    if phase not in PHASES:
        raise ValueError(f"unknown phase '{phase}', expected one of {PHASES}")
    if phase == "decode":
        return _prepare_decode(kernel, pat, n, device, seed, splits)
    if kernel == "flash-decoding":
        raise ValueError("flash-decoding is a decode kernel (phase 'decode')")
    if kernel == "naive":
        mask = None
        if pat.kind != "dense":
            mask = torch.from_numpy(pair_mask(pat, n, causal, seed)).to(device)
        return lambda q, k, v: naive_attention(q, k, v, mask=mask, causal=causal and mask is None)
    if pat.kind == "dense":
        return lambda q, k, v: fused_attention(q, k, v, causal=causal)
    if pat.kind == "strided":
        return lambda q, k, v: strided_attention(q, k, v, pat.stride, causal)
    plan = make_plan(pat, n, causal, block=block, seed=seed, device=device)
    return lambda q, k, v: block_gather_attention(q, k, v, plan)


def _prepare_decode(kernel, pat, n, device, seed, splits):
    if kernel == "naive":
        mask = None
        if pat.kind != "dense":
            mask = torch.from_numpy(pair_mask(pat, n, True, seed)[n - 1 :]).to(device)  # (1, n)
        return lambda q, k, v: naive_attention(q, k, v, mask=mask)
    idx = decode_key_index(pat, n, seed)
    index = None if idx is None else torch.from_numpy(idx).to(device)
    if kernel == "flash":
        return lambda q, k, v: fused_attention(q, *gather_keys(k, v, index))

    def run(q, k, v):
        kk, vv = gather_keys(k, v, index)
        p = splits or default_splits(kk.shape[2], q.shape[0], k.shape[1], torch.get_num_threads())
        return split_kv_decode(q, kk, vv, p)

    return run
