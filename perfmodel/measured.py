"""Measured and published profiles: the tidy CSV schema and its validating loader.

One row per measurement (profiles/measured/*.csv, written by `perfmodel profile`) or per published
number (profiles/published/*.csv). Columns, in order (units in the names, SI):

  source              "measured" for rows the profiler wrote; else the citation (paper section, URL)
  device              perfmodel hardware id ("host", "a100-80gb", ...) or the device as published
  device_desc         human description (CPU model name from /proc/cpuinfo, CUDA device name)
  torch_version, numpy_version, python_version, date (ISO 8601 UTC), threads, cores
  dtype               fp32 | fp16 | bf16 (| int8 | fp8 for published rows)
  variant             mha | mqa | gqa:K  (from heads / kv_heads)
  pattern             dense | local:W | strided:S | hybrid:W,G | block:B,DENSITY
  kernel              naive | flash | flash-decoding
  phase               prefill | decode | train
  causal              True | False
  batch, heads, kv_heads, head_dim, seq      integers >= 1 (seq: KV cache length in decode)
  warmup, repeats     untimed calls before timing (the memory-measuring call included) / timed calls
  latency_median_s    median latency of one call
  latency_iqr_s       spread: 75th - 25th percentile of the repeats
  latency_min_s       fastest repeat
  peak_memory_bytes   peak bytes allocated during one untimed call (memory_method says how)
  memory_method       how peak memory was measured
  model_flops, model_bytes, model_exec_flops_attn_matmul, model_flops_attn_matmul, model_latency_s
                      what the cost model (perfmodel.predict on `device`) assigns to the same workload
  metric, value, unit the number as published (published rows: e.g. throughput 88 TFLOP/s); measured
                      rows: latency / median / s
  note                free text (derivations, caveats)

Measured rows must fill every column. Published rows need source, device, metric, value and unit;
every other field a paper does not give is empty. `load_profile(path)` checks columns, types and
ranges and raises UserError("<file>:<line>: <problem>") on the first bad line.
"""

from __future__ import annotations

import csv
import math
import os

from perfmodel.errors import UserError
from perfmodel.patterns import parse_pattern
from perfmodel.workload import variant_label

TEXT = (
    "source",
    "device",
    "device_desc",
    "torch_version",
    "numpy_version",
    "python_version",
    "date",
    "memory_method",
    "metric",
    "unit",
    "note",
)
CHOICES = {
    "dtype": ("fp32", "fp16", "bf16", "int8", "fp8"),
    "kernel": ("naive", "flash", "flash-decoding"),
    "phase": ("prefill", "decode", "train"),
    "causal": ("True", "False"),
}
POS_INT = ("threads", "cores", "batch", "heads", "kv_heads", "head_dim", "seq", "repeats")
NONNEG_INT = ("warmup",)
POS_FLOAT = ("latency_median_s", "latency_min_s")
NONNEG_FLOAT = (
    "latency_iqr_s",
    "peak_memory_bytes",
    "model_flops",
    "model_bytes",
    "model_exec_flops_attn_matmul",
    "model_flops_attn_matmul",
    "model_latency_s",
)
COLUMNS = (
    "source",
    "device",
    "device_desc",
    "torch_version",
    "numpy_version",
    "python_version",
    "date",
    "threads",
    "cores",
    "dtype",
    "variant",
    "pattern",
    "kernel",
    "phase",
    "causal",
    "batch",
    "heads",
    "kv_heads",
    "head_dim",
    "seq",
    "warmup",
    "repeats",
    "latency_median_s",
    "latency_iqr_s",
    "latency_min_s",
    "peak_memory_bytes",
    "memory_method",
    "model_flops",
    "model_bytes",
    "model_exec_flops_attn_matmul",
    "model_flops_attn_matmul",
    "model_latency_s",
    "metric",
    "value",
    "unit",
    "note",
)
PUBLISHED_REQUIRED = ("source", "device", "metric", "value", "unit")
# the workload tuple a profiler row is keyed by (resume skips keys already present)
KEY = (
    "device",
    "threads",
    "dtype",
    "pattern",
    "kernel",
    "phase",
    "causal",
    "batch",
    "heads",
    "kv_heads",
    "head_dim",
    "seq",
)


variant_of = variant_label  # one naming of MHA / MQA / GQA:G for the model and the profiles


def format_row(row: dict) -> str:
    """One CSV line (with its newline) for a row dict holding every column."""
    import io

    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise ValueError(f"row lacks columns {missing}")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["" if row[c] is None else _fmt(row[c]) for c in COLUMNS])
    return buf.getvalue()


def _fmt(v) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def header_line() -> str:
    return ",".join(COLUMNS) + "\n"


