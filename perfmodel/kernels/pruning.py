"""Token pruning: keep the most important tokens, importance = ||x_j||₂ + attention weight received.

For token j: importance_j = ||x_j||₂ + sum over heads h and queries i of P[b, h, i, j] / H, i.e. the
L2 norm of its hidden state plus the attention probability mass it receives per head (each query row
of P sums to 1, so the second term is in [0, N]). The kept tokens stay in their original order.
"""

from __future__ import annotations

import math

import torch


def token_importance(x: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """x (B, N, D) hidden states; probs (B, H, N, N) attention probabilities -> (B, N) importance."""
    if probs.shape[0] != x.shape[0] or probs.shape[-1] != x.shape[1]:
        raise ValueError(f"probs {tuple(probs.shape)} do not match x {tuple(x.shape)}")
    received = probs.sum(dim=2).mean(dim=1)  # (B, N): mass received, averaged over heads
    return torch.linalg.vector_norm(x, dim=-1) + received


def keep_count(n: int, keep_ratio: float) -> int:
    """Tokens kept from n at `keep_ratio` in (0, 1]: ceil(keep_ratio * n), at least 1."""
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio}")
    return max(1, min(n, math.ceil(keep_ratio * n - 1e-9)))


def prune_tokens(x: torch.Tensor, probs: torch.Tensor, keep_ratio: float):
    """Keep the top ceil(keep_ratio * N) tokens by importance, in order.

    x (B, N, D); probs (B, H, N, N). Returns (x_kept (B, K, D), index (B, K) long, sorted).
    """
    k = keep_count(x.shape[1], keep_ratio)
    score = token_importance(x, probs)
    index = torch.topk(score, k, dim=1).indices.sort(dim=1).values  # (B, K)
    kept = torch.gather(x, 1, index[..., None].expand(-1, -1, x.shape[-1]))
    return kept, index
