"""Decode kernels: one new query per sequence against a KV cache of N tokens.

`split_kv_decode` is flash-decoding: the cache is cut into P splits, each split computes its partial
output, running max and sum independently (parallel over splits even at batch 1), and the partials
are combined with log-sum-exp weights. Sparse patterns gather the keys the newest query may see
(`decode_key_index`) before either kernel, so skipped keys are never touched.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from perfmodel.cost import SPLIT_MIN_KEYS
from perfmodel.kernels.dense import check_shapes
from perfmodel.patterns import Pattern, pair_mask


def decode_key_index(pattern: Pattern, n: int, seed: int = 0) -> np.ndarray | None:
    """Key positions the query at position n - 1 attends to (row n - 1 of the causal pair mask);
    None for dense (all n keys)."""
    if pattern.kind == "dense":
        return None
    if pattern.kind == "local":
        return np.arange(max(0, n - pattern.window), n)
    if pattern.kind == "strided":
        return np.arange((n - 1) % pattern.stride, n, pattern.stride)
    return np.flatnonzero(pair_mask(pattern, n, causal=True, seed=seed)[n - 1])


def gather_keys(k, v, index: torch.Tensor | None):
    """k, v (B, Hkv, N, d) -> the listed key positions (B, Hkv, len(index), d)."""
    if index is None:
        return k, v
    return k.index_select(2, index), v.index_select(2, index)


def split_kv_decode(q, k, v, splits: int, scale: float | None = None) -> torch.Tensor:
    """Split-KV decoding. q (B, H, 1, d); k, v (B, Hkv, N, d); returns (B, H, 1, d).

    The cache is cut into splits of ceil(N / P) keys (the last one shorter; nothing is padded, so the
    matmul FLOPs are exactly 4·B·H·N·d). Per split p: m_p = max_j s_j, l_p = sum_j exp(s_j - m_p),
    o_p = sum_j exp(s_j - m_p) v_j; then o = sum_p exp(m_p - m) o_p / sum_p exp(m_p - m) l_p with
    m = max_p m_p.
    """
    hkv, g, n = check_shapes(q, k, v)
    bsz, h, nq, d = q.shape
    if nq != 1:
        raise ValueError(f"split_kv_decode expects one query per sequence, got q {tuple(q.shape)}")
    chunk = -(-n // max(1, min(splits, n)))
    full = n // chunk
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    qg = (q * scale).view(bsz, hkv, 1, g, d)  # the group's heads in the row axis, shared by all splits
    parts = [_partials(qg, k[:, :, : full * chunk], v[:, :, : full * chunk], full, chunk)]
    if full * chunk < n:  # the shorter last split
        parts.append(_partials(qg, k[:, :, full * chunk :], v[:, :, full * chunk :], 1, n - full * chunk))
    m_p, l_p, o_p = (torch.cat(x, dim=2) for x in zip(*parts))
    m = m_p.amax(dim=2, keepdim=True)
    w = torch.exp(m_p - m)  # (B, Hkv, P, g, 1)
    o = (w * o_p).sum(dim=2) / (w * l_p).sum(dim=2)  # (B, Hkv, g, d)
    return o.view(bsz, h, 1, d)


def _partials(qg, k, v, p, chunk):
    """Per-split running max, sum and unnormalised output of p splits of `chunk` keys."""
    bsz, hkv, _, d = k.shape
    ks = k.reshape(bsz, hkv, p, chunk, d)
    vs = v.reshape(bsz, hkv, p, chunk, d)
    s = torch.matmul(qg, ks.transpose(-1, -2))  # (B, Hkv, P, g, chunk)
    m_p = s.amax(dim=-1, keepdim=True)  # (B, Hkv, P, g, 1)
    e = torch.exp(s - m_p)
    return m_p, e.sum(dim=-1, keepdim=True), torch.matmul(e, vs)  # o_p (B, Hkv, P, g, d)


def default_splits(keys: int, batch: int, kv_heads: int, cores: int) -> int:
    """Splits as the cost model chooses them (perfmodel.cost.attention_op): enough for
    batch * kv_heads * splits tiles to fill the cores, never finer than SPLIT_MIN_KEYS keys."""
    want = -(-cores // max(1, batch * kv_heads))
    return int(min(max(1, want), max(1, -(-keys // SPLIT_MIN_KEYS))))
