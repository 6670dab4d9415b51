"""Dense attention reference kernels: materialised (naive) and fused (torch SDPA), MHA / MQA / GQA.

Shapes: q (B, H, Nq, d); k, v (B, Hkv, Nk, d) with H a multiple of Hkv. Query head h reads KV head
h // (H / Hkv). Repeated K/V are never materialised: the g = H / Hkv query heads of a group are folded
into the row axis, q -> (B, Hkv, g * Nq, d), so one batched matmul per KV head serves its whole group.
When Nq < Nk (decode, or a chunk appended to a KV cache) the queries are the last Nq positions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def check_shapes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[int, int, int]:
    """Validate (B, H, Nq, d) / (B, Hkv, Nk, d) shapes; return (Hkv, g, Nk)."""
    if q.dim() != 4 or k.shape != v.shape or k.dim() != 4:
        raise ValueError(
            f"expected q (B,H,N,d) and k, v (B,Hkv,N,d); got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    b, h, _, d = q.shape
    if k.shape[0] != b or k.shape[3] != d or h % k.shape[1]:
        raise ValueError(f"k/v {tuple(k.shape)} do not match q {tuple(q.shape)} (heads must divide)")
    return k.shape[1], h // k.shape[1], k.shape[2]


def causal_mask(nq: int, nk: int, device=None) -> torch.Tensor:
    """Bool (nq, nk): query i (at position nk - nq + i) may see keys j <= its position."""
    i = torch.arange(nq, device=device)[:, None] + (nk - nq)
    return torch.arange(nk, device=device)[None, :] <= i


def naive_attention(
    q, k, v, mask: torch.Tensor | None = None, causal: bool = False, scale: float | None = None
) -> torch.Tensor:
    """Materialised attention: S = q kᵀ and P = softmax(S) are written out in full.

    q (B, H, Nq, d); k, v (B, Hkv, Nk, d); mask: bool (Nq, Nk) of allowed pairs or None; causal is
    applied on top. Always computes the full Nq x Nk scores whatever the mask (matmul FLOPs
    4·B·H·Nq·Nk·d). Returns (B, H, Nq, d).
    """
    hkv, g, nk = check_shapes(q, k, v)
    b, h, nq, d = q.shape
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    qg = (q * scale).reshape(b, hkv, g * nq, d)  # (B, Hkv, g*Nq, d), heads of a group stacked
    s = torch.matmul(qg, k.transpose(-1, -2))  # (B, Hkv, g*Nq, Nk)
    if causal:
        mask = causal_mask(nq, nk, q.device) if mask is None else mask & causal_mask(nq, nk, q.device)
    if mask is not None:
        s = s.view(b, hkv, g, nq, nk).masked_fill(~mask, float("-inf")).view(b, hkv, g * nq, nk)
    p = torch.softmax(s, dim=-1)  # (B, Hkv, g*Nq, Nk)
    return torch.matmul(p, v).view(b, h, nq, d)


def fused_attention(q, k, v, causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """Fused attention through torch SDPA (FlashAttention-style on CPU and CUDA), native GQA.

    Decode (Nq == 1) folds the group into the row axis so no causal mask is needed and K/V are read
    once per group. Returns (B, H, Nq, d).
    """
    hkv, g, nk = check_shapes(q, k, v)
    b, h, nq, d = q.shape
    if nq == 1 or (not causal and g > 1):
        # rows of a group share K/V; causal is trivially satisfied for the newest query
        qg = q.reshape(b, hkv, g * nq, d)
        o = F.scaled_dot_product_attention(qg, k, v, is_causal=False, scale=scale)
        return o.view(b, h, nq, d)
    if causal and nq != nk:
        mask = causal_mask(nq, nk, q.device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=g > 1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale, enable_gqa=g > 1)
