"""Attention sparsity patterns: parsing, exact masks, and vectorised counts of query-key pairs.

Definitions (query i, key j, 0-based; causal adds j <= i):
- dense:         every pair.
- local:W        causal: i - W < j <= i (W keys); non-causal: |i - j| < W.
- strided:S      (i - j) % S == 0 (every S-th token, Sparse-Transformer "strided" component).
- hybrid:W,G     local:W plus G global tokens (positions 0..G-1): every query attends to them and,
                 when not causal, they attend to every key (Longformer-style).
- block:B,DENS   the (causal) block grid of B x B blocks; a fraction DENS of the allowed blocks is kept
                 (diagonal blocks first, so causal rows are never empty while DENS > 0).
- block:B,FILE   an explicit block mask (0/1 matrix, CSV or .npy), one row per query block.

`useful_pairs` counts the pairs a pattern allows (closed forms, vectorised, tested against
`pair_mask`); `tiled_pairs` estimates the pairs a tiled kernel really computes when it works on
Br x Bc tiles (partial tiles on mask edges are computed whole); `block_visits` gives the concrete
list of key blocks each query block visits, the one source of truth for the reference kernels and
the accelerator's sparse-row lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from perfmodel.errors import UserError

DENSE, LOCAL, STRIDED, HYBRID, BLOCK = 0, 1, 2, 3, 4
KIND_CODES = {"dense": DENSE, "local": LOCAL, "strided": STRIDED, "hybrid": HYBRID, "block": BLOCK}


@dataclass(frozen=True)
class Pattern:
    """One sparsity pattern. Unused parameters are 0 (density 1.0)."""

    kind: str = "dense"
    window: int = 0
    stride: int = 0
    n_global: int = 0
    block: int = 0
    density: float = 1.0
    mask_file: str | None = None

    @property
    def code(self) -> int:
        return KIND_CODES[self.kind]

    @property
    def label(self) -> str:
        if self.kind == "local":
            return f"local:{self.window}"
        if self.kind == "strided":
            return f"strided:{self.stride}"
        if self.kind == "hybrid":
            return f"hybrid:{self.window},{self.n_global}"
        if self.kind == "block":
            tail = os.path.basename(self.mask_file) if self.mask_file else f"{self.density:g}"
            return f"block:{self.block},{tail}"
        return "dense"

    def load_mask(self) -> np.ndarray:
        """The explicit block mask as a bool (nb, nb) array."""
        return _read_mask(self.mask_file)


def _int(text: str, what: str, spec: str, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"pattern '{spec}': {what} must be an integer, got '{text}'") from None
    if value < minimum:
        raise UserError(f"pattern '{spec}': {what} must be >= {minimum}, got {value}")
    return value


def parse_pattern(spec: str) -> Pattern:
    """Parse 'dense', 'local:W', 'strided:S', 'hybrid:W,G', 'block:B,DENSITY' or 'block:B,FILE'."""
    kind, _, args = spec.strip().partition(":")
    kind = kind.lower()
    parts = [a.strip() for a in args.split(",")] if args else []
    want = {"dense": 0, "local": 1, "strided": 1, "hybrid": 2, "block": 2}
    if kind not in want:
        raise UserError(f"unknown pattern '{spec}': expected dense, local:W, strided:S, hybrid:W,G or block:B,DENSITY")
    if len(parts) != want[kind]:
        forms = {"dense": "dense", "local": "local:W", "strided": "strided:S", "hybrid": "hybrid:W,G",
                 "block": "block:B,DENSITY or block:B,MASKFILE"}
        raise UserError(f"pattern '{spec}': expected the form {forms[kind]}")
    if kind == "local":
        return Pattern("local", window=_int(parts[0], "window W", spec))
    if kind == "strided":
        return Pattern("strided", stride=_int(parts[0], "stride S", spec))
    if kind == "hybrid":
        return Pattern("hybrid", window=_int(parts[0], "window W", spec),
                       n_global=_int(parts[1], "global tokens G", spec, minimum=0))
    if kind == "block":
        block = _int(parts[0], "block size B", spec)
        try:
            density = float(parts[1])
        except ValueError:
            _read_mask(parts[1])  # validate now: a missing or malformed file is the user's error
            return Pattern("block", block=block, mask_file=parts[1])
        if not 0.0 <= density <= 1.0 or not np.isfinite(density):
            raise UserError(f"pattern '{spec}': density must be in [0, 1], got {parts[1]}")
        return Pattern("block", block=block, density=density)
    return Pattern()


def _read_mask(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise UserError(f"block mask file '{path}' not found (expected a 0/1 CSV or .npy matrix)")
    try:
        if path.endswith(".npy"):
            mask = np.load(path, allow_pickle=False)
        else:
            mask = np.loadtxt(path, delimiter=",", ndmin=2)
    except (ValueError, OSError) as exc:
        raise UserError(f"block mask file '{path}': not a numeric matrix ({str(exc).splitlines()[0]})") from None
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1] or mask.size == 0:
        raise UserError(f"block mask file '{path}': expected a square matrix, got shape {mask.shape}")
    if not np.isin(mask, (0, 1)).all():
        raise UserError(f"block mask file '{path}': entries must be 0 or 1")
    return mask.astype(bool)


# ----------------------------------------------------------------------------------------------
# Exact masks (small n, for tests and kernels)


def pair_mask(pattern: Pattern, n: int, causal: bool, seed: int = 0) -> np.ndarray:
    """The exact (n, n) bool mask of allowed (query, key) pairs."""
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    if pattern.kind == "dense":
        m = np.ones((n, n), bool)
    elif pattern.kind == "local":
        m = (i - j < pattern.window) & (j - i < pattern.window)
    elif pattern.kind == "strided":
        m = (i - j) % pattern.stride == 0
    elif pattern.kind == "hybrid":
        g = pattern.n_global
        m = ((i - j < pattern.window) & (j - i < pattern.window)) | (j < g) | (i < g)
    else:
        b = pattern.block
        visits = block_visits(pattern, n, causal, b, seed)
        m = np.kron(visits, np.ones((b, b), bool))[:n, :n]
    if causal:
        m &= j <= i
    return m


def block_visits(pattern: Pattern, n: int, causal: bool, block: int, seed: int = 0) -> np.ndarray:
    """Bool (nb, nb): which key blocks each query block must visit (nb = ceil(n / block)).

    For sparse patterns this is the set of blocks holding at least one allowed pair; for block:B,DENS
    it is a concrete mask drawn with `seed` (diagonal block first in every causal row, then the
    nearest-lower blocks at random) so that a row r keeps round(DENS * allowed_r) blocks.
    """
    nb = -(-n // block)
    if pattern.kind == "block":
        if pattern.mask_file:
            mask = pattern.load_mask()
            if mask.shape[0] != nb:
                raise UserError(f"block mask file '{pattern.mask_file}' is {mask.shape[0]}x{mask.shape[1]} "
                                f"blocks but seq {n} / block {block} needs {nb}x{nb}")
            if causal:
                mask = np.tril(mask)
            return mask
        rng = np.random.default_rng(seed)
        visits = np.zeros((nb, nb), bool)
        for r in range(nb):
            allowed = np.arange(r + 1) if causal else np.arange(nb)
            k = int(round(pattern.density * len(allowed)))
            if pattern.density > 0:
                k = max(k, 1)  # a row with any density keeps at least its diagonal block
            if k == 0:
                continue
            others = allowed[allowed != r]
            chosen = [r] + list(rng.choice(others, size=k - 1, replace=False)) if k > 1 else [r]
            visits[r, chosen] = True
        return visits
    m = pair_mask(pattern, n, causal)
    pad = nb * block - n
    m = np.pad(m, ((0, pad), (0, pad)))
    return m.reshape(nb, block, nb, block).any(axis=(1, 3))


# ----------------------------------------------------------------------------------------------
# Vectorised counts. Every argument is an array (or scalar) broadcast together; results are float64
# counts of pairs per (batch element, head).


def _tri(x):
    """x (x + 1) / 2 for x >= 0, else 0."""
    x = np.maximum(x, 0.0)
    return x * (x + 1.0) / 2.0


def _local_causal_rows(n, w):
    """sum_{i<n} min(i + 1, w): pairs of a causal window w over the first n rows."""
    n = np.asarray(n, float)
    w = np.minimum(np.asarray(w, float), n)
    return _tri(w) + (n - w) * w


def _global_extra_causal(n, w, g):
    """sum_{i<n} max(0, min(g, i - w + 1)): global keys that fall outside row i's causal window."""
    m = np.maximum(np.asarray(n, float) - w, 0.0)
    g = np.asarray(g, float)
    return np.where(m <= g, _tri(m), _tri(g) + (m - g) * g)


