"""predict(workloads, hardware) -> one row per (workload, device): latency, bound, FLOPs, bytes, memory.

`evaluate(table, hw)` is the vectorised core (numpy in, dict of numpy arrays out; the CLI uses it
without pandas); `predict` wraps it for Workload objects and pandas DataFrames.
"""

from __future__ import annotations

import numpy as np

from perfmodel import cost as C
from perfmodel import modelscope as M
from perfmodel import patterns as P
from perfmodel.errors import UserError
from perfmodel.hardware import Hardware, load_hardware
from perfmodel.roofline import BOUNDS, op_time
from perfmodel.workload import (
    ACT_DTYPES,
    DTYPE_BYTES,
    FIELDS,
    KERNELS,
    PHASES,
    SCOPES,
    Workload,
    check_kernel_phase,
    check_prune,
    layer_seqs,
    variant_label,
    weight_elt_bytes,
)

NORM_CODES = {"layernorm": C.LAYERNORM, "rmsnorm": C.RMSNORM}
INT_FIELDS = ("heads", "kv_heads", "head_dim", "hidden", "layers", "batch", "seq")


def _column(columns: dict, name: str, n: int):
    if name in columns:
        return np.asarray(columns[name])
    default = Workload.__dataclass_fields__[name].default
    if isinstance(default, tuple):  # np.full would unpack a tuple
        arr = np.empty(n, dtype=object)
        arr[:] = [default] * n
        return arr
    if default is None:  # a missing number: NaN keeps the column numeric (fast)
        return np.full(n, np.nan)
    return np.full(n, default, dtype=None if isinstance(default, (int, float, bool)) else object)


def _codes(columns: dict, name: str, n: int):
    """(codes, uniques) of a categorical column; an absent column is all its default."""
    if name not in columns:
        return np.zeros(n, dtype=np.int64), [Workload.__dataclass_fields__[name].default]
    return _factorize(columns[name])


def to_table(columns: dict) -> dict:
    """Validate workload columns (name -> sequence) and encode them as numpy arrays for the cost model."""
    unknown = set(columns) - set(FIELDS) - {"variant"}
    if unknown:
        raise UserError(f"unknown workload field '{sorted(unknown)[0]}' (expected: {', '.join(FIELDS)})")
    n = len(next(iter(columns.values()))) if columns else 0
    if n == 0:
        raise UserError("no workloads to predict")
    t = {"n": n}
    for name in INT_FIELDS:
        col = _column(columns, name, n)
        if name == "kv_heads":
            col = np.where(_isnull(col), t["heads"], col)
        if name == "hidden":
            col = np.where(_isnull(col), t["heads"] * t["head_dim"], col)
        col = _as_int(col, name)
        t[name] = col
    bad = t["heads"] % t["kv_heads"] != 0
    if bad.any():
        i = int(np.argmax(bad))
        raise UserError(f"row {i}: heads ({t['heads'][i]}) must be divisible by kv_heads ({t['kv_heads'][i]})")
    for name, allowed in (("kernel", KERNELS), ("phase", PHASES), ("scope", SCOPES), ("dtype", ACT_DTYPES),
                          ("norm", tuple(NORM_CODES))):
        codes, uniques = _codes(columns, name, n)
        for u in uniques:
            if u not in allowed:
                raise UserError(f"unknown {name} '{u}' (expected one of: {', '.join(allowed)})")
        t[name + "_codes"] = codes
        t[name + "_uniques"] = uniques
    t["kernel"] = np.asarray([KERNELS.index(u) for u in t["kernel_uniques"]])[t["kernel_codes"]]
    t["phase"] = np.asarray([PHASES.index(u) for u in t["phase_uniques"]])[t["phase_codes"]]
    t["norm"] = np.asarray([NORM_CODES[u] for u in t["norm_uniques"]])[t["norm_codes"]]
    bad = (t["kernel"] == C.FLASH_DECODING) & (t["phase"] != C.DECODE)
    if bad.any():
        i = int(np.argmax(bad))
        check_kernel_phase("flash-decoding", t["phase_uniques"][t["phase_codes"][i]])
    t["elt"] = np.asarray([DTYPE_BYTES[u] for u in t["dtype_uniques"]])[t["dtype_codes"]]
    for name in ("weights", "kv_dtype"):
        if name in columns:
            col = np.asarray(columns[name], dtype=object)
            col = np.where(_isnull(col), np.asarray(t["dtype_uniques"], dtype=object)[t["dtype_codes"]], col)
            codes, uniques = _factorize(col)
        else:  # absent: the activation dtype
            codes, uniques = t["dtype_codes"], t["dtype_uniques"]
        for u in uniques:
            if u not in DTYPE_BYTES:
                raise UserError(f"unknown {name} dtype '{u}' (expected one of: {', '.join(DTYPE_BYTES)})")
        per_elt = weight_elt_bytes if name == "weights" else DTYPE_BYTES.__getitem__  # weights: + group scales
        t["w_elt" if name == "weights" else "kv_elt"] = np.asarray([per_elt(u) for u in uniques])[codes]
    t["causal"] = _column(columns, "causal", n).astype(bool)
    _encode_patterns(t, _codes(columns, "pattern", n))
    if "prune" in columns:
        _encode_prune(t, _column(columns, "prune", n))
    else:
        t["prune_codes"], t["prune_schedules"], t["pruned"] = np.zeros(n, np.int64), [()], np.zeros(n, bool)
    t["model_codes"], t["model_uniques"] = _codes(columns, "model", n)
    M.encode(t, {name: _column(columns, name, n) for name in M.COLUMNS})
    return t


