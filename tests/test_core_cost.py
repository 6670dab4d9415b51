"""Closed-form checks of the cost model, each number derived by hand from the formula it cites."""

import math
from dataclasses import replace

import pytest

from perfmodel import Workload, load_hardware, load_model, predict


def one(hw="h100-sxm", **kw):
    return predict(Workload(**kw), hw, calibrated=False).iloc[0]


def test_llama3_8b_kv_cache_8192_fp16_is_one_gib():
    # 2 (K and V) x 32 layers x 8 KV heads x 128 head dim x 8192 tokens x 2 bytes = 2^30
    w = Workload.from_model(load_model("llama-3-8b"), seq=8192, phase="prefill", dtype="fp16")
    assert one(**w.as_dict())["kv_cache_bytes"] == 2**30


@pytest.mark.parametrize("kv,expected_ratio", [(32, 1.0), (8, 0.25), (1, 1 / 32)])
def test_gqa_mqa_shrink_kv_cache_by_heads_over_kv_heads(kv, expected_ratio):
    base = one(heads=32, kv_heads=32, head_dim=128, layers=4, seq=4096, phase="prefill")["kv_cache_bytes"]
    assert one(heads=32, kv_heads=kv, head_dim=128, layers=4, seq=4096, phase="prefill")["kv_cache_bytes"] == base * expected_ratio


def test_attention_flops_convention_prefill_decode_train():
    B, H, N, d = 2, 16, 1024, 64
    r = one(heads=H, head_dim=d, batch=B, seq=N, causal=False, kernel="flash", phase="prefill")
    assert r["flops_attn_matmul"] == 4 * B * H * N * N * d  # FlashAttention-2 sec 4.1 convention
    r = one(heads=H, head_dim=d, batch=B, seq=N, causal=True, kernel="flash", phase="prefill")
    assert r["flops_attn_matmul"] == 4 * B * H * d * N * (N + 1) / 2  # causal: the exact lower triangle
    r = one(heads=H, head_dim=d, batch=B, seq=N, causal=False, kernel="flash", phase="train")
    assert r["flops_attn_matmul"] == 3.5 * 4 * B * H * N * N * d  # forward + 2.5x forward backward
    r = one(heads=H, head_dim=d, batch=B, seq=N, kernel="flash-decoding", phase="decode")
    assert r["flops_attn_matmul"] == 4 * B * H * N * d  # one query against N keys


def test_naive_attention_bytes_theta_nd_plus_n2():
    # one head, fp16, non-causal dense: read Q, K, V (3Nd) and write O (Nd); S written, read; P written, read (4N^2)
    N, d = 128, 64
    r = one(heads=1, head_dim=d, seq=N, causal=False, kernel="naive", phase="prefill", dtype="fp16")
    assert r["bytes_attn"] == 2 * (4 * N * d + 4 * N * N)
    # causal adds the masking pass over S (read + write)
    r = one(heads=1, head_dim=d, seq=N, causal=True, kernel="naive", phase="prefill", dtype="fp16")
    assert r["bytes_attn"] == 2 * (4 * N * d + 6 * N * N)


def test_flash_attention_bytes_use_real_tiles():
    # H100 with its L2 taken away (so no L2 reuse): 228 KiB shared memory per SM -> M = 116736 fp16
    # elements; d = 64: Bc = ceil(M / 4d) = 456 (capped at 128 keys), Br = min(Bc, d) = 64 (Algorithm 1).
    # Bytes: Q read + O written once (2Nd), K and V re-read once per query tile (2 d N^2 / Br), fp32 LSE (4N).
    hw = replace(load_hardware("h100-sxm", calibrated=False), l2=None)  # no L2: every re-read reaches DRAM
    assert hw.sram_per_core == 228 * 1024
    N, d = 4096, 64
    r = one(hw=hw, heads=1, head_dim=d, seq=N, causal=False, kernel="flash", phase="prefill", dtype="fp16")
    assert math.ceil(116736 / (4 * d)) == 456
    assert r["bytes_attn"] == 2 * (2 * N * d + 2 * d * N * N / 64) + 4 * N


