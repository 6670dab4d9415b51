"""A correct drop-in attention layer (MHA / MQA / GQA, optional sparse pattern).

The source article's `EfficientAttention` example builds its einsums over the wrong axes (it only
runs at batch 1 and mixes heads with tokens). This module keeps its constructor spirit and the usual
interface: x (B, N, hidden) -> (B, N, hidden), like a standard self-attention layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from perfmodel.kernels.dense import fused_attention
from perfmodel.kernels.sparse import block_gather_attention, make_plan, strided_attention
from perfmodel.patterns import Pattern, pair_mask, parse_pattern


class EfficientAttention(nn.Module):
    """Self-attention with `num_kv_heads` K/V heads (= num_heads: MHA, 1: MQA, else GQA).

    hidden_size: model width D; num_heads: query heads H (D % H == 0, head_dim = D / H);
    num_kv_heads: K/V heads (H % num_kv_heads == 0); dropout: on the attention probabilities in
    training; pattern: None / "dense" or a sparse spec ("local:W", "strided:S", "hybrid:W,G",
    "block:B,DENSITY"); causal: decoder-style masking; bias: on the projections.
    forward(x (B, N, D), attn_mask=None) -> (B, N, D); attn_mask (N, N) bool of allowed pairs, or
    None, is combined with the pattern and causal mask.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        num_kv_heads: int | None = None,
        dropout: float = 0.0,
        pattern: str | Pattern | None = None,
        causal: bool = False,
        bias: bool = True,
    ):
        super().__init__()
        kv = num_heads if num_kv_heads is None else num_kv_heads
        if hidden_size % num_heads or num_heads % kv:
            raise ValueError(
                f"hidden_size {hidden_size} must divide by num_heads {num_heads}, "
                f"and num_heads by num_kv_heads {kv}"
            )
        self.hidden_size, self.num_heads, self.num_kv_heads = hidden_size, num_heads, kv
        self.head_dim = hidden_size // num_heads
        self.dropout, self.causal = dropout, causal
        self.pattern = parse_pattern(pattern) if isinstance(pattern, str) else (pattern or Pattern())
        self.q_proj = nn.Linear(hidden_size, num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(hidden_size, kv * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(hidden_size, kv * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(num_heads * self.head_dim, hidden_size, bias=bias)
        self._plans: dict[int, object] = {}

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        h, kv, d = self.num_heads, self.num_kv_heads, self.head_dim
        q = self.q_proj(x).view(b, n, h, d).transpose(1, 2)  # (B, H, N, d)
        k = self.k_proj(x).view(b, n, kv, d).transpose(1, 2)  # (B, Hkv, N, d)
        v = self.v_proj(x).view(b, n, kv, d).transpose(1, 2)
        o = self._attend(q, k, v, attn_mask)  # (B, H, N, d)
        return self.o_proj(o.transpose(1, 2).reshape(b, n, h * d))

    def _attend(self, q, k, v, attn_mask):
        drop = self.dropout if self.training else 0.0
        dense = self.pattern.kind == "dense"
        if attn_mask is None and drop == 0.0:
            if dense:
                return fused_attention(q, k, v, causal=self.causal)
            if self.pattern.kind == "strided":
                return strided_attention(q, k, v, self.pattern.stride, self.causal)
            n = q.shape[2]
            if n not in self._plans:
                self._plans[n] = make_plan(self.pattern, n, self.causal, device=q.device)
            return block_gather_attention(q, k, v, self._plans[n])
        # general path (dropout, extra mask): SDPA with the exact mask
        n = q.shape[2]
        mask = None if dense else torch.from_numpy(pair_mask(self.pattern, n, self.causal)).to(q.device)
        if self.causal and dense:
            mask = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        if attn_mask is not None:
            mask = attn_mask if mask is None else mask & attn_mask
        g = self.num_heads // self.num_kv_heads
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=drop, scale=1.0 / math.sqrt(self.head_dim), enable_gqa=g > 1
        )
