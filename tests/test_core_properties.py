"""Invariants of the cost model over random workloads (hypothesis)."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from perfmodel.hardware import load_hardware
from perfmodel.predict import evaluate, to_table

HWS = {h: load_hardware(h, calibrated=False) for h in ("h100-sxm", "jetson-agx-orin", "rpi5", "l4")}


def run(rows, hw="h100-sxm"):
    for r in rows:  # a dtype the device lacks (bf16 on a Raspberry Pi) is tested in fp32 there
        if r.get("dtype", "fp16") not in HWS[hw].peak_flops:
            r["dtype"] = "fp32"
    cols = {}
    for k in rows[0]:
        arr = np.empty(len(rows), dtype=object)
        arr[:] = [r[k] for r in rows]
        cols[k] = arr
    return evaluate(to_table(cols), HWS[hw])


@st.composite
def workloads(draw):
    kv = draw(st.sampled_from([1, 2, 4, 8]))
    heads = kv * draw(st.sampled_from([1, 2, 4, 8]))
    phase = draw(st.sampled_from(["prefill", "decode", "train"]))
    kernels = ["naive", "flash"] + (["flash-decoding"] if phase == "decode" else [])
    return dict(
        heads=heads, kv_heads=kv, head_dim=draw(st.sampled_from([32, 64, 80, 128, 256])),
        layers=draw(st.integers(1, 4)), batch=draw(st.integers(1, 8)), seq=draw(st.integers(1, 20000)),
        pattern=draw(st.sampled_from(["dense", "local:256", "strided:4", "hybrid:128,8", "block:64,0.3"])),
        kernel=draw(st.sampled_from(kernels)), phase=phase, dtype=draw(st.sampled_from(["fp32", "fp16", "bf16", "int8"])),
        causal=draw(st.booleans()), norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
    )


hw_st = st.sampled_from(sorted(HWS))
SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(workloads(), hw_st)
def test_mqa_le_gqa_le_mha_in_kv_bytes(w, hw):
    heads = w["heads"] * w["kv_heads"]  # make room for three distinct variants
    rows = [{**w, "heads": heads, "kv_heads": kv} for kv in (1, w["kv_heads"], heads)]
    r = run(rows, hw)
    assert r["kv_cache_bytes"][0] <= r["kv_cache_bytes"][1] <= r["kv_cache_bytes"][2]
    if w["phase"] == "decode" and w["kernel"] != "flash-decoding":  # (split-KV adds per-split partials)
        assert r["bytes_attn"][0] <= r["bytes_attn"][1] <= r["bytes_attn"][2]


@SETTINGS
@given(workloads(), hw_st)
def test_tiled_moves_no_more_than_materialised(w, hw):
    if w["kernel"] == "flash-decoding":
        w["kernel"] = "flash"
    # FlashAttention's IO advantage (Theorem 2: N^2 d^2 / M vs N^2) needs on-chip memory M >= 4 d^2
    # elements (then Br = Bc = d); with d = 256 in fp32 on 228 KiB it re-reads K/V more than naive moves S.
    run([w], hw)  # normalises the dtype for this device
    m = HWS[hw].sram_per_core / {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}[w["dtype"]]
    assume(w["phase"] == "decode" or m >= 4 * w["head_dim"] ** 2)
    r = run([{**w, "kernel": "naive"}, {**w, "kernel": "flash"}], hw)
    assert r["bytes_attn"][1] <= r["bytes_attn"][0]
    if w["seq"] >= 16:  # (below that an fp32 log-sum-exp per row can outweigh a tiny int8 score matrix)
        assert r["peak_memory_bytes"][1] <= r["peak_memory_bytes"][0]


@SETTINGS
@given(workloads(), hw_st)
def test_density_one_equals_dense(w, hw):
    r = run([{**w, "pattern": "dense"}, {**w, "pattern": "block:64,1"}], hw)
    for key in ("flops_attn_matmul", "kv_cache_bytes"):
        assert r[key][0] == r[key][1]
    if w["kernel"] == "naive":  # materialised attention ignores the pattern: every output equal
        for key in ("latency_s", "bytes", "flops", "peak_memory_bytes"):
            assert r[key][0] == r[key][1]


@SETTINGS
@given(workloads(), hw_st, st.integers(0, 5000))
def test_window_at_least_seq_equals_dense(w, hw, extra):
    r = run([{**w, "pattern": "dense"}, {**w, "pattern": f"local:{w['seq'] + extra}"}], hw)
    for key in ("latency_s", "flops", "bytes", "kv_cache_bytes", "peak_memory_bytes", "flops_attn_matmul"):
        assert np.isclose(r[key][0], r[key][1], rtol=1e-12), key


@SETTINGS
@given(workloads(), hw_st)
def test_keep_ratio_one_equals_no_pruning(w, hw):
    r = run([{**w, "prune": ()}, {**w, "prune": (1.0,)}, {**w, "prune": tuple([1.0] * w["layers"])}], hw)
    for key in ("latency_s", "flops", "bytes", "kv_cache_bytes", "peak_memory_bytes"):
        assert r[key][0] == r[key][1] == r[key][2], key


@SETTINGS
@given(workloads(), hw_st)
def test_latency_at_least_both_roofline_bounds(w, hw):
    h = HWS[hw]
    r = run([w], hw)
    peak = h.peak(w["dtype"]) * h.eff_matmul
    assert r["latency_s"][0] >= r["bytes"][0] / (h.mem_bw * h.eff_memory) * (1 - 1e-12)
    assert r["latency_s"][0] >= r["exec_flops_attn_matmul"][0] / peak * (1 - 1e-12)
    assert r["latency_s"][0] >= (r["flops_qkv_proj"][0] + r["flops_o_proj"][0]) / peak * (1 - 1e-12)


@SETTINGS
@given(workloads(), hw_st, st.integers(1, 5000))
def test_monotone_in_sequence(w, hw, more):
    r = run([w, {**w, "seq": w["seq"] + more}], hw)
    for key in ("latency_s", "flops", "bytes", "kv_cache_bytes", "peak_memory_bytes", "energy_j"):
        assert r[key][1] >= r[key][0] * (1 - 1e-12), key


@SETTINGS
@given(workloads(), hw_st, st.sampled_from([0.3, 0.5, 0.9]))
def test_pruning_never_costs_more(w, hw, keep):
    r = run([w, {**w, "prune": (keep,)}], hw)
    for key in ("flops", "bytes", "kv_cache_bytes"):
        assert r[key][1] <= r[key][0], key