def _isnull(col):
    if col.dtype == object and len(col) > 10_000:
        import pandas as pd

        return pd.isna(col)
    if col.dtype == object:
        return np.asarray([v is None or (isinstance(v, float) and np.isnan(v)) for v in col], bool)
    if col.dtype.kind == "f":
        return np.isnan(col)
    return np.zeros(col.shape, bool)


def _as_int(col, name):
    try:
        arr = np.asarray(col, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"workload field '{name}' must hold integers") from None
    bad = ~(arr >= 1) | (arr != np.floor(arr))
    if bad.any():
        i = int(np.argmax(bad))
        raise UserError(f"row {i}: {name} must be a positive integer, got {col[i]!r}")
    return arr


def _factorize(col):
    """(codes, uniques) of an array of hashable values, fast for long columns of few distinct values."""
    if len(col) > 10_000:  # pandas is fast on long columns; the CLI's short tables avoid importing it
        import pandas as pd

        codes, uniques = pd.factorize(col if isinstance(col, pd.Series) else np.asarray(col, dtype=object))
        return np.asarray(codes), list(uniques)
    index: dict = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in col), dtype=np.int64, count=len(col))
    return codes, list(index)


def _encode_patterns(t, factorized):
    codes, uniques = factorized
    pats = [P.parse_pattern(str(u)) for u in uniques]
    for attr in ("window", "stride", "n_global", "block", "density"):
        t[attr] = np.asarray([float(getattr(p, attr)) for p in pats])[codes]
    t["stride"] = np.maximum(t["stride"], 1.0)
    # an explicit mask file becomes its exact density of allowed blocks
    for k, p in enumerate(pats):
        if p.mask_file:
            rows = codes == k
            nb = p.load_mask().shape[0]
            need = np.ceil(t["seq"][rows] / p.block)
            if (need != nb).any():
                raise UserError(f"block mask '{p.mask_file}' has {nb} block rows but seq / block needs {int(need[0])}")
            for causal in (True, False):
                sel = rows & (t["causal"] == causal)
                if sel.any():
                    visits = P.block_visits(p, nb * p.block, causal, p.block)
                    allowed = nb * (nb + 1) / 2 if causal else nb * nb
                    t["density"][sel] = visits.sum() / allowed
    t["pattern"] = np.asarray([p.code for p in pats])[codes]
    t["pattern_codes"], t["pattern_labels"] = codes, [p.label for p in pats]


def _encode_prune(t, col):
    if col.dtype != object:
        col = np.asarray([(float(v),) for v in col] + [()], dtype=object)[:-1]
    codes, uniques = _factorize(col)
    schedules = [tuple(u) if isinstance(u, (tuple, list, np.ndarray)) else (() if u is None else (float(u),))
                 for u in uniques]
    for sched in schedules:
        check_prune(tuple(sched), 10**9)
    t["prune_codes"], t["prune_schedules"] = codes, schedules
    pruned = np.asarray([bool(s) and any(k < 1.0 for k in s) for s in schedules])[codes]
    for i in np.flatnonzero(pruned):
        check_prune(tuple(schedules[codes[i]]), int(t["layers"][i]))
    t["pruned"] = pruned


