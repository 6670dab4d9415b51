"""EfficientAttention: a drop-in layer equal to the MHA math (nn.MultiheadAttention) at kv_heads == heads."""

from __future__ import annotations

import pytest
import torch

from perfmodel.kernels.layer import EfficientAttention
from perfmodel.patterns import pair_mask, parse_pattern


def copy_into_mha(layer: EfficientAttention) -> torch.nn.MultiheadAttention:
    d = layer.hidden_size
    mha = torch.nn.MultiheadAttention(d, layer.num_heads, bias=True, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([layer.q_proj.weight, layer.k_proj.weight, layer.v_proj.weight]))
        mha.in_proj_bias.copy_(torch.cat([layer.q_proj.bias, layer.k_proj.bias, layer.v_proj.bias]))
        mha.out_proj.weight.copy_(layer.o_proj.weight)
        mha.out_proj.bias.copy_(layer.o_proj.bias)
    return mha.eval()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("spec", ["dense", "local:4", "strided:3", "block:4,0.5"])
def test_equals_mha_math(causal, spec):
    torch.manual_seed(0)
    layer = EfficientAttention(32, 4, num_kv_heads=4, pattern=spec, causal=causal).eval()
    mha = copy_into_mha(layer)
    x = torch.randn(3, 16, 32)  # batch > 1: the article's version fails here
    allowed = torch.from_numpy(pair_mask(parse_pattern(spec), 16, causal))
    want, _ = mha(x, x, x, attn_mask=~allowed, need_weights=False)
    torch.testing.assert_close(layer(x), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kv", [1, 2])
def test_gqa_mqa_equal_mha_with_repeated_kv_weights(kv):
    """GQA/MQA equal MHA whose K/V projections repeat each KV head for its query-head group."""
    torch.manual_seed(1)
    gqa = EfficientAttention(32, 4, num_kv_heads=kv, causal=True).eval()
    mha = EfficientAttention(32, 4, num_kv_heads=4, causal=True).eval()
    g, hd = 4 // kv, 8
    with torch.no_grad():
        for name in ("q_proj", "o_proj"):
            getattr(mha, name).load_state_dict(getattr(gqa, name).state_dict())
        for name in ("k_proj", "v_proj"):
            src, dst = getattr(gqa, name), getattr(mha, name)
            dst.weight.copy_(src.weight.view(kv, 1, hd, 32).expand(kv, g, hd, 32).reshape(32, 32))
            dst.bias.copy_(src.bias.view(kv, 1, hd).expand(kv, g, hd).reshape(32))
    x = torch.randn(2, 10, 32)
    torch.testing.assert_close(gqa(x), mha(x), rtol=1e-4, atol=1e-5)
    assert gqa.k_proj.weight.shape == (kv * hd, 32)


def test_training_dropout_mask_and_backward():
    torch.manual_seed(2)
    layer = EfficientAttention(16, 2, num_kv_heads=1, dropout=0.5, pattern="local:3", causal=True)
    x = torch.randn(2, 8, 16, requires_grad=True)
    layer.train()
    layer(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    layer.eval()  # no dropout in eval: deterministic, extra mask combined with the pattern
    extra = torch.ones(8, 8, dtype=torch.bool)
    torch.testing.assert_close(layer(x, attn_mask=extra), layer(x))
    # block-gather path trains too
    blk = EfficientAttention(16, 2, pattern="block:4,0.5", causal=True)
    blk(x).sum().backward()


def test_bad_shapes():
    with pytest.raises(ValueError):
        EfficientAttention(30, 4)
    with pytest.raises(ValueError):
        EfficientAttention(32, 4, num_kv_heads=3)