def test_l2_serves_kv_rereads_while_they_fit():
    # H100, 50 MiB L2: one head's K/V at N = 4096, d = 64, fp16 is 1 MiB, so only the first read of K and V
    # reaches DRAM; at N = 2^20 (256 MiB of K/V per head) most re-reads do.
    N, d = 4096, 64
    r = one(heads=1, head_dim=d, seq=N, causal=False, kernel="flash", phase="prefill", dtype="fp16")
    assert r["bytes_attn"] == 2 * (2 * N * d + 2 * N * d) + 4 * N
    N = 2**20
    big = one(heads=1, head_dim=d, seq=N, causal=False, kernel="flash", phase="prefill", dtype="fp16")
    once, rereads = 2 * (2 * N * d + 2 * N * d) + 4 * N, 2 * (2 * N * d + 2 * d * N * N / 64) + 4 * N
    assert once < big["bytes_attn"] < rereads and big["bytes_attn"] > 0.8 * rereads


def test_tiled_bytes_far_below_materialised_at_long_sequence():
    kw = dict(heads=32, head_dim=128, seq=16384, phase="prefill")
    naive, flash = one(kernel="naive", **kw), one(kernel="flash", **kw)
    assert flash["bytes_attn"] < naive["bytes_attn"] / 4
    assert flash["peak_memory_bytes"] < naive["peak_memory_bytes"]


def test_projection_flops_with_gqa_shapes():
    # Q: D x H d, K and V: D x Hkv d each, O: H d x D; 2 FLOP per multiply-add, per token
    D, H, kv, d, N = 4096, 32, 8, 128, 100
    r = one(heads=H, kv_heads=kv, head_dim=d, hidden=D, seq=N, phase="prefill")
    assert r["flops_qkv_proj"] == 2 * N * D * (H + 2 * kv) * d
    assert r["flops_o_proj"] == 2 * N * H * d * D


def test_decode_without_split_kv_is_parallelism_bound_on_a_big_gpu():
    # batch 1, 8 KV heads: 8 tiles for 132 SMs; flash-decoding splits the cache to fill them
    kw = dict(heads=32, kv_heads=8, head_dim=128, layers=32, seq=32768, phase="decode")
    flash, fd = one(kernel="flash", **kw), one(kernel="flash-decoding", **kw)
    assert flash["bound_attn"] == "parallelism"
    assert fd["bound_attn"] == "memory"
    assert fd["latency_attn_s"] < flash["latency_attn_s"] / 4
    # with 64 sequences in the batch there are enough tiles either way
    big = one(kernel="flash", batch=64, **kw)
    assert big["bound_attn"] != "parallelism"


def test_sliding_window_keeps_a_rolling_kv_cache():
    r = one(heads=8, head_dim=64, layers=2, seq=10000, pattern="local:1000", phase="decode", dtype="fp16")
    assert r["kv_cache_bytes"] == 2 * 2 * 8 * 64 * (1000 + 1) * 2


def test_pruning_shrinks_layers_geometrically():
    # keep 0.5 after every layer: layers see 1024, 512, 256, 128 tokens
    kw = dict(heads=8, head_dim=64, layers=4, seq=1024, phase="prefill", causal=False, kernel="flash")
    pruned = one(prune=(0.5,), **kw)
    per_layer = [one(**{**kw, "layers": 1, "seq": n}) for n in (1024, 512, 256, 128)]
    assert pruned["flops_attn_matmul"] == sum(r["flops_attn_matmul"] for r in per_layer)
    assert pruned["kv_cache_bytes"] == sum(r["kv_cache_bytes"] for r in per_layer)
    assert pruned["latency_s"] == pytest.approx(sum(r["latency_s"] for r in per_layer), rel=1e-12)


def test_energy_is_power_times_time_and_power_modes_apply():
    full = predict(Workload(seq=2048), "jetson-agx-orin", calibrated=False).iloc[0]
    hw = load_hardware("jetson-agx-orin", calibrated=False, power_mode="15w")
    low = predict(Workload(seq=2048), hw).iloc[0]
    assert full["energy_j"] == pytest.approx(full["latency_s"] * 60.0)
    assert low["energy_j"] == pytest.approx(low["latency_s"] * 15.0)


def test_fits_in_memory_flag():
    small = one(hw="jetson-orin-nano", heads=32, head_dim=128, layers=32, seq=4096, kernel="flash")
    huge = one(hw="jetson-orin-nano", heads=32, head_dim=128, layers=32, seq=65536, batch=8, kernel="naive")
    assert small["fits_in_memory"] and not huge["fits_in_memory"]
