"""Workloads: what is computed (shape, variant, pattern, kernel, phase, dtype), as one record or a table.

A `Workload` is one point; `to_table` turns a list of them or a pandas DataFrame of their fields into
columns of numpy arrays (the form the vectorised cost model works on), validating every row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from perfmodel.errors import UserError
from perfmodel.models import MLPS, NORMS, ModelShape, check_shape
from perfmodel.patterns import Pattern, parse_pattern

KERNELS = ("naive", "flash", "flash-decoding")
PHASES = ("prefill", "decode", "train")
SCOPES = ("attention", "layer", "model")
DTYPE_BYTES = {"fp32": 4.0, "tf32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
ACT_DTYPES = ("fp32", "fp16", "bf16", "fp8", "int8")
WEIGHT_DTYPES = ("fp32", "fp16", "bf16", "fp8", "int8", "int4")
QUANT_GROUP = 128  # int8/int4 weights: one fp16 scale per group of 128 weights along the input dimension
QUANT_SCALE_BYTES = 2.0


def weight_elt_bytes(dtype: str) -> float:
    """Bytes per weight on average: int8/int4 carry an fp16 scale per group of QUANT_GROUP weights
    (the GPTQ/AWQ/llama.cpp-style grouping, e.g. int4: 0.5 + 2/128 = 0.515625 byte); floats carry none."""
    scale = QUANT_SCALE_BYTES / QUANT_GROUP if dtype in ("int8", "int4") else 0.0
    return DTYPE_BYTES[dtype] + scale


@dataclass(frozen=True)
class Workload:
    """One attention workload. Counts are plain integers; seq is tokens (the KV cache length in decode)."""

    heads: int = 32
    kv_heads: int | None = None  # None: = heads (MHA)
    head_dim: int = 128
    hidden: int | None = None  # None: = heads * head_dim
    layers: int = 1
    batch: int = 1
    seq: int = 2048
    pattern: str = "dense"
    kernel: str = "flash"
    phase: str = "prefill"
    dtype: str = "fp16"
    causal: bool = True
    prune: tuple = ()  # keep ratio per layer (one value: every layer); () = no pruning
    norm: str = "rmsnorm"
    scope: str = "attention"
    model: str = "custom"
    ffn: int | None = None  # MLP width (layer / model scope)
    vocab: int | None = None
    mlp: str = "swiglu"
    tied_embeddings: bool = False
    weights: str | None = None  # weight dtype (None: = dtype); int4 allowed
    kv_dtype: str | None = None  # KV cache dtype (None: = dtype)

    def __post_init__(self):
        kv = self.heads if self.kv_heads is None else self.kv_heads
        object.__setattr__(self, "kv_heads", kv)
        if self.hidden is None and isinstance(self.heads, int) and isinstance(self.head_dim, int):
            object.__setattr__(self, "hidden", self.heads * self.head_dim)
        if isinstance(self.prune, (int, float)):
            object.__setattr__(self, "prune", (float(self.prune),))
        object.__setattr__(self, "prune", tuple(float(p) for p in self.prune))
        validate_one(self)

    @classmethod
    def from_model(cls, shape: ModelShape, **overrides) -> Workload:
        base = dict(heads=shape.heads, kv_heads=shape.kv_heads, head_dim=shape.head_dim, hidden=shape.hidden,
                    layers=shape.layers, norm=shape.norm, model=shape.id, ffn=shape.ffn, vocab=shape.vocab,
                    mlp=shape.mlp, tied_embeddings=shape.tied_embeddings)
        base.update(overrides)
        return cls(**base)

    @property
    def variant(self) -> str:
        return variant_label(self.heads, self.kv_heads)

    def as_dict(self) -> dict:
        return asdict(self)


FIELDS = tuple(f.name for f in fields(Workload))


def variant_label(heads, kv_heads) -> str:
    if kv_heads == heads:
        return "mha"
    if kv_heads == 1:
        return "mqa"
    return f"gqa:{kv_heads}"


def _posint(value, name: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UserError(f"{where}: {name} must be a positive integer, got {value!r}")


def validate_one(w: Workload) -> None:
    where = "workload"
    check_shape(w.heads, w.kv_heads, w.head_dim, where)
    for name in ("hidden", "layers", "batch", "seq"):
        _posint(getattr(w, name), name, where)
    _choice(w.kernel, KERNELS, "kernel")
    _choice(w.phase, PHASES, "phase")
    _choice(w.scope, SCOPES, "scope")
    _choice(w.dtype, ACT_DTYPES, "dtype")
    _choice(w.norm, NORMS, "norm")
    _choice(w.mlp, MLPS, "mlp")
    for name in ("weights", "kv_dtype"):
        if getattr(w, name) is not None:
            _choice(getattr(w, name), tuple(DTYPE_BYTES), name)
    check_kernel_phase(w.kernel, w.phase)
    check_prune(w.prune, w.layers)
    pat = parse_pattern(w.pattern)
    check_pattern_fits(pat, w.seq)


def _choice(value, allowed, name):
    if value not in allowed:
        raise UserError(f"unknown {name} '{value}' (expected one of: {', '.join(allowed)})")


def check_kernel_phase(kernel: str, phase: str) -> None:
    if kernel == "flash-decoding" and phase != "decode":
        raise UserError(f"kernel 'flash-decoding' is a decode kernel (split-KV); for phase '{phase}' use flash")


def check_prune(prune: tuple, layers: int) -> None:
    if len(prune) > max(layers, 1) and len(prune) != 1:
        raise UserError(f"--prune has {len(prune)} keep ratios but the model has {layers} layers")
    for keep in prune:
        if not 0.0 < keep <= 1.0 or not np.isfinite(keep):
            raise UserError(f"keep ratio {keep} out of range: must be in (0, 1]")


def check_pattern_fits(pat: Pattern, seq: int) -> None:
    if pat.kind == "block" and pat.mask_file:
        nb = pat.load_mask().shape[0]
        need = -(-seq // pat.block)
        if nb != need:
            raise UserError(f"block mask '{pat.mask_file}' has {nb} block rows but seq {seq} / block {pat.block} "
                            f"needs {need}")


def layer_seqs(seq: int, prune: tuple, layers: int) -> np.ndarray:
    """Tokens each layer processes: layer 0 sees seq; each layer keeps its ratio of what reached it.

    One keep ratio applies after every layer; a list gives one per layer (missing ones = 1).
    """
    if not prune:
        return np.full(layers, float(seq))
    keeps = np.ones(layers)
    if len(prune) == 1:
        keeps[:] = prune[0]
    else:
        keeps[: len(prune)] = prune
    # the ratio of layer l shrinks what enters layer l + 1
    frac = np.concatenate([[1.0], np.cumprod(keeps[:-1])])
    return np.maximum(1.0, np.floor(seq * frac + 1e-9))
