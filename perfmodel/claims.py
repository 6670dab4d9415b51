"""Check published performance claims against the model's prediction and its physical lower bound.

A claims file (YAML) holds `source`, optional `notes`, and `claims`: a list of mappings with
  id, claim (the words), metric, claimed (a number, or [low, high] for a range), workload, devices,
and optionally form (value | speedup | reduction), baseline (workload overrides for the reference of
a speedup or reduction), require_fit (points whose memory does not fit the device fail the claim),
tolerance (relative, default 0.1) and assumed (what the claim leaves out and how the check fills it).
Any workload value given as a list is swept (every combination); so is every device of `devices`.
Verdicts, over the swept points:
- physically impossible: at no point does even the physical lower bound (every FLOP at peak, the
  weights and KV cache read once per step at full bandwidth, no overheads) reach the claim;
- optimistic: physics allows it somewhere, but the model's prediction reaches it nowhere;
- plausible: the prediction reaches it (within the tolerance) at one point or more.
A range claim is tested at its less ambitious end.
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np

from perfmodel.errors import UserError
from perfmodel.hardware import hardware_ids, load_hardware, profiles_dir, read_yaml
from perfmodel.models import load_model
from perfmodel.report import human_bytes, human_time

# metric -> (phase it needs, lower is better, kind of number)
METRICS = {
    "generate_s": ("decode", True, "time"), "ttft_s": ("prefill", True, "time"),
    "decode_s": ("decode", True, "time"), "tokens_per_s": ("decode", False, "rate"),
    "train_step_s": ("train", True, "time"), "latency_s": (None, True, "time"),
    "kv_cache_bytes": ("decode", True, "bytes"), "peak_memory_bytes": ("decode", True, "bytes"),
}
FORMS = ("value", "speedup", "reduction")
TOP_KEYS, TOP_REQUIRED = {"source", "notes", "claims"}, {"source", "claims"}
CLAIM_KEYS = {"id", "claim", "metric", "claimed", "workload", "devices", "form", "baseline", "require_fit",
              "tolerance", "assumed"}
CLAIM_REQUIRED = {"id", "claim", "metric", "claimed", "workload", "devices"}
WORKLOAD_KEYS = {"model", "scope", "phase", "batch", "seq", "generate", "heads", "kv_heads", "layers", "pattern",
                 "kernel", "prune", "weights", "kv_dtype", "dtype", "causal"}
DEVICE_KEYS = {"hw", "class", "memory_gb", "mem_bw_gbps", "note"}
VERDICTS = ("plausible", "optimistic", "physically impossible")


def default_file() -> Path:
    return profiles_dir() / "claims" / "transformer2.yaml"


# ---------------------------------------------------------------- loading and validation
def _keys(doc, allowed, required, where):
    if not isinstance(doc, dict):
        raise UserError(f"{where}: expected a mapping")
    unknown = set(doc) - allowed
    if unknown:
        raise UserError(f"{where}: unknown key '{sorted(unknown)[0]}' (expected: {', '.join(sorted(allowed))})")
    missing = required - set(doc)
    if missing:
        raise UserError(f"{where}: missing key '{sorted(missing)[0]}'")


def load_claims(path) -> dict:
    """Read and validate a claims file; every mistake is a UserError naming the file, claim and key."""
    doc = read_yaml(Path(path))
    _keys(doc, TOP_KEYS, TOP_REQUIRED, str(path))
    if not isinstance(doc["claims"], list) or not doc["claims"]:
        raise UserError(f"{path}: key 'claims' must be a non-empty list")
    seen = set()
    for k, c in enumerate(doc["claims"]):
        where = f"{path}: claim {c.get('id', k + 1) if isinstance(c, dict) else k + 1}"
        _keys(c, CLAIM_KEYS, CLAIM_REQUIRED, where)
        if c["id"] in seen:
            raise UserError(f"{where}: duplicate id")
        seen.add(c["id"])
        if c["metric"] not in METRICS:
            raise UserError(f"{where}: unknown metric '{c['metric']}' (expected one of: {', '.join(METRICS)})")
        if c.get("form", "value") not in FORMS:
            raise UserError(f"{where}: unknown form '{c['form']}' (expected one of: {', '.join(FORMS)})")
        if c.get("form", "value") != "value" and "baseline" not in c:
            raise UserError(f"{where}: form '{c['form']}' needs a 'baseline' (the workload overrides it compares to)")
        claimed = c["claimed"] if isinstance(c["claimed"], list) else [c["claimed"]]
        if not 1 <= len(claimed) <= 2 or not all(_number(v) and v > 0 for v in claimed):
            raise UserError(f"{where}: 'claimed' must be a positive number or [low, high], got {c['claimed']!r}")
        _keys(c["workload"], WORKLOAD_KEYS, {"model"}, f"{where}: workload")
        _keys(c.get("baseline") or {}, WORKLOAD_KEYS - {"model"}, set(), f"{where}: baseline")
        _keys(c["devices"], DEVICE_KEYS, set(), f"{where}: devices")
        if ("hw" in c["devices"]) == ("class" in c["devices"]):
            raise UserError(f"{where}: devices needs exactly one of 'hw' (a list of ids) or 'class'")
        if c.get("tolerance") is not None and not (_number(c["tolerance"]) and 0 <= c["tolerance"] < 1):
            raise UserError(f"{where}: 'tolerance' must be a number in [0, 1)")
    return doc


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


@cache
def _hardware(name: str, calibrated: bool, where: str):
    """One device per (name, calibration, profiles folder): reading the catalog's YAML is the slow part."""
    return load_hardware(name, calibrated=calibrated)


