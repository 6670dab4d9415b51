"""The uncalibrated model against published measurements (profiles/published/published-measurements.csv).

Each case names its source and its tolerance; the tolerances are the model's honest accuracy today,
so a change that makes the physics worse fails here. Uncalibrated: the assumed efficiencies only.
"""

import pytest

from perfmodel import Workload, load_model, predict


def attn_tflops(w, hw):
    r = predict(w, hw, calibrated=False).iloc[0]
    return r["flops_attn_matmul"] / r["latency_attn_s"] / 1e12


# FlashAttention-2 paper sec 4.1, A100 SXM4 80GB, fwd + bwd, causal, head_dim 64, hidden 2048,
# batch x seq = 16k tokens (TFLOP/s counted with the paper's convention, as flops_attn_matmul is).
@pytest.mark.parametrize("seq,measured,tol", [(2048, 140, 0.20), (4096, 156, 0.15), (8192, 165, 0.10),
                                              (16384, 171, 0.10)])
def test_flashattention2_a100_training_throughput(seq, measured, tol):
    w = Workload(heads=32, head_dim=64, seq=seq, batch=16384 // seq, phase="train", kernel="flash", dtype="fp16")
    assert attn_tflops(w, "a100-80gb") == pytest.approx(measured, rel=tol)


# Same source: PyTorch standard (materialised) attention reaches 15-18 TFLOP/s; the model is optimistic
# (it counts no dropout or separate mask kernels): within a factor 1.8, and far below FlashAttention.
@pytest.mark.parametrize("seq,measured", [(512, 15), (2048, 17), (8192, 18)])
def test_standard_attention_a100_training_throughput(seq, measured):
    w = Workload(heads=32, head_dim=64, seq=seq, batch=16384 // seq, phase="train", kernel="naive", dtype="fp16")
    got = attn_tflops(w, "a100-80gb")
    assert measured <= got <= 1.8 * measured


# FlashAttention-3 paper sec 4.1, H100 SXM5, forward fp16, seq 16384, hidden 2048 (figures read approximately).
@pytest.mark.parametrize("d,causal,measured", [(64, False, 497), (128, False, 649), (128, True, 616),
                                               (256, False, 756)])
def test_flashattention3_h100_forward_throughput(d, causal, measured):
    w = Workload(heads=2048 // d, head_dim=d, seq=16384, phase="prefill", kernel="flash", causal=causal, dtype="fp16")
    assert attn_tflops(w, "h100-sxm") == pytest.approx(measured, rel=0.20)


# Jetson AI Lab benchmarks, Jetson Orin Nano 8GB (original clocks), MLC INT4 weights, batch 1 decode.
@pytest.mark.parametrize("model,measured", [("llama-3.2-3b", 27.7), ("qwen2.5-7b", 14.2)])
def test_orin_nano_int4_decode_tokens_per_s(model, measured):
    w = Workload.from_model(load_model(model), scope="model", phase="decode", kernel="flash-decoding", seq=512,
                            weights="int4")
    got = 1.0 / predict(w, "jetson-orin-nano", calibrated=False).iloc[0]["latency_s"]  # batch 1: one token a step
    assert got == pytest.approx(measured, rel=0.15)
