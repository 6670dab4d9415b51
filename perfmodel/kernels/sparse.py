"""Sparse attention kernels that really skip work: block-gather (local, hybrid, block) and strided.

Block-gather: the key blocks each query block visits come from `perfmodel.patterns.block_visits` (the
one source of truth shared with the cost model and the accelerator). Query blocks with the same number
of visited key blocks form a bucket; a bucket gathers its query blocks and their listed key blocks and
attends over them only, so skipped blocks cost nothing. Inside visited blocks the
exact pair mask (pattern and causal) is applied, so the result equals dense attention under
`pair_mask`. Each gathered chunk runs through torch SDPA, so the scores stay inside the fused kernel.
Executed matmul FLOPs: 4·d·B·H·b²·(visited blocks).

Strided: tokens are permuted by residue class (i mod S); each class is a small dense (causal)
attention over ceil(N / S) tokens run by torch SDPA, so no pair outside the pattern is computed
except the padding of short classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from perfmodel.kernels.dense import check_shapes
from perfmodel.patterns import Pattern, block_visits, pair_mask


@dataclass(frozen=True)
class Bucket:
    """Query blocks `rows` (R,) that each visit `cols` (R, c) key blocks; `mask` bool (R, b, c*b)
    of allowed pairs inside the gathered blocks, or None when every pair there is allowed."""

    rows: torch.Tensor
    cols: torch.Tensor
    mask: torch.Tensor | None


@dataclass(frozen=True)
class BlockPlan:
    """The precomputed sparse-row lists of one (pattern, n, causal, block): built once, run many times."""

    n: int
    block: int
    causal: bool
    buckets: tuple[Bucket, ...]
    visits: np.ndarray  # bool (nb, nb), from block_visits
    group_masks: dict = field(default_factory=dict, compare=False, repr=False)  # (bucket, g) -> mask

    @property
    def visited_blocks(self) -> int:
        return int(self.visits.sum())


def kernel_block(pattern: Pattern, default: int = 64) -> int:
    """Block size of the gather kernel: the pattern's own block for block patterns, else `default`."""
    return pattern.block if pattern.kind == "block" else default


def make_plan(
    pattern: Pattern, n: int, causal: bool, block: int | None = None, seed: int = 0, device=None
) -> BlockPlan:
    """Group the query blocks of `block_visits(pattern, n, causal, block, seed)` by visit count."""
    b = kernel_block(pattern) if block is None else block
    visits = block_visits(pattern, n, causal, b, seed)
    nb = visits.shape[0]
    exact = np.zeros((nb * b, nb * b), bool)
    exact[:n, :n] = pair_mask(pattern, n, causal, seed)
    exact[n:] = True  # padded query rows (discarded) see every key, so no softmax row is all -inf
    tiles = exact.reshape(nb, b, nb, b).transpose(0, 2, 1, 3)  # (nb, nb, b, b)
    counts = visits.sum(axis=1)
    buckets = []
    for c in np.unique(counts):
        if c == 0:
            continue
        rows = np.flatnonzero(counts == c)
        cols = np.stack([np.flatnonzero(visits[r]) for r in rows])  # (R, c)
        m = tiles[rows[:, None], cols]  # (R, c, b, b)
        m = m.transpose(0, 2, 1, 3).reshape(len(rows), b, c * b)
        mask = None if m.all() else torch.from_numpy(np.ascontiguousarray(m)).to(device)
        buckets.append(Bucket(torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device), mask))
    return BlockPlan(n, b, causal, tuple(buckets), visits)