def _layer_matrix(t, rows):
    """(n (W, K), layer weights (W, K)) for the selected rows."""
    if rows.all() and not t["pruned"].any():
        return t["seq"][:, None], t["layers"][:, None]
    if not t["pruned"][rows].any():
        return t["seq"][rows][:, None], t["layers"][rows][:, None]
    lmax = int(t["layers"][rows].max())
    n = np.zeros((rows.sum(), lmax))
    w = np.zeros_like(n)
    for k, i in enumerate(np.flatnonzero(rows)):
        layers = int(t["layers"][i])
        n[k, :layers] = layer_seqs(int(t["seq"][i]), tuple(t["prune_schedules"][t["prune_codes"][i]]), layers)
        w[k, :layers] = 1.0
    n[w == 0] = 1.0  # padding layers: weight 0, any valid size
    return n, w


def _sub(t, rows):
    every = bool(rows.all())  # the common case: views, no copies
    return {k: ((v if every else v[rows])[:, None] if isinstance(v, np.ndarray) and v.shape == (t["n"],) else v)
            for k, v in t.items()}


def _peak_array(t, hw: Hardware):
    peaks = np.asarray([hw.peak(u) for u in t["dtype_uniques"]])
    return peaks[t["dtype_codes"]]


CHUNK = 32768  # rows per pass: keeps the temporaries in cache (about 2x faster than one huge pass)


def evaluate(t: dict, hw: Hardware, extra_ops=None) -> dict:
    """The vectorised model: encoded workload table + one device -> dict of per-workload arrays."""
    n_rows = t["n"]
    if n_rows > CHUNK:
        out = block = None
        for start in range(0, n_rows, CHUNK):
            stop = min(start + CHUNK, n_rows)
            idx = slice(start, stop)
            sub = {k: (v[idx] if isinstance(v, np.ndarray) and v.shape == (n_rows,) else v) for k, v in t.items()}
            sub["n"] = stop - start
            part = evaluate(sub, hw, extra_ops)
            if out is None:  # float results share one column-major block (a DataFrame wraps it without a copy)
                floats = [k for k, v in part.items() if v.dtype == np.float64]
                block = np.empty((n_rows, len(floats)), order="F")
                out = {k: block[:, j] for j, k in enumerate(floats)}
                out.update({k: np.empty(n_rows, v.dtype) for k, v in part.items() if k not in out})
                out["_float_block"], out["_float_keys"] = block, floats
            for k, v in part.items():
                out[k][idx] = v
        return out
    out = {}
    peak_all = _peak_array(t, hw)
    if not t["pruned"].any():  # the common case: every layer sees the same tokens, one pass
        return _evaluate_rows(t, np.ones(n_rows, bool), hw, peak_all, extra_ops)
    for rows in (~t["pruned"], t["pruned"]):
        if not rows.any():
            continue
        res = _evaluate_rows(t, rows, hw, peak_all, extra_ops)
        for k, v in res.items():
            if k not in out:
                out[k] = np.zeros(n_rows, dtype=v.dtype)
            out[k][rows] = v
    return out


def _evaluate_rows(t, rows, hw, peak_all, extra_ops):
    n, lw = _layer_matrix(t, rows)
    s = _sub(t, rows)
    peak = (peak_all if rows.all() else peak_all[rows])[:, None]
    ops = {"norm": C.norm_op(s, n), **C.proj_ops(s, n), "attn": C.attention_op(s, n, hw.sram_per_core, hw.cores, hw.l2 or 0.0)}
    if (s["scope_code"] != M.ATTENTION).any():  # layer / model scope: MLP, embedding, LM head, ...
        ops.update(M.scope_ops(s, n, hw))
    if extra_ops is not None:
        ops.update(extra_ops(s, n, hw))
    return _roofline(ops, s, n, lw, hw, peak)


def _sum(x, lw):
    return (np.broadcast_to(x, lw.shape) * lw).sum(axis=1)


