"""Every reference kernel against torch SDPA with the equivalent mask.

Reference: F.scaled_dot_product_attention in float64 with the exact `pair_mask` of the pattern.
Tolerance (flash-attention's rule): a kernel's max error against the float64 reference is at most
twice that of a plain materialised float32 implementation (repeated K/V, dense mask, softmax) plus
1e-6 absolute slack for errors at the float32 rounding floor. Each kernel is also allclose to SDPA in
float32 with the same mask.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.kernels import (
    block_gather_attention,
    make_plan,
    naive_attention,
    prepare,
    split_kv_decode,
    strided_attention,
)
from perfmodel.kernels.norms import layer_norm, rms_norm
from perfmodel.kernels.pruning import keep_count, prune_tokens, token_importance
from perfmodel.patterns import pair_mask, parse_pattern

SHAPES = [  # (B, H, Hkv, N, d): MHA, GQA, MQA, ragged lengths
    (2, 4, 4, 64, 16),
    (1, 8, 2, 96, 32),
    (3, 4, 1, 50, 8),
]
PATTERNS = ["dense", "local:16", "strided:5", "hybrid:8,3", "block:16,0.5", "block:8,0.25"]


def qkv(b, h, hkv, nq, nk, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(b, h, nq, d, generator=g),
        torch.randn(b, hkv, nk, d, generator=g),
        torch.randn(b, hkv, nk, d, generator=g),
    )


def reference(q, k, v, mask, dtype=torch.float64):
    """SDPA with repeated K/V and an explicit bool mask (Nq, Nk)."""
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
    return F.scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype), attn_mask=mask)


def plain(q, k, v, mask):
    """The plain materialised float32 implementation whose error sets the tolerance."""
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v


def assert_matches(out, q, k, v, mask):
    """Compare query rows that have at least one allowed key (empty rows are NaN in SDPA; see
    test_empty_rows for what the kernels return there)."""
    rows = mask.any(-1)
    out, q, mask = out[:, :, rows], q[:, :, rows], mask[rows]
    ref64 = reference(q, k, v, mask)
    err = (out.double() - ref64).abs().max().item()
    base = (plain(q, k, v, mask).double() - ref64).abs().max().item()
    assert err <= 2 * base + 1e-6, f"error {err:.3g} > 2 x plain error {base:.3g}"
    torch.testing.assert_close(out, reference(q, k, v, mask, torch.float32), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("spec", PATTERNS)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("kernel", ["naive", "flash"])
def test_prefill_kernels_match_sdpa(shape, spec, causal, kernel):
    b, h, hkv, n, d = shape
    q, k, v = qkv(b, h, hkv, n, n, d)
    pat = parse_pattern(spec)
    mask = torch.from_numpy(pair_mask(pat, n, causal))
    out = prepare(kernel, pat, n, causal)(q, k, v)
    assert out.shape == q.shape
    assert_matches(out, q, k, v, mask)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("spec", PATTERNS)
@pytest.mark.parametrize("kernel", ["naive", "flash", "flash-decoding"])
def test_decode_kernels_match_sdpa(shape, spec, kernel):
    """Decode = the last row of causal prefill: query at position N - 1 against the cache."""
    b, h, hkv, n, d = shape
    q, k, v = qkv(b, h, hkv, 1, n, d, seed=1)
    mask = torch.from_numpy(pair_mask(parse_pattern(spec), n, True)[n - 1 :])
    out = prepare(kernel, spec, n, phase="decode", splits=3)(q, k, v)
    assert out.shape == q.shape
    assert_matches(out, q, k, v, mask)


@pytest.mark.parametrize("splits", [1, 2, 7, 64, 200])
def test_split_kv_any_split_count(splits):
    q, k, v = qkv(2, 6, 3, 1, 61, 8, seed=2)
    assert_matches(split_kv_decode(q, k, v, splits), q, k, v, torch.ones(1, 61, dtype=torch.bool))


def test_naive_chunk_against_cache_is_causal_at_the_end():
    """Nq < Nk: queries are the last Nq positions (chunked prefill against a cache)."""
    q, k, v = qkv(1, 4, 2, 5, 20, 8)
    mask = torch.from_numpy(np.tril(np.ones((20, 20), bool))[-5:])
    assert_matches(naive_attention(q, k, v, causal=True), q, k, v, mask)
    assert_matches(prepare("flash", "dense", 20)(q, k, v), q, k, v, mask)


def test_block_gather_skips_blocks():
    """The plan lists exactly block_visits' blocks; scores are computed for those blocks only."""
    pat = parse_pattern("block:8,0.25")
    plan = make_plan(pat, 64, causal=False)
    assert plan.visited_blocks == int(round(0.25 * 8)) * 8
    listed = sum(bk.cols.numel() for bk in plan.buckets)
    assert listed == plan.visited_blocks
    # a tampered K in a never-visited block must not change the output
    q, k, v = qkv(1, 2, 2, 64, 64, 8)
    out = block_gather_attention(q, k, v, plan)
    r, c = np.argwhere(~plan.visits)[0]
    k2, v2 = k.clone(), v.clone()
    k2[:, :, c * 8 : (c + 1) * 8] = 1e6
    v2[:, :, c * 8 : (c + 1) * 8] = float("nan")
    rows = slice(r * 8, (r + 1) * 8)
    torch.testing.assert_close(block_gather_attention(q, k2, v2, plan)[:, :, rows], out[:, :, rows])