def block_gather_attention(
    q, k, v, plan: BlockPlan, scale: float | None = None, max_gather: int = 1 << 18
) -> torch.Tensor:
    """Block-sparse attention visiting only the planned key blocks.

    q (B, H, N, d); k, v (B, Hkv, N, d); returns (B, H, N, d). Query rows with no visited block
    output zeros. For each chunk of R query blocks of a bucket (c key blocks each), the listed K/V
    blocks are gathered to (B*Hkv, R, c*b, d) and the g*b query rows of a block (its KV group's
    heads folded in) attend to them with torch SDPA (fused softmax; S never leaves the kernel),
    with the exact pair mask of the visited blocks. Chunks gather at most `max_gather` K elements,
    which keeps the gathered blocks in cache. Matmul FLOPs: 4·d·B·H·b²·(visited blocks).
    """
    hkv, g, n = check_shapes(q, k, v)
    bsz, h, nq, d = q.shape
    if nq != n or n != plan.n:
        raise ValueError(f"plan is for seq {plan.n}; got q {tuple(q.shape)}, k {tuple(k.shape)}")
    b = plan.block
    nb = -(-n // b)
    pad = nb * b - n
    if pad:
        q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
    # (B*Hkv, nb, g*b, d): query blocks, the group's heads stacked in the rows of each block
    qb = q.reshape(bsz, hkv, g, nb, b, d).transpose(2, 3).reshape(bsz * hkv, nb, g * b, d)
    kb = k.reshape(bsz * hkv, nb, b * d)
    vb = v.reshape(bsz * hkv, nb, b * d)
    out = q.new_zeros(bsz * hkv, nb, g * b, d)
    for i, bucket in enumerate(plan.buckets):
        c = bucket.cols.shape[1]
        mask = _group_mask(plan, i, g)  # (R, g*b, c*b) or None
        step = max(1, max_gather // (bsz * hkv * c * b * d))
        for lo in range(0, len(bucket.rows), step):
            rows, cols = bucket.rows[lo : lo + step], bucket.cols[lo : lo + step]
            r = len(rows)
            qr = qb.index_select(1, rows)  # (B*Hkv, R, g*b, d)
            flat = cols.reshape(-1)
            kr = kb.index_select(1, flat).view(bsz * hkv, r, c * b, d)  # the listed key blocks only
            vr = vb.index_select(1, flat).view(bsz * hkv, r, c * b, d)
            m = None if mask is None else mask[lo : lo + step][None]  # (1, R, g*b, c*b)
            o = F.scaled_dot_product_attention(qr, kr, vr, attn_mask=m, scale=scale)
            out.index_copy_(1, rows, o)
    out = out.view(bsz, hkv, nb, g, b, d).transpose(2, 3).reshape(bsz, h, nb * b, d)
    return out[:, :, :n]


def _group_mask(plan: BlockPlan, i: int, g: int) -> torch.Tensor | None:
    """Bucket i's pair mask with each query row repeated for the g heads of a KV group, cached."""
    bucket = plan.buckets[i]
    if bucket.mask is None:
        return None
    key = (i, g)
    if key not in plan.group_masks:
        r, b, cb = bucket.mask.shape
        plan.group_masks[key] = bucket.mask[:, None].expand(r, g, b, cb).reshape(r, g * b, cb)
    return plan.group_masks[key]


def strided_attention(q, k, v, stride: int, causal: bool, scale: float | None = None) -> torch.Tensor:
    """Strided attention ((i - j) % S == 0) as S dense attentions over the residue classes.

    q (B, H, N, d); k, v (B, Hkv, N, d); returns (B, H, N, d). Token t*S + c is element t of class c;
    classes are padded to m = ceil(N / S) tokens. SDPA runs over (B, Hkv*S*g, m, d) queries against
    (B, Hkv*S, m, d) keys (native GQA, no repeated K/V): matmul FLOPs 4·B·H·S·m²·d as counted.
    """
    hkv, g, n = check_shapes(q, k, v)
    bsz, h, _, d = q.shape
    s_ = stride
    m = -(-n // s_)
    pad = m * s_ - n

    def classes(t, heads):  # (B, heads, N, d) -> (B, heads, S, m, d)
        t = F.pad(t, (0, 0, 0, pad)) if pad else t
        return t.view(bsz, heads, m, s_, d).transpose(2, 3)

    qc = classes(q, h).reshape(bsz, hkv, g, s_, m, d).transpose(2, 3).reshape(bsz, hkv * s_ * g, m, d)
    kc = classes(k, hkv).reshape(bsz, hkv * s_, m, d)
    vc = classes(v, hkv).reshape(bsz, hkv * s_, m, d)
    if causal or not pad:
        # causal: padded keys (class tail) come after every real query of their class
        o = F.scaled_dot_product_attention(qc, kc, vc, is_causal=causal, scale=scale, enable_gqa=g > 1)
    else:
        valid = (
            torch.arange(m, device=q.device)[None, :] * s_ + torch.arange(s_, device=q.device)[:, None]
        ) < n
        mask = valid.repeat(hkv, 1)[None, :, None, :].repeat_interleave(g, dim=1)  # (1, Hkv*S*g, 1, m)
        o = F.scaled_dot_product_attention(qc, kc, vc, attn_mask=mask, scale=scale, enable_gqa=g > 1)
    o = o.view(bsz, hkv, s_, g, m, d).transpose(2, 3).reshape(bsz, h, s_, m, d)
    return o.transpose(2, 3).reshape(bsz, h, m * s_, d)[:, :, :n]