def _op_weights(op, lw):
    """Layer weights of an op: every layer, or (op["once"] = "first" | "last") one layer of the model."""
    which = op.get("once")
    if which is None:
        return lw
    if lw.shape[1] == 1:
        return np.ones_like(lw)
    valid = lw > 0
    col = np.zeros(lw.shape[0]) if which == "first" else valid.sum(axis=1) - 1
    return (np.arange(lw.shape[1])[None, :] == np.reshape(col, (-1, 1))).astype(float)


def _roofline(ops, s, n, lw, hw, peak):
    res = {}
    total_t = 0.0
    by_bound = np.zeros((lw.shape[0], len(BOUNDS)))
    flops = bytes_ = 0.0
    held = saved_extra = state = 0.0
    transient_extra = np.zeros(lw.shape[0])
    # A whole layer or model runs as one asynchronous stream of kernels (or a CUDA graph): the host issues
    # the next launch while the GPU runs the current kernel, so a kernel costs max(run time, launch cost)
    # rather than their sum (an isolated attention kernel, timed with a sync, pays both).
    stream = (s["scope_code"] != M.ATTENTION) if "scope_code" in s else None
    for name, op in ops.items():
        ow = _op_weights(op, lw)
        lat, bound, par, _, _ = op_time(op, hw, peak)
        if stream is not None:  # layer / model scope: launches overlap the previous kernel's run
            launch = op["kernels"] * hw.launch_overhead_s
            lat = np.where(stream, np.maximum(lat - launch, launch), lat)
        lat_sum = _sum(lat, ow)
        for b in range(len(BOUNDS)):
            by_bound[:, b] += _sum(np.where(bound == b, lat, 0.0), ow)
        f = _sum(op["flops_mm"] + op["flops_vec"], ow)
        by = _sum(op["bytes"], ow)
        if "weights" in op:  # layer / model scope ops say what memory they hold
            held = held + _sum(op["weights"], ow)
            saved_extra = saved_extra + _sum(op["saved"], ow)
            if "state" in op:  # training: optimizer states (fp32 master weights, Adam moments)
                state = state + _sum(op["state"], ow)
            acts = np.where(ow > 0, np.broadcast_to(op["acts"], lw.shape), 0.0).max(axis=1)
            transient_extra = np.maximum(transient_extra, acts)
        res[f"latency_{name}_s"], res[f"flops_{name}"], res[f"bytes_{name}"] = lat_sum, f, by
        total_t = total_t + lat_sum
        flops, bytes_ = flops + f, bytes_ + by
        if name == "attn":
            res["parallel_fraction_attn"] = np.broadcast_to(par, lw.shape)[:, 0].astype(float)
            res["bound_attn"] = np.broadcast_to(bound, lw.shape)[:, 0].astype(np.int64)
    attn = ops["attn"]
    res["flops_attn_matmul"] = _sum(attn["useful_mm"], lw)
    res["exec_flops_attn_matmul"] = _sum(attn["exec_mm"], lw)
    res["splits"] = np.broadcast_to(attn["splits"], lw.shape)[:, 0].astype(float)
    res["latency_s"], res["flops"], res["bytes"] = total_t, flops, bytes_
    res["bound"] = np.argmax(by_bound, axis=1)
    res["intensity_flop_per_byte"] = flops / np.maximum(bytes_, 1.0)
    roof = np.minimum(peak[:, 0] * hw.eff_matmul, res["intensity_flop_per_byte"] * hw.mem_bw * hw.eff_memory)
    res["attainable_flop_per_s"] = roof
    res["achieved_flop_per_s"] = flops / total_t
    # memory footprint
    weights = _sum(C.attention_weight_bytes(s), lw) + held
    kv = _sum(C.kv_cache_bytes(s, n), lw)
    transient = np.max(np.where(lw > 0, np.broadcast_to(C.activation_bytes(s, n) + attn["scores_bytes"], lw.shape), 0.0), axis=1)
    transient = np.maximum(transient, transient_extra)
    train = s["phase"][:, 0] == C.TRAIN
    saved = _sum(C.activation_bytes(s, n) + attn["scores_bytes"], lw) + saved_extra
    res["weight_bytes"], res["kv_cache_bytes"], res["activation_bytes"] = weights, kv, transient + train * saved
    res["peak_memory_bytes"] = weights * (1.0 + train) + kv + transient + train * saved + state
    if any("state" in op for op in ops.values()):
        res["optimizer_state_bytes"] = state + 0.0 * weights
    res["fits_in_memory"] = res["peak_memory_bytes"] <= hw.mem_capacity
    res["energy_j"] = res["latency_s"] * hw.power_w
    return res


