"""Bit-exact numpy model of the bsa core (rtl/bsa_top.sv) and a float reference.

run_job() reproduces the RTL's outputs bit for bit and its event counters exactly (all but the
timing counters total/stall, which hw/cycles.py predicts). Formats: see hw/config.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hw.config import COUNTERS, DELTA_MAX, LF, PF, SCALE_W, SHIFT_W, XW, AccelConfig

# The counters the golden model accumulates per event (timing ones come from the cycle model; the
# output bytes are set at the end).
EVENT_COUNTERS = tuple(c for c in COUNTERS if c not in ("total_cycles", "stall_cycles", "stream_out_bytes"))

LUT = np.array([round(2.0 ** (f / 2**LF) * 2**PF) for f in range(2**LF)], dtype=np.int64)  # (64,)


def scale_params(scale: float) -> tuple[int, int]:
    """(M, SH) with M / 2^SH ~= scale * log2(e) * 2^LF, M < 2^16, SH as large as possible."""
    target = scale * math.log2(math.e) * 2**LF
    if not target > 0:
        raise ValueError("scale must be positive")
    for sh in range(2**SHIFT_W - 1, -1, -1):
        m = round(target * 2**sh)
        if 0 < m < 2**SCALE_W:
            return m, sh
    raise ValueError(f"scale {scale} out of range for the fixed-point multiplier")


def logits(s: np.ndarray, m: int, sh: int) -> np.ndarray:
    """x = sat_XW((S * M + 2^(SH-1)) >> SH): base-2 logits with LF fraction bits."""
    x = (s.astype(np.int64) * m + ((1 << sh) >> 1)) >> sh
    return np.clip(x, -(2 ** (XW - 1)), 2 ** (XW - 1) - 1)


def exp2_fixed(y: np.ndarray) -> np.ndarray:
    """p = 2^(y / 2^LF) * 2^PF for y <= 0, by LUT on the fraction and a rounding right shift by the
    integer part (rounding, not truncation: many small weights must not lose their mass)."""
    n = -(y >> LF)
    f = y & (2**LF - 1)
    nn = np.minimum(n, PF + 2)
    return np.where(n >= PF + 2, 0, (LUT[f] + ((1 << nn) >> 1)) >> nn)


@dataclass
class JobResult:
    out: np.ndarray  # (nq * B, D) int8
    empty: np.ndarray  # (nq * B,) bool: row visited no key block, output is zeros
    counters: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)


def parse_rows(rows: list[list[int]], nk: int) -> tuple[list[list[int]], dict]:
    """Per query block, the key blocks the core really visits, and the error flags it raises.
    A list longer than nk discards the whole row (err_count); an index >= nk is skipped (err_index)."""
    err = {"err_index": False, "err_count": False}
    kept = []
    for row in rows:
        if len(row) > nk:
            err["err_count"] = True
            kept.append([])
            continue
        bad = [i for i in row if not 0 <= i < nk]
        err["err_index"] |= bool(bad)
        kept.append([i for i in row if 0 <= i < nk])
    return kept, err


def run_job(cfg: AccelConfig, q, k, v, rows, m: int, sh: int, nk: int | None = None) -> JobResult:
    """q: (nq*B, D) int8, k, v: (nk*B, D) int8, rows: nq lists of key-block indices.
    Returns the int8 output rows, the empty flags and the event counters of the RTL."""
    b, d, p_ = cfg.block, cfg.head_dim, cfg.macs
    nq = len(rows)
    nk = k.shape[0] // b if nk is None else nk
    q = np.asarray(q, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    kept, err = parse_rows(rows, nk)
    out = np.zeros((nq * b, d), dtype=np.int8)
    empty = np.ones(nq * b, dtype=bool)
    c = dict.fromkeys(EVENT_COUNTERS, 0)
    s_cycles = b * (b // p_) * d  # S = Q K^T phase, per key block
    pv_cycles = b * b * (d // p_)  # O += P V phase, per key block
    for qb, blocks in enumerate(kept):
        c["stream_in_bytes"] += 2 * (1 + len(rows[qb]))  # list beats
        c["blocks_visited"] += len(blocks)
        c["blocks_skipped"] += nk - len(blocks)
        if not blocks:
            continue
        qblk = q[qb * b : (qb + 1) * b]  # (B, D)
        c["sram_wr_bytes"] += b * d
        valid = np.zeros(b, dtype=bool)
        mrow = np.zeros(b, dtype=np.int64)
        acc = np.zeros((b, d), dtype=np.int64)
        lsum = np.zeros(b, dtype=np.int64)
        for kb in blocks:
            kblk, vblk = k[kb * b : (kb + 1) * b], v[kb * b : (kb + 1) * b]  # (B, D)
            x = logits(qblk @ kblk.T, m, sh)  # (B, B)
            mcand = (x.max(axis=1) + 2**LF - 1) >> LF
            mnew = np.where(valid, np.maximum(mrow, mcand), mcand)
            delta = np.minimum(np.where(valid, mnew - mrow, 0), DELTA_MAX)
            c["rescales"] += int(np.count_nonzero(valid & (delta > 0)))
            pm = exp2_fixed(x - (mnew[:, None] << LF))  # (B, B) unsigned, <= 2^PF
            acc = np.where(valid[:, None], acc >> delta[:, None], 0) + pm @ vblk
            lsum = np.where(valid, lsum >> delta, 0) + pm.sum(axis=1)
            mrow, valid = mnew, np.ones(b, dtype=bool)
            c["busy_cycles"] += s_cycles + pv_cycles
            c["macs"] += 2 * b * b * d
            c["exps"] += b * b
            c["sram_rd_bytes"] += s_cycles * (1 + p_) + pv_cycles * p_
            c["sram_wr_bytes"] += 2 * b * d
        recip = (1 << cfg.rs) // lsum  # (B,) one divide per row
        o = (acc * recip[:, None] + (1 << (cfg.rs - 1))) >> cfg.rs
        out[qb * b : (qb + 1) * b] = np.clip(o, -128, 127)
        empty[qb * b : (qb + 1) * b] = False
        c["divides"] += b
    c["stream_in_bytes"] += c["sram_wr_bytes"]
    c["stream_out_bytes"] = nq * b * d
    err.update(err_early=False, err_late=False, err_cmd=False)
    return JobResult(out, empty, c, err)


# ---------------------------------------------------------------- float reference and errors


def quantise(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Symmetric per-tensor INT8: x ~= xi * scale."""
    amax = float(np.max(np.abs(x))) or 1.0
    scale = amax / 127.0
    return np.clip(np.round(x / scale), -128, 127).astype(np.int8), scale