def _select(code, branches: dict, default):
    """np.select over pattern codes, computing only the branches whose code occurs (lazily)."""
    present = [c for c in branches if (code == c).any()]
    if not present:
        return default()
    if len(present) == 1 and (code == present[0]).all():
        return branches[present[0]]()
    return np.select([code == c for c in present], [branches[c]() for c in present], default())


def useful_pairs(code, n, causal, window=0, stride=1, n_global=0, density=1.0):
    """Query-key pairs the pattern allows, per (batch element, head), for a prefill over n tokens."""
    code, n, causal = np.asarray(code), np.asarray(n, float), np.asarray(causal, bool)
    w = np.maximum(np.asarray(window, float), 1.0)
    s = np.maximum(np.asarray(stride, float), 1.0)

    def dense():
        return np.where(causal, _tri(n), n * n)

    def local():
        loc_c = _local_causal_rows(n, w)
        return np.where(causal, loc_c, 2.0 * loc_c - n)  # non-causal: both sides, diagonal once

    def strided():  # q = n // s full classes, r = n % s
        q = np.floor(n / s)
        r = n - q * s
        return np.where(causal, n + s * q * (q - 1.0) / 2.0 + r * q, r * (q + 1.0) ** 2 + (s - r) * q * q)

    def hybrid():
        g = np.minimum(np.asarray(n_global, float), n)
        hyb_c = _local_causal_rows(n, w) + _global_extra_causal(n, w, g)
        # non-causal: rows < g see all n; rows >= g see their local window and the global keys outside it
        rows_local = (_local_causal_rows(n, w) - _local_causal_rows(g, w)) + (_local_causal_rows(n - g, w) - (n - g))
        extra = _global_extra_causal(n, w, g) - _global_extra_causal(g, w, g)
        return np.where(causal, hyb_c, g * n + rows_local + extra)

    def block():
        return np.asarray(density, float) * dense()

    return _select(code, {LOCAL: local, STRIDED: strided, HYBRID: hybrid, BLOCK: block}, dense)


