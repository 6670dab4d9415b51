"""Count the matmul FLOPs a reference kernel executes, with torch's FlopCounterMode.

torch 2.13 has FLOP formulas for the CUDA SDPA kernels but not for the CPU flash kernel
(aten._scaled_dot_product_flash_attention_for_cpu and its backward), so on CPU FlopCounterMode counts 0
for torch SDPA. `count_flops` registers torch's own SDPA formulas (sdpa_flop_count: 4·b·h_q·s_q·s_k·d
forward; sdpa_backward_flop_count: 2.5x that) for the CPU ops. Like the CUDA formulas they ignore
is_causal and attn_mask: they count every (query, key) pair the call is given.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

_aten = torch.ops.aten


def _cpu_sdpa(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


CPU_SDPA_FORMULAS = {
    _aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa,
    _aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward,
}


def count_flops(fn, *args, **kwargs) -> tuple[int, object]:
    """Run fn(*args, **kwargs) under FlopCounterMode (CPU SDPA included); return (FLOPs, result)."""
    with FlopCounterMode(display=False, custom_mapping=CPU_SDPA_FORMULAS) as counter:
        result = fn(*args, **kwargs)
    return counter.get_total_flops(), result