def block_mask(rows: list[list[int]], nk: int) -> np.ndarray:
    """(nq, nk) bool: key block kb is visited by query block qb."""
    mask = np.zeros((len(rows), nk), dtype=bool)
    for qb, row in enumerate(rows):
        mask[qb, [i for i in row if 0 <= i < nk]] = True
    return mask


def attention_fp32(q, k, v, mask: np.ndarray, b: int) -> np.ndarray:
    """Block-sparse softmax(Q K^T / sqrt(d)) V in fp32; q (Nq, D), k, v (Nk, D); rows of a query
    block that visits no key block are zeros (as in the RTL)."""
    q, k, v = (np.asarray(a, dtype=np.float32) for a in (q, k, v))
    s = (q @ k.T) / np.float32(math.sqrt(q.shape[1]))  # (Nq, Nk)
    full = np.repeat(np.repeat(mask, b, axis=0), b, axis=1)
    s = np.where(full, s, -np.inf)
    rowmax = np.max(s, axis=1, keepdims=True)
    e = np.where(full, np.exp(s - np.where(np.isfinite(rowmax), rowmax, 0)), 0).astype(np.float32)
    den = e.sum(axis=1, keepdims=True)
    return np.where(den > 0, (e @ v) / np.where(den > 0, den, 1), 0).astype(np.float32)


def quantised_job(qf, kf, vf):
    """Quantise float Q, K, V and return (qi, ki, vi, M, SH, v_scale)."""
    qi, sq = quantise(qf)
    ki, sk = quantise(kf)
    vi, sv = quantise(vf)
    m, sh = scale_params(sq * sk / math.sqrt(qf.shape[1]))
    return qi, ki, vi, m, sh, sv


def error_vs_fp32(out_int8: np.ndarray, v_scale: float, ref: np.ndarray, vf: np.ndarray) -> dict:
    """Errors of the dequantised accelerator output against the fp32 reference, relative to max|V|."""
    got = out_int8.astype(np.float32) * v_scale
    vmax = float(np.max(np.abs(vf))) or 1.0
    diff = np.abs(got - ref)
    return {
        "max_abs_err_rel": float(diff.max() / vmax),
        "rms_err_rel": float(np.sqrt(np.mean(diff**2)) / vmax),
    }


def random_inputs(rng: np.random.Generator, n_q: int, n_k: int, d: int, kind: str = "gaussian"):
    """Float Q, K, V: 'uniform', 'gaussian', or 'outliers' (Gaussian with 1% of entries x20 and two
    hot channels, as LLM activations have)."""
    if kind == "uniform":
        return (rng.uniform(-1, 1, (n, d)).astype(np.float32) for n in (n_q, n_k, n_k))
    arrs = [rng.standard_normal((n, d)).astype(np.float32) for n in (n_q, n_k, n_k)]
    if kind == "outliers":
        for a in arrs:
            a[rng.random(a.shape) < 0.01] *= 20.0
            a[:, :2] *= 4.0
    return tuple(arrs)