def decode_keys(code, n, window=0, stride=1, n_global=0, density=1.0):
    """Keys the newest query (position n - 1) attends to in a KV cache of n tokens."""
    code, n = np.asarray(code), np.asarray(n, float)
    w = np.minimum(np.maximum(np.asarray(window, float), 1.0), n)
    s = np.maximum(np.asarray(stride, float), 1.0)
    g = np.asarray(n_global, float)
    strided = np.floor((n - 1.0) / s) + 1.0
    hybrid = w + np.clip(np.minimum(g, n - w), 0.0, None)
    block = np.asarray(density, float) * n
    return np.select([code == LOCAL, code == STRIDED, code == HYBRID, code == BLOCK],
                     [w, strided, hybrid, block], n)


def tiled_pairs(code, n, causal, br, bc, window=0, stride=1, n_global=0, density=1.0, block=1, useful=None):
    """Pairs a tiled (FlashAttention-style) kernel computes with Br x Bc tiles: mask-edge tiles whole.

    dense causal: n^2/2 + n (Br + Bc) / 2 (a diagonal tile per query tile); local: the window span plus
    one query tile and one key tile of rounding; strided: the kernel gathers each residue class, so
    s dense sub-problems of n / s tokens; block: the kernel tile is the pattern block B.
    Never more than the full n x n (or the causal triangle in tiles) and never fewer than the useful pairs.
    """
    code, n, causal = np.asarray(code), np.asarray(n, float), np.asarray(causal, bool)
    br, bc = np.minimum(np.asarray(br, float), n), np.minimum(np.asarray(bc, float), n)
    if useful is None:
        useful = useful_pairs(code, n, causal, window, stride, n_global, density)
    dense_t = np.where(causal, np.minimum(n * n / 2.0 + n * (br + bc) / 2.0, n * n), n * n)
    w = np.asarray(window, float)

    def local_t():
        return n * np.where(causal, w + br + bc, 2.0 * w + br + bc)

    def strided_t():
        s = np.maximum(np.asarray(stride, float), 1.0)
        m = n / s
        brs, bcs = np.minimum(br, m), np.minimum(bc, m)
        return s * np.where(causal, np.minimum(m * m / 2.0 + m * (brs + bcs) / 2.0, m * m), m * m)

    def hybrid_t():
        g_keys = np.ceil(np.asarray(n_global, float) / bc) * bc
        g_rows = np.ceil(np.asarray(n_global, float) / br) * br
        return local_t() + n * g_keys + np.where(causal, 0.0, g_rows * n)

    def block_t():
        b = np.minimum(np.maximum(np.asarray(block, float), 1.0), n)
        nb = np.ceil(n / b)
        return np.asarray(density, float) * np.where(causal, nb * (nb + 1.0) / 2.0, nb * nb) * b * b

    tiled = _select(code, {LOCAL: local_t, STRIDED: strided_t, HYBRID: hybrid_t, BLOCK: block_t}, lambda: dense_t)
    return np.clip(tiled, useful, dense_t)