def check_row(fields: dict, where: str) -> dict:
    """Validate one row of strings; return it with typed values (None for empty fields)."""
    measured = fields["source"] == "measured"
    out = {}
    for name in COLUMNS:
        text = fields[name].strip()
        if text == "":
            if measured and name != "note":
                raise UserError(f"{where}: empty '{name}' (measured rows fill every column)")
            if name in PUBLISHED_REQUIRED:
                raise UserError(f"{where}: empty '{name}' (every row needs {', '.join(PUBLISHED_REQUIRED)})")
            out[name] = None
            continue
        out[name] = _parse(name, text, where)
    if out["heads"] and out["kv_heads"]:
        if out["heads"] % out["kv_heads"]:
            raise UserError(f"{where}: heads {out['heads']} is not a multiple of kv_heads {out['kv_heads']}")
        if out["variant"] is not None and out["variant"] != variant_of(out["heads"], out["kv_heads"]):
            raise UserError(
                f"{where}: variant '{out['variant']}' does not match heads {out['heads']} / "
                f"kv_heads {out['kv_heads']} (expected {variant_of(out['heads'], out['kv_heads'])})"
            )
    if measured and out["kernel"] == "flash-decoding" and out["phase"] != "decode":
        raise UserError(f"{where}: kernel flash-decoding with phase '{out['phase']}' (decode only)")
    if out["latency_min_s"] and out["latency_median_s"] and out["latency_min_s"] > out["latency_median_s"]:
        raise UserError(f"{where}: latency_min_s {out['latency_min_s']} > latency_median_s")
    return out


def _parse(name, text, where):
    if name in TEXT:
        return text
    if name in CHOICES:
        if text not in CHOICES[name]:
            raise UserError(f"{where}: {name} '{text}' is not one of {', '.join(CHOICES[name])}")
        return text == "True" if name == "causal" else text
    if name == "variant":
        if text not in ("mha", "mqa") and not (text.startswith("gqa:") and text[4:].isdigit()):
            raise UserError(f"{where}: variant '{text}' is not mha, mqa or gqa:K")
        return text
    if name == "pattern":
        try:
            parse_pattern(text)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
        return text
    if name in POS_INT or name in NONNEG_INT:
        try:
            value = int(text)
        except ValueError:
            raise UserError(f"{where}: {name} must be an integer, got '{text}'") from None
        if value < (0 if name in NONNEG_INT else 1):
            raise UserError(f"{where}: {name} must be >= {0 if name in NONNEG_INT else 1}, got {value}")
        return value
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{where}: {name} must be a number, got '{text}'") from None
    if not math.isfinite(value):
        raise UserError(f"{where}: {name} must be finite, got '{text}'")
    if name in POS_FLOAT and value <= 0:
        raise UserError(f"{where}: {name} must be > 0, got {value}")
    if name in NONNEG_FLOAT and value < 0:
        raise UserError(f"{where}: {name} must be >= 0, got {value}")
    return value


def read_rows(path: str) -> list[dict]:
    """Validated rows (typed dicts) of a profile CSV, in file order."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: profile not found")
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    if not text.strip():
        raise UserError(f"{path}:1: empty file (expected the header: {', '.join(COLUMNS[:4])}, ...)")
    lines = text.splitlines(keepends=True)
    if not lines[-1].endswith("\n"):
        raise UserError(
            f"{path}:{len(lines)}: truncated last line (no line end): an interrupted write? "
            "Rerun the profiler with the same --out to drop it and resume"
        )
    reader = csv.reader(lines)
    header = next(reader)
    if tuple(h.strip() for h in header) != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        problem = (
            f"missing column '{missing[0]}'"
            if missing
            else f"unknown column '{extra[0]}'"
            if extra
            else "columns out of order"
        )
        raise UserError(f"{path}:1: {problem} (expected header: {','.join(COLUMNS)})")
    rows = []
    line = 1
    for fields in reader:
        line = reader.line_num
        where = f"{path}:{line}"
        if not fields:
            continue
        if len(fields) != len(COLUMNS):
            raise UserError(
                f"{where}: {len(fields)} fields, expected {len(COLUMNS)} (truncated or malformed row)"
            )
        rows.append(check_row(dict(zip(COLUMNS, fields)), where))
    return rows


def load_profile(path: str):
    """Load and validate a profile CSV -> pandas DataFrame (one row per measurement, typed columns).

    Raises UserError("<file>:<line>: <problem>") on a missing or unknown column, a truncated or
    malformed line, a bad type or an out-of-range value.
    """
    import pandas as pd

    rows = read_rows(path)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for name in POS_INT + NONNEG_INT:
        df[name] = df[name].astype("Int64")
    for name in POS_FLOAT + NONNEG_FLOAT + ("value",):
        df[name] = df[name].astype(float)
    df["causal"] = df["causal"].astype("boolean")
    return df


def row_key(row: dict) -> tuple:
    """The workload tuple of a row (resume skips rows whose key is already in the file)."""
    return tuple(str(row[k]) for k in KEY)
