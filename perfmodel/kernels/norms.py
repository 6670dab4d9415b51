"""Pre-norm reference kernels (x (B, N, D) -> (B, N, D)), written out so their cost is visible.

LayerNorm: (x - mean) / sqrt(var + eps) * weight + bias (Ba et al. 2016), biased variance.
RMSNorm:   x / sqrt(mean(x²) + eps) * weight (Zhang & Sennrich 2019): no mean, no bias.
"""

from __future__ import annotations

import torch


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, eps: float = 1e-5
) -> torch.Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    xc = x - mean
    var = (xc * xc).mean(dim=-1, keepdim=True)
    y = xc * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def rms_norm(x: torch.Tensor, weight: torch.Tensor | None = None, eps: float = 1e-6) -> torch.Tensor:
    y = x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps)
    return y if weight is None else y * weight