@cache
def _model(name: str, where: str):
    return load_model(name)


def _devices(spec: dict, calibrated: bool, where: str) -> list:
    if "class" in spec:
        ids = [h for h in hardware_ids() if h != "host"]
        hws = [hw for hw in (_hardware(h, calibrated, str(profiles_dir())) for h in ids) if hw.kind == spec["class"]]
        if not hws:
            raise UserError(f"{where}: no catalog device of class '{spec['class']}'")
    else:
        names = spec["hw"] if isinstance(spec["hw"], list) else [spec["hw"]]
        hws = [_hardware(str(h), calibrated, str(profiles_dir())) for h in names]
    changes = {}
    for key, attr in (("memory_gb", "mem_capacity"), ("mem_bw_gbps", "mem_bw")):
        if key in spec:
            if not _number(spec[key]) or spec[key] <= 0:
                raise UserError(f"{where}: devices.{key} must be a positive number")
            changes[attr] = spec[key] * 1e9
    return [replace(hw, **changes) for hw in hws]


# ---------------------------------------------------------------- evaluation
def _points(workload: dict) -> list[dict]:
    """Every combination of the swept (list-valued) workload keys."""
    keys = sorted(workload)
    values = [workload[k] if isinstance(workload[k], list) else [workload[k]] for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _row(point: dict, metric: str, where: str) -> tuple[dict, int | None]:
    """Workload fields of one point (model preset + overrides) and its generation length."""
    shape = _model(str(point["model"]), str(profiles_dir()))
    scope = point.get("scope", "model")
    phase = point.get("phase") or METRICS[metric][0] or "prefill"
    if metric == "generate_s" and not point.get("generate"):
        raise UserError(f"{where}: metric generate_s needs workload.generate (tokens)")
    heads = int(point.get("heads", shape.heads))
    kv = point.get("kv_heads", shape.kv_heads if heads == shape.heads else heads)
    kv = {"mha": heads, "mqa": 1}.get(kv, kv)  # named variants follow each model's head count
    if isinstance(kv, bool) or not isinstance(kv, int) or kv < 1 or heads % kv:
        raise UserError(f"{where}: kv_heads {kv!r} must be mha, mqa or a divisor of {shape.id}'s {heads} heads")
    seq = int(point.get("seq", 512))
    own = f"local:{shape.sliding_window}" if shape.sliding_window and shape.sliding_window < seq else "dense"
    kernel = point.get("kernel", "flash-decoding" if phase == "decode" else "flash")
    prune = point.get("prune", ())
    prune = tuple(float(x) for x in str(prune).split(",")) if isinstance(prune, str) else prune
    row = dict(heads=heads, kv_heads=kv, head_dim=shape.head_dim, hidden=shape.hidden,
               layers=int(point.get("layers", shape.layers)), batch=int(point.get("batch", 1)), seq=seq,
               pattern=str(point.get("pattern", own)), kernel=kernel, phase=phase, dtype=point.get("dtype", "fp16"),
               causal=bool(point.get("causal", True)), prune=prune, norm=shape.norm, scope=scope, model=shape.id,
               ffn=shape.ffn, vocab=shape.vocab, mlp=shape.mlp, tied_embeddings=shape.tied_embeddings,
               weights=point.get("weights"), kv_dtype=point.get("kv_dtype"))
    return row, point.get("generate")


def _columns(rows: list[dict]) -> dict:
    cols = {}
    for key in rows[0]:
        arr = np.empty(len(rows), dtype=object)
        arr[:] = [r[key] for r in rows]
        cols[key] = arr
    return cols


def _metric(metric: str, res: dict, m: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted, physical best, fits) of a metric for every evaluated row."""
    fits = res["fits_in_memory"]
    if metric == "generate_s":
        return m["generate_s"], m["generate_bound_s"], m["generate_fits"]
    if metric in ("ttft_s", "decode_s"):
        return m[metric], m[metric.replace("_s", "_bound_s")], fits
    if metric == "tokens_per_s":
        return m["tokens_per_s"], m["tokens_per_s"] * res["latency_s"] / m["latency_bound_s"], fits
    if metric in ("train_step_s", "latency_s"):
        return res["latency_s"], m["latency_bound_s"], fits
    if metric == "kv_cache_bytes":
        return res["kv_cache_bytes"], res["kv_cache_bytes"], fits
    return res["peak_memory_bytes"], res["weight_bytes"] + res["kv_cache_bytes"], fits


def evaluate_claim(c: dict, calibrated: bool = True, where: str = "claim") -> dict:
    """Predicted and physically best value of the claim's metric at every swept point, and the verdict."""
    from perfmodel.modelscope import model_metrics

    metric, form = c["metric"], c.get("form", "value")
    lower_better = METRICS[metric][1] and form == "value"
    points = _points(c["workload"])
    rows, gens = zip(*(_row(p, metric, where) for p in points))
    base_rows, base_gens = zip(*(_row({**p, **(c.get("baseline") or {})}, metric, where) for p in points)) \
        if form != "value" else ((), ())
    cols = _columns(list(rows) + list(base_rows))
    gen = [g for g in list(gens) + list(base_gens)]
    hws = _devices(c["devices"], calibrated, where)
    n, results = len(points), []
    for hw in hws:
        res, m = model_metrics(cols, hw, gen if any(gen) else None)
        pred, best, fits = _metric(metric, res, m)
        if form == "value":
            p, b = pred[:n], best[:n]
        else:
            new_p, new_b, base_p = pred[:n], best[:n], pred[n:]
            if form == "speedup":
                p, b = (base_p / new_p, base_p / new_b) if METRICS[metric][1] else (new_p / base_p, new_b / base_p)
            else:
                p, b = 1.0 - new_p / base_p, 1.0 - new_b / base_p
        for i in range(n):
            results.append({"hw": hw.id, "point": points[i], "predicted": float(p[i]), "bound": float(b[i]),
                            "fits": bool(fits[i]), "mem_bw": hw.mem_bw})
    return _verdict(c, results, lower_better)


def _verdict(c: dict, results: list[dict], lower_better: bool) -> dict:
    claimed = c["claimed"] if isinstance(c["claimed"], list) else [c["claimed"]]
    target = max(claimed) if lower_better else min(claimed)  # the less ambitious end of a range
    tol = c.get("tolerance", 0.1)
    need_fit = bool(c.get("require_fit", False))

    def reaches(v, slack):
        return v <= target * (1 + slack) if lower_better else v >= target * (1 - slack)

    for r in results:
        ok = r["fits"] or not need_fit
        r["meets"] = ok and reaches(r["predicted"], tol)
        r["possible"] = ok and reaches(r["bound"], 0.0)
    key = (lambda r: r["predicted"]) if lower_better else (lambda r: -r["predicted"])
    eligible = [r for r in results if r["fits"] or not need_fit] or results
    best_pred = min(eligible, key=key)
    best_bound = min(eligible, key=(lambda r: r["bound"]) if lower_better else (lambda r: -r["bound"]))
    verdict = VERDICTS[0] if any(r["meets"] for r in results) else \
        VERDICTS[1] if any(r["possible"] for r in results) else VERDICTS[2]
    preds = [r["predicted"] for r in eligible]
    return {"id": c["id"], "claim": c["claim"], "metric": c["metric"], "form": c.get("form", "value"),
            "claimed": c["claimed"], "verdict": verdict, "predicted_min": min(preds), "predicted_max": max(preds),
            "best_predicted": best_pred, "best_bound": best_bound, "points": len(results),
            "points_meeting": sum(r["meets"] for r in results), "points_fitting": sum(r["fits"] for r in results),
            "assumed": c.get("assumed", ""), "require_fit": need_fit, "lower_better": lower_better,
            "results": results}


# ---------------------------------------------------------------- reporting
def _fmt(v: float, metric: str, form: str) -> str:
    if form == "speedup":
        return f"{v:.2f}x"
    if form == "reduction":
        return f"{100 * v:.0f}%"
    kind = METRICS[metric][2]
    if kind == "time":
        return human_time(v)
    if kind == "bytes":
        return human_bytes(v)
    return f"{v:.3g} tok/s"


def _fmt_claimed(r: dict) -> str:
    vals = r["claimed"] if isinstance(r["claimed"], list) else [r["claimed"]]
    return "-".join(_fmt(float(v), r["metric"], r["form"]) for v in vals)


def _where(p: dict) -> str:
    point = ", ".join(f"{k} {v}" for k, v in p["point"].items())
    return f"{p['hw']}: {point}"


def explain(r: dict) -> list[str]:
    """Lines under the table for one claim: what was assumed, where it is best supported, and why."""
    metric, form = r["metric"], r["form"]
    bp, bb = r["best_predicted"], r["best_bound"]
    lines = [f"[{r['id']}] {r['claim']}"]
    if r["assumed"]:
        lines.append(f"   assumed: {r['assumed']}")
    fit = f"; {r['points_fitting']} of {r['points']} fit in memory" if r["require_fit"] else ""
    lines.append(f"   prediction reaches the claim at {r['points_meeting']} of {r['points']} points{fit}; best "
                 f"{_fmt(bp['predicted'], metric, form)} at {_where(bp)}")
    lines.append(f"   physical best {_fmt(bb['bound'], metric, form)} at {_where(bb)}"
                 + (" (the baseline as predicted over this workload at its physical bound)" if form != "value" else ""))
    only = _only_where(r)
    if only and r["points_meeting"]:
        lines.append(f"   holds only where {only}")
    if r["verdict"] == VERDICTS[2] and form == "value" and METRICS[metric][2] == "time" and metric != "ttft_s":
        need = bb["mem_bw"] * bb["bound"] / min(float(v) for v in np.atleast_1d(r["claimed"]))
        lines.append(f"   the weights and KV cache alone would need {need / 1e12:.3g} TB/s of memory bandwidth "
                     f"({bb['hw']} has {bb['mem_bw'] / 1e12:.3g} TB/s)")
    return lines


def _only_where(r: dict) -> str:
    """The swept values that every point reaching the claim shares (e.g. 'weights int4')."""
    pts = r["results"]
    meet = [p for p in pts if p["meets"]]
    parts = []
    for key in ["hw"] + sorted(pts[0]["point"]):
        get = (lambda p, k=key: p["hw"]) if key == "hw" else (lambda p, k=key: str(p["point"][k]))
        swept, held = {get(p) for p in pts}, {get(p) for p in meet}
        if len(swept) > 1 and held < swept:
            parts.append(f"{key} {' or '.join(sorted(held))}")
    return ", ".join(parts)


def format_claims(source: str, results: list[dict]) -> str:
    head = ("claim", "metric", "claimed", "predicted", "physical best", "verdict")
    rows = []
    for r in results:
        lo, hi = (_fmt(r[k], r["metric"], r["form"]) for k in ("predicted_min", "predicted_max"))
        rows.append((r["id"], r["metric"] if r["form"] == "value" else f"{r['metric']} {r['form']}",
                     _fmt_claimed(r), lo if lo == hi else f"{lo} .. {hi}",
                     _fmt(r["best_bound"]["bound"], r["metric"], r["form"]), r["verdict"]))
    widths = [max(len(h), *(len(row[j]) for row in rows)) for j, h in enumerate(head)]
    lines = [f"Claims from: {source}", "  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows]
    lines.append("predicted: the model's range over the swept points (devices x workload values); physical best: "
                 "every FLOP at peak and the weights + KV cache read once per step at full bandwidth, no overheads")
    for r in results:
        lines += [""] + explain(r)
    return "\n".join(lines)


def run_claims(args) -> int:
    path = Path(args.file) if args.file else default_file()
    if not path.is_file():
        raise UserError(f"claims file '{path}' not found")
    doc = load_claims(path)
    results = []
    for c in doc["claims"]:
        where = f"{path}: claim {c['id']}"
        try:
            results.append(evaluate_claim(c, calibrated=not args.uncalibrated, where=where))
        except UserError as exc:
            msg = str(exc)
            raise UserError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    if args.format == "json":
        json.dump({"source": doc["source"], "claims": results}, default=_plain, fp=sys.stdout, indent=1)
        print()
    else:
        print(format_claims(str(doc["source"]), results))
    return 0


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    raise TypeError(f"cannot write {type(v).__name__} as JSON")