def _columns_from(workloads) -> dict:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(workloads, pd.DataFrame):
        return {c: (workloads[c] if workloads[c].dtype.kind not in "biufc" else workloads[c].to_numpy())
                for c in workloads.columns}
    if isinstance(workloads, Workload):
        workloads = [workloads]
    if isinstance(workloads, dict):
        return {k: np.asarray(v, dtype=object) if not np.isscalar(v) else np.asarray([v], dtype=object)
                for k, v in workloads.items()}
    rows = list(workloads)
    if not rows or not all(isinstance(w, Workload) for w in rows):
        raise UserError("predict() takes a Workload, a list of them, or a pandas DataFrame of their fields")
    cols = {}
    for f in FIELDS:
        vals = [getattr(w, f) for w in rows]
        arr = np.empty(len(vals), dtype=object)
        arr[:] = vals
        cols[f] = arr
    return cols


def _labels(codes, uniques, categorical):
    names = np.asarray(uniques, dtype=object)
    if not categorical:
        return names[codes]
    import pandas as pd

    cats, inverse = np.unique(names.astype(str), return_inverse=True)  # equal labels share a category
    return pd.Categorical.from_codes(inverse[codes], categories=cats)


def result_columns(t: dict, res: dict, hw: Hardware, categorical: bool = False) -> dict:
    """Name the results as the public record fields (numpy arrays; pandas Categoricals for the labels
    when `categorical`, which builds a million-row DataFrame about ten times faster)."""
    n = t["n"]
    pairs, kinds = _factorize(t["heads"] * 100_000 + t["kv_heads"])
    variant_names = [variant_label(int(p // 100_000), int(p % 100_000)) for p in kinds]
    lab = {name: _labels(t[name + "_codes"], t[name + "_uniques"], categorical)
           for name in ("model", "kernel", "phase", "scope", "dtype")}
    out = {
        "hw": _labels(np.zeros(n, np.int64), [hw.id], categorical), "model": lab["model"],
        "variant": _labels(pairs, variant_names, categorical), "pattern": _labels(t["pattern_codes"], t["pattern_labels"], categorical),
        "kernel": lab["kernel"], "phase": lab["phase"], "scope": lab["scope"],
        "batch": t["batch"].astype(np.int64), "seq": t["seq"].astype(np.int64), "heads": t["heads"].astype(np.int64),
        "kv_heads": t["kv_heads"].astype(np.int64), "head_dim": t["head_dim"].astype(np.int64),
        "layers": t["layers"].astype(np.int64), "dtype": lab["dtype"], "causal": t["causal"],
    }
    for k, v in res.items():
        if not k.startswith("_"):
            out[k] = _labels(v, list(BOUNDS), categorical) if k in ("bound", "bound_attn") else v
    out["calibrated"] = np.full(n, hw.calibrated)
    return out


def predict(workloads, hardware, calibrated: bool = True):
    """Predict workloads on one or more devices.

    workloads: a Workload, a list of Workloads, or a pandas DataFrame with Workload field columns.
    hardware: a device id or alias (or a list of them), or a Hardware.
    Returns a pandas DataFrame, one row per (device, workload).
    """
    import pandas as pd

    t = to_table(_columns_from(workloads))
    devices = hardware if isinstance(hardware, (list, tuple)) else [hardware]
    frames = []
    for dev in devices:
        hw = dev if isinstance(dev, Hardware) else load_hardware(dev, calibrated=calibrated)
        res = evaluate(t, hw)
        cols = result_columns(t, res, hw, categorical=True)
        if "_float_block" in res:  # big tables: wrap the float block as is, then put the columns in order
            floats = pd.DataFrame(res["_float_block"], columns=res["_float_keys"], copy=False)
            rest = pd.DataFrame({k: v for k, v in cols.items() if k not in floats.columns})
            frame = pd.concat([rest, floats], axis=1)
        else:
            frame = pd.DataFrame(cols)
        frames.append(frame)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
