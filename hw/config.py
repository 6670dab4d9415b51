"""Accelerator configuration and the fixed-point formats shared by the RTL and the golden model.

The same numbers appear in rtl/bsa_pkg.sv (fixed formats) and as top-level parameters of
rtl/bsa_top.sv (per-configuration); tests/rtl checks that they agree.

Fixed-point formats (all integers, two's complement unless marked unsigned):
  Q, K, V            int8
  S = Q.K            SW = 17 + clog2(D) bits
  x (log2 logit)     XW = 20 bits, LF = 6 fraction bits: x = sat_XW((S * M + 2^(SH-1)) >> SH),
                     M = scale * log2(e) * 2^(LF+SH) (16-bit unsigned), SH in 0..31
  m (row max)        integer part, m = ceil(max x / 2^LF)   (15 bits)
  p = exp2(x - m)    unsigned 9 bits, PF = 8 fraction bits: (LUT[f] + 2^(n-1)) >> n (rounded), n = integer
                     part of m - x, LUT[f] = round(2^(f/64) * 2^8), f = fraction bits of x - m
  l (row sum)        unsigned LW = PF + 1 + clog2(B * MaxBlocks) bits
  acc (O numerator)  AW = PF + 8 + clog2(B * MaxBlocks) + 1 bits
  recip              floor(2^RS / l), RS = LW + 12 (one divide per row)
  out                int8 = sat8((acc * recip + 2^(RS-1)) >> RS)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

LF = 6  # fraction bits of the base-2 logit x (and LUT index bits)
PF = 8  # fraction bits of p = exp2(.)
XW = 20  # width of x
SCALE_W = 16  # width of the scale multiplier M
SHIFT_W = 5  # width of the scale shift SH
LIST_W = 16  # width of one beat on the list stream
CNT_W = 32  # width of each performance counter
DELTA_MAX = 63  # rescale shifts are clamped to this

COUNTERS = (
    "total_cycles",
    "busy_cycles",
    "stall_cycles",
    "blocks_visited",
    "blocks_skipped",
    "macs",
    "exps",
    "rescales",
    "divides",
    "sram_rd_bytes",
    "sram_wr_bytes",
    "stream_in_bytes",
    "stream_out_bytes",
)
ERRORS = ("err_index", "err_count", "err_early", "err_late", "err_cmd")


def clog2(x: int) -> int:
    return max(0, math.ceil(math.log2(x))) if x > 1 else 0


@dataclass(frozen=True)
class AccelConfig:
    """One parameter set of the core. block = B (rows per query block = keys per key block),
    head_dim = D, macs = P (MACs per cycle; P divides B and D), kv_slots = K/V block buffers,
    max_blocks = largest number of query or key blocks in a job."""

    block: int
    head_dim: int
    macs: int
    kv_slots: int = 2
    max_blocks: int = 16
    name: str = ""
    sw: int = field(init=False)
    lw: int = field(init=False)
    aw: int = field(init=False)
    rs: int = field(init=False)

    def __post_init__(self):
        b, d, p = self.block, self.head_dim, self.macs

        def pow2(x):
            return x >= 1 and x & (x - 1) == 0

        if not (pow2(b) and pow2(d) and pow2(p) and b >= 2 and d >= 2) or b % p or d % p:
            raise ValueError(f"bad config B={b} D={d} P={p}: powers of two, P must divide B and D")
        if not pow2(self.kv_slots) or self.kv_slots < 2 or self.max_blocks < 1:
            raise ValueError("kv_slots must be a power of two >= 2 and max_blocks >= 1")
        keys = clog2(b * self.max_blocks)
        object.__setattr__(self, "sw", 17 + clog2(d))
        object.__setattr__(self, "lw", PF + 1 + keys)
        object.__setattr__(self, "aw", PF + 8 + keys + 1)
        object.__setattr__(self, "rs", PF + 1 + keys + 12)

    @property
    def label(self) -> str:
        return self.name or f"b{self.block}_d{self.head_dim}_p{self.macs}"

    def rtl_parameters(self) -> dict[str, int]:
        return {
            "Block": self.block,
            "HeadDim": self.head_dim,
            "Macs": self.macs,
            "KvSlots": self.kv_slots,
            "MaxBlocks": self.max_blocks,
        }

    @classmethod
    def from_rtl_parameters(cls, params: dict, name: str = "") -> AccelConfig:
        """Inverse of rtl_parameters()."""
        return cls(
            params["Block"], params["HeadDim"], params["Macs"], params["KvSlots"], params["MaxBlocks"], name
        )

    @classmethod
    def from_name(cls, name: str) -> AccelConfig:
        try:
            return PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown accelerator config {name!r}; known: {', '.join(PRESETS)}") from None


PRESETS = {
    "tiny": AccelConfig(block=4, head_dim=8, macs=2, kv_slots=2, max_blocks=32, name="tiny"),
    "mid": AccelConfig(block=8, head_dim=16, macs=4, kv_slots=2, max_blocks=64, name="mid"),
    "d64": AccelConfig(block=8, head_dim=64, macs=8, kv_slots=2, max_blocks=32, name="d64"),
}
# Corner parameter sets the RTL tests also build: P = B = D (one chunk per row, the score drain
# back to back) with four K/V slots; and one multiplier (P = 1) with the smallest block.
CORNERS = {
    "square": AccelConfig(block=4, head_dim=4, macs=4, kv_slots=4, max_blocks=8, name="square"),
    "serial": AccelConfig(block=2, head_dim=4, macs=1, kv_slots=2, max_blocks=8, name="serial"),
}


def find_preset(block: int, head_dim: int) -> AccelConfig:
    """The preset with this block size and head dim (ValueError if none)."""
    for cfg in PRESETS.values():
        if cfg.block == block and cfg.head_dim == head_dim:
            return cfg
    known = ", ".join(f"--block {c.block} --head-dim {c.head_dim}" for c in PRESETS.values())
    raise ValueError(f"no preset with block {block} and head dim {head_dim} (presets: {known})")


MAX_MACS = 8  # MACs per cycle of an on-demand configuration (the presets' largest)


def config_for(block: int, head_dim: int, n_blocks: int, macs: int | None = None) -> AccelConfig:
    """The configuration a job of n_blocks query/key blocks runs on: a preset when one fits, else a
    new parameter set (built on first use and cached by its label): P = min(B, D, 8) MACs per cycle,
    room for the next power of two >= max(16, n_blocks) blocks. ValueError for impossible shapes."""
    try:
        preset = find_preset(block, head_dim)
        if n_blocks <= preset.max_blocks and macs in (None, preset.macs):
            return preset
    except ValueError:
        pass
    p = macs or min(block, head_dim, MAX_MACS)
    m = 1 << max(4, (max(n_blocks, 1) - 1).bit_length())
    cfg = AccelConfig(block=block, head_dim=head_dim, macs=p, kv_slots=2, max_blocks=m)
    return AccelConfig(block=block, head_dim=head_dim, macs=p, kv_slots=2, max_blocks=m, name=f"{cfg.label}_m{m}")