def test_block_gather_chunking_and_explicit_mask_file(tmp_path):
    mask = np.eye(6, dtype=int)
    mask[3, 0] = mask[5, 1] = mask[0, 4] = 1
    path = tmp_path / "m.csv"
    np.savetxt(path, mask, fmt="%d", delimiter=",")
    pat = parse_pattern(f"block:8,{path}")
    q, k, v = qkv(2, 4, 2, 44, 44, 8)  # 44 = 5.5 blocks: padded last block
    for causal in (True, False):
        plan = make_plan(pat, 44, causal)
        ref_mask = torch.from_numpy(pair_mask(pat, 44, causal))
        assert_matches(block_gather_attention(q, k, v, plan, max_gather=1), q, k, v, ref_mask)


def test_strided_non_causal_padding():
    q, k, v = qkv(2, 4, 2, 23, 23, 8)
    mask = torch.from_numpy(pair_mask(parse_pattern("strided:4"), 23, False))
    assert_matches(strided_attention(q, k, v, 4, causal=False), q, k, v, mask)


def test_gqa_does_not_repeat_kv():
    """The GQA path never calls repeat_interleave/expand-copy on K or V."""
    from torch.utils._python_dispatch import TorchDispatchMode

    seen = []

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(str(func))
            return func(*args, **(kwargs or {}))

    q, k, v = qkv(1, 8, 2, 32, 32, 8)
    for kernel, spec in [
        ("naive", "dense"),
        ("flash", "dense"),
        ("flash", "local:8"),
        ("flash", "strided:4"),
    ]:
        with Spy():
            prepare(kernel, spec, 32)(q, k, v)
    assert not [f for f in seen if "repeat_interleave" in f or f.startswith("aten.repeat")]


def test_norms_match_torch():
    x = torch.randn(2, 7, 32)
    w, bias = torch.randn(32), torch.randn(32)
    torch.testing.assert_close(layer_norm(x, w, bias), F.layer_norm(x, (32,), w, bias))
    torch.testing.assert_close(rms_norm(x, w), F.rms_norm(x, (32,), w, eps=1e-6))


def test_token_pruning():
    torch.manual_seed(0)
    x = torch.randn(2, 10, 16)
    probs = torch.softmax(torch.randn(2, 4, 10, 10), -1)
    imp = token_importance(x, probs)
    want = x.norm(dim=-1) + probs.sum(2).mean(1)
    torch.testing.assert_close(imp, want)
    kept, idx = prune_tokens(x, probs, 0.5)
    assert kept.shape == (2, 5, 16) and (idx.diff(dim=1) > 0).all()
    for bi in range(2):
        assert set(idx[bi].tolist()) == set(want[bi].topk(5).indices.tolist())
        torch.testing.assert_close(kept[bi], x[bi, idx[bi]])
    assert keep_count(10, 0.01) == 1 and keep_count(10, 1.0) == 10 and keep_count(10, 0.3) == 3
    with pytest.raises(ValueError):
        keep_count(10, 0.0)
    # attention over the kept tokens equals SDPA over the same subset
    q = torch.randn(2, 4, 10, 8)
    sub = torch.gather(q, 2, idx[:, None, :, None].expand(-1, 4, -1, 8))
    out = prepare("flash", "dense", 5)(sub, sub, sub)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(sub, sub, sub, is_causal=True))


def test_empty_rows(tmp_path):
    """A query row with no allowed key (a block-mask file with an empty row) is NaN in SDPA and the
    materialised kernel, and zeros in the block-gather kernel (it visits no block)."""
    mask = np.ones((4, 4), int)
    mask[0] = 0
    path = tmp_path / "empty_row.csv"
    np.savetxt(path, mask, fmt="%d", delimiter=",")
    spec = f"block:16,{path}"
    q, k, v = qkv(1, 2, 2, 64, 64, 8)
    assert not pair_mask(parse_pattern(spec), 64, False)[:16].any()
    assert prepare("naive", spec, 64, causal=False)(q, k, v)[:, :, :16].isnan().all()
    assert (prepare("flash", spec, 64, causal=False)(q, k, v)[:, :, :16] == 0).all()


@settings(max_examples=30, deadline=None)
@given(
    b=st.integers(1, 2),
    hkv=st.sampled_from([1, 2]),
    g=st.sampled_from([1, 3]),
    n=st.integers(1, 70),
    d=st.sampled_from([4, 8]),
    spec=st.sampled_from(["dense", "local:5", "strided:3", "hybrid:4,2", "block:8,0.5", "block:16,1.0"]),
    causal=st.booleans(),
    kernel=st.sampled_from(["naive", "flash"]),
)
def test_random_shapes_match_sdpa(b, hkv, g, n, d, spec, causal, kernel):
    """Any batch, group size, ragged length (including blocks that do not divide n) and pattern."""
    q, k, v = qkv(b, hkv * g, hkv, n, n, d, seed=n)
    mask = torch.from_numpy(pair_mask(parse_pattern(spec), n, causal))
    assert_matches(prepare(kernel, spec, n, causal)(q, k, v), q, k, v, mask)
