"""Random jobs for the RTL test benches and the CLI: masks at a density, inputs of several kinds."""

from __future__ import annotations

import numpy as np

from hw import golden
from hw.config import AccelConfig


def random_mask(
    rng: np.random.Generator, nq: int, nk: int, density: float, shuffle: bool = True
) -> list[list[int]]:
    """Per query block, the visited key blocks: round(density * nq * nk) blocks in all, spread at
    random over the (nq, nk) grid; each row's list in random order when shuffle."""
    total = nq * nk
    chosen = rng.permutation(total)[: int(round(density * total))]
    mask = np.zeros(total, dtype=bool)
    mask[chosen] = True
    mask = mask.reshape(nq, nk)
    rows = []
    for qb in range(nq):
        idx = np.flatnonzero(mask[qb])
        if shuffle:
            idx = rng.permutation(idx)
        rows.append([int(i) for i in idx])
    return rows


def make_inputs(rng: np.random.Generator, cfg: AccelConfig, nq: int, nk: int, kind: str = "gaussian"):
    """(qi, ki, vi, M, SH, v_scale, (qf, kf, vf)) for a float input kind or the extremes
    'min' (all -128) / 'max' (all 127) / 'int' (uniform random INT8 with a random scale)."""
    b, d = cfg.block, cfg.head_dim
    if kind in ("min", "max", "int"):
        shape_q, shape_k = (nq * b, d), (nk * b, d)
        if kind == "int":
            qi, ki, vi = (
                rng.integers(-128, 128, s, dtype=np.int64).astype(np.int8)
                for s in (shape_q, shape_k, shape_k)
            )
        else:
            val = -128 if kind == "min" else 127
            qi, ki, vi = (np.full(s, val, np.int8) for s in (shape_q, shape_k, shape_k))
        m = int(rng.integers(1, 2**16))
        sh = int(rng.integers(0, 32))
        return qi, ki, vi, m, sh, 1.0, None
    qf, kf, vf = golden.random_inputs(rng, nq * b, nk * b, d, kind)
    qi, ki, vi, m, sh, sv = golden.quantised_job(qf, kf, vf)
    return qi, ki, vi, m, sh, sv, (qf, kf, vf)
