"""`perfmodel calibrate`: fit a device's efficiencies to a measured profile and write profiles/calibrated/ID.yaml.

Each latency row of the profile (perfmodel.measured schema) is rebuilt as the workload the profiler
timed: one layer, scope attention, the row's variant (heads / kv_heads), pattern, kernel, phase, batch,
head_dim, seq, dtype and causal flag. The profiler times the attention kernel alone, so the row is
compared with the model's attention op, `latency_attn_s` (its launch overhead included): the same
number the profiler stored in `model_latency_s`. A CPU profile measured with fewer threads than the
host has cores is compared with a host of that many cores (peaks scaled down), so the fitted
efficiencies are fractions of the peak of the cores that really ran.

Fit: efficiencies matmul, vector, memory in (0, 1] and launch_overhead_us >= 0 that minimise the mean
squared log error (or, with --loss median, the median absolute log error) of the training rows, by a
deterministic coordinate search over log-spaced values (a coarse scan of each range, then steps halved
down to 0.1 %). Rows alternate between training and held-out after sorting by (kernel, phase, dtype,
seq, batch, variant, pattern), or one sequence length is held out (--test-seq); the errors reported are
those of the held-out rows, before (assumed efficiencies) and after calibration, and the parameters
written are the ones those numbers describe (fitted on the training rows).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from perfmodel.errors import UserError

PARAMS = ("matmul", "vector", "memory", "launch")
WORKLOAD = ("heads", "kv_heads", "head_dim", "batch", "seq", "pattern", "kernel", "phase", "dtype", "causal")
_EFF_RANGE = (1e-4, 1.0)
_LAUNCH_RANGE_US = (1e-3, 1e5)  # 1 ns: effectively none
# width of the log-normal prior around the assumed values (a factor): it only decides what the rows cannot
PRIOR_WIDTH = 2.0


# ------------------------------------------------------------------------------------------- rows


def select_rows(df, device: str | None):
    """(device id, rows of that device with a latency and a complete workload, rows skipped)."""
    from perfmodel.hardware import resolve

    usable = df["latency_median_s"].notna()
    for name in WORKLOAD:
        usable &= df[name].notna()
    if device is None:
        ids = sorted(set(df.loc[usable, "device"]))
        if len(ids) != 1:
            raise UserError(f"the profile has latency rows of {len(ids)} devices ({', '.join(ids) or 'none'}): "
                            "pass --device ID")
        device = ids[0]
    dev = resolve(device)
    mine = df["device"] == dev
    rows = df[mine & usable].reset_index(drop=True)
    if rows.empty and mine.any():
        lacking = [name for name in ("latency_median_s",) + WORKLOAD if df.loc[mine, name].isna().all()]
        raise UserError(f"the {int(mine.sum())} rows of '{dev}' cannot be turned into timed workloads: "
                        f"no row gives {', '.join(lacking) or 'every workload field'}")
    if rows.empty:
        have = ", ".join(sorted(set(df.loc[usable, "device"]))) or "none"
        raise UserError(f"no latency rows with a complete workload for device '{dev}' "
                        f"(devices with such rows: {have})")
    threads = sorted({int(x) for x in rows["threads"].dropna()})
    if len(threads) > 1:
        raise UserError(f"the rows of '{dev}' were measured with {', '.join(map(str, threads))} threads: "
                        "calibrate one thread count at a time (split the CSV)")
    return dev, rows, int((mine & ~usable).sum())


def workload_table(rows) -> dict:
    """The encoded workload table (perfmodel.predict.to_table) of the profile rows: single-layer attention."""
    from perfmodel.predict import to_table

    n = len(rows)
    cols = {name: rows[name].to_numpy(dtype=float) for name in ("heads", "kv_heads", "head_dim", "batch", "seq")}
    for name in ("pattern", "kernel", "phase", "dtype"):
        cols[name] = rows[name].to_numpy(dtype=object)
    cols["causal"] = rows["causal"].to_numpy(dtype=bool)
    cols["layers"] = np.ones(n)
    cols["scope"] = np.full(n, "attention", dtype=object)
    return to_table(cols)


def fit_hardware(hw, rows):
    """The device the rows ran on: a CPU profile with fewer threads than cores uses that many cores."""
    threads = rows["threads"].dropna()
    if hw.kind != "cpu" or threads.empty or int(threads.iloc[0]) >= hw.cores:
        return hw
    k = int(threads.iloc[0])
    scale = k / hw.cores
    return replace(hw, cores=k, vector_flops=hw.vector_flops * scale,
                   peak_flops={d: v * scale for d, v in hw.peak_flops.items()})


def held_out_mask(rows, test_seq: int | None = None) -> np.ndarray:
    """Held-out rows: every other row in (kernel, phase, dtype, seq, batch, variant, pattern) order,
    or all rows of one sequence length."""
    if test_seq is not None:
        mask = (rows["seq"] == test_seq).to_numpy(dtype=bool)
        if not mask.any() or mask.all():
            have = ", ".join(str(s) for s in sorted(set(rows["seq"])))
            raise UserError(f"--test-seq {test_seq}: need rows with and without it (sequence lengths: {have})")
        return mask
    order = rows.sort_values(["kernel", "phase", "dtype", "seq", "batch", "kv_heads", "pattern", "head_dim"],
                             kind="stable").index.to_numpy()
    mask = np.zeros(len(rows), bool)
    mask[order[1::2]] = True
    return mask


# ------------------------------------------------------------------------------------------- fit


def with_params(hw, p: dict):
    changes = {f"eff_{k}": v for k, v in p.items() if k != "launch"}
    if "launch" in p:
        changes["launch_overhead_s"] = p["launch"] * 1e-6
    return replace(hw, **changes)


def predicted(t: dict, hw) -> np.ndarray:
    """Latency (s) of the attention op of each row, launch overhead included (what the profiler timed)."""
    from perfmodel.predict import evaluate

    return evaluate(t, hw)["latency_attn_s"]


def log_loss(pred, meas, loss: str = "msle") -> float:
    err = np.log(pred / meas)
    return float(np.mean(err**2) if loss == "msle" else np.median(np.abs(err)))


def start_params(hw, params) -> dict:
    start = {"matmul": hw.eff_matmul, "vector": hw.eff_vector, "memory": hw.eff_memory,
             "launch": max(hw.launch_overhead_s * 1e6, _LAUNCH_RANGE_US[0])}
    return {k: start[k] for k in params}


def fit(t: dict, meas: np.ndarray, hw, params=PARAMS, loss: str = "msle",
        prior_width: float = PRIOR_WIDTH) -> tuple[dict, float]:
    """Parameters (efficiencies in (0, 1], launch overhead in us) minimising the loss over the rows of t.

    Objective: log(loss) + sum of (log(p / p_assumed) / log(prior_width))^2 / rows, the negative log
    posterior (per row, up to constants) of log-normal errors of unknown spread under a log-normal
    prior of width prior_width around the device's current values: a pull that decides only what the
    rows cannot tell apart (e.g. matmul and vector when their FLOPs grow together); inf: no pull.

    Coordinate search in log space from the current values: three rounds of a 41-point scan over each
    parameter's whole range, then steps of x2, x1.41, ... down to x1.001 until none improves.
    """
    lo = {k: math.log(_LAUNCH_RANGE_US[0] if k == "launch" else _EFF_RANGE[0]) for k in params}
    hi = {k: math.log(_LAUNCH_RANGE_US[1] if k == "launch" else _EFF_RANGE[1]) for k in params}
    x = {k: math.log(v) for k, v in start_params(hw, params).items()}
    x0 = dict(x)
    weight = 1.0 / (len(meas) * math.log(prior_width) ** 2)

    def f(point):
        pull = weight * sum((v - x0[k]) ** 2 for k, v in point.items())
        err = log_loss(predicted(t, with_params(hw, {k: math.exp(v) for k, v in point.items()})), meas, loss)
        return math.log(max(err, 1e-300)) + pull

    best = f(x)

    def try_values(k, values):
        nonlocal best
        for v in values:
            trial = dict(x, **{k: float(np.clip(v, lo[k], hi[k]))})
            val = f(trial)
            if val < best - 1e-12:
                best, x[k] = val, trial[k]
                return True
        return False

    for _ in range(3):
        for k in params:
            scan = sorted(np.linspace(lo[k], hi[k], 41), key=lambda v, k=k: abs(v - x[k]))
            vals = [(f(dict(x, **{k: v})), v) for v in scan]
            val, v = min(vals, key=lambda pair: pair[0])  # ties: the value nearest the current one
            if val < best - 1e-12:
                best, x[k] = val, v
    step = math.log(2.0)
    while step > math.log(1.001):
        improved = any([try_values(k, (x[k] + step, x[k] - step)) for k in params])
        if not improved:
            step /= 2
    return {k: math.exp(v) for k, v in x.items()}, best


def abs_pct(pred, meas) -> np.ndarray:
    return np.abs(pred / meas - 1.0) * 100.0


def summary(pred, meas) -> tuple[float, float]:
    err = abs_pct(pred, meas)
    return float(np.median(err)), float(np.percentile(err, 90))


# ------------------------------------------------------------------------------------------- report


def row_label(r) -> str:
    return " ".join([str(r[k]) for k in ("kernel", "phase", "variant", "pattern")]
                    + [f"b={r['batch']}", f"n={r['seq']}", f"d={r['head_dim']}", str(r["dtype"])])


def group_table(rows, before, after) -> str:
    """Per (kernel, pattern kind, phase): median measured and predicted latency and median |error| %."""
    kind = rows["pattern"].str.split(":").str[0]
    lines = [f"{'kernel':<15}{'pattern':<9}{'phase':<8}{'rows':>5}{'measured':>11}{'before':>11}{'after':>11}"
             f"{'err before':>12}{'err after':>11}"]
    for (kernel, pattern, phase), idx in rows.groupby([rows["kernel"], kind, rows["phase"]], sort=True).groups.items():
        i = np.asarray(list(idx))
        m, b, a = rows["latency_median_s"].to_numpy()[i], before[i], after[i]
        lines.append(f"{kernel:<15}{pattern:<9}{phase:<8}{len(i):>5}{_ms(np.median(m)):>11}{_ms(np.median(b)):>11}"
                     f"{_ms(np.median(a)):>11}{np.median(abs_pct(b, m)):>11.0f}%{np.median(abs_pct(a, m)):>10.0f}%")
    return "\n".join(lines)


def _ms(seconds) -> str:
    return f"{seconds * 1e3:.3g} ms"


# ------------------------------------------------------------------------------------------- file


def write_yaml_atomic(path: Path, doc: dict) -> None:
    """Write a YAML document with a temp file in the same folder and a rename (never half a file)."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False, width=110)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a profile is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _sig(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


# ------------------------------------------------------------------------------------------- run


def calibrate(csv: str, device: str | None = None, params=PARAMS, loss: str = "msle",
              test_seq: int | None = None, prior_width: float = PRIOR_WIDTH) -> dict:
    """Fit one device's efficiencies to a profile CSV. Returns {"device", "doc": the calibration document
    (as written to profiles/calibrated/ID.yaml), "report": the report text}."""
    from perfmodel.hardware import load_hardware
    from perfmodel.measured import load_profile

    if loss not in ("msle", "median"):
        raise UserError(f"--loss '{loss}': expected msle or median")
    bad = [x for x in params if x not in PARAMS]
    if bad or not params:
        raise UserError(f"--params: unknown '{bad[0] if bad else ''}' (expected a comma list of: {', '.join(PARAMS)})")
    if not prior_width > 1:
        raise UserError(f"--prior-width must be a factor > 1 (inf: no prior), got {prior_width}")
    params = tuple(k for k in PARAMS if k in params)
    dev, rows, skipped = select_rows(load_profile(csv), device)
    base = load_hardware(dev, calibrated=False)
    cpu = _check_cpu(base, rows)
    hw = fit_hardware(base, rows)
    meas = rows["latency_median_s"].to_numpy(dtype=float)
    test = held_out_mask(rows, test_seq)
    if (~test).sum() < len(params):
        raise UserError(f"{(~test).sum()} training rows cannot fit {len(params)} parameters ({', '.join(params)})")
    t_train = workload_table(rows[~test].reset_index(drop=True))
    p, _ = fit(t_train, meas[~test], hw, params, loss, prior_width)
    t = workload_table(rows)
    run = dict(csv=csv, dev=dev, rows=rows, meas=meas, test=test, params=params, p=p, hw=hw,
               before=predicted(t, hw), after=predicted(t, with_params(hw, p)))
    run["train_loss"] = log_loss(run["after"][~test], meas[~test], loss)
    doc = _document(run, cpu, loss, test_seq, prior_width)
    lines = [f"calibrate {dev} on {_display(csv)}: {len(rows)} rows ({int((~test).sum())} train, "
             f"{int(test.sum())} held out" + (f"; {skipped} rows without a full workload skipped" if skipped else "")
             + ")"]
    if hw is not base:
        lines.append(f"measured with {hw.cores} of {base.cores} cores: peaks scaled to {hw.cores} cores for the fit")
    return {"device": dev, "doc": doc, "report": "\n".join(lines + _report(run, doc["fit"]))}


def _document(run: dict, cpu, loss, test_seq, prior_width) -> dict:
    """The calibration file's content (perfmodel.hardware.apply_calibration reads it)."""
    rows, meas, test, p = run["rows"], run["meas"], run["test"], run["p"]
    (med_b, p90_b), (med_a, p90_a) = summary(run["before"][test], meas[test]), summary(run["after"][test], meas[test])
    ti = np.flatnonzero(test)
    w = ti[np.argmax(abs_pct(run["after"][ti], meas[ti]))]
    worst = (f"{row_label(rows.iloc[w])}: measured {_ms(meas[w])}, predicted {_ms(run['after'][w])} "
             f"({(run['after'][w] / meas[w] - 1) * 100:+.0f}%)")
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    source = f"fitted by perfmodel calibrate on {_display(run['csv'])} ({len(rows)} rows) on {when}"
    if not (rows["source"] == "measured").all():
        source = f"fitted on published measurements ({'; '.join(sorted(set(rows['source'])))}): " + source
    doc = {"id": run["dev"], "source": source}
    if cpu is not None:
        doc["cpu"] = cpu
    doc["efficiency"] = {k: _sig(p[k]) for k in ("matmul", "vector", "memory") if k in p}
    if "launch" in p:
        doc["launch_overhead_us"] = _sig(p["launch"]) if p["launch"] > 2 * _LAUNCH_RANGE_US[0] else 0.0
    fit = {"rows": int(len(rows)), "train_rows": int((~test).sum()), "test_rows": int(test.sum()),
           "split": f"held-out seq {test_seq}" if test_seq is not None else "alternate rows",
           "params": [k if k == "launch" else f"efficiency.{k}" for k in run["params"]]}
    threads = rows["threads"].dropna()
    if not threads.empty:
        fit["threads"] = int(threads.iloc[0])
    if cpu is not None:  # the host's bandwidth is measured at load time: the memory efficiency is relative to it
        fit["mem_bw_gbps_at_fit"] = round(run["hw"].mem_bw / 1e9, 2)
    fit.update({
        "median_abs_pct_error_before": round(med_b, 1), "p90_abs_pct_error_before": round(p90_b, 1),
        "median_abs_pct_error_after": round(med_a, 1), "p90_abs_pct_error_after": round(p90_a, 1),
        "worst_row": worst,
        "loss": f"{'mean squared' if loss == 'msle' else 'median absolute'} log error of the training rows: "
                f"{run['train_loss']:.4g} (prior: a factor {prior_width:g} around the assumed values)",
    })
    doc["fit"] = fit
    return doc


def _report(run: dict, fit: dict) -> list[str]:
    lines = ["", "all rows, attention op latency (median per group):",
             group_table(run["rows"], run["before"], run["after"]), ""]
    start = start_params(run["hw"], run["params"])
    for k in run["params"]:
        unit = " us" if k == "launch" else ""
        lines.append(f"  {k + (' overhead' if k == 'launch' else ' efficiency'):<20}{start[k]:>10.4g}{unit} -> "
                     f"{run['p'][k]:.4g}{unit}")
    return lines + [f"held-out rows |error|: median {fit['median_abs_pct_error_before']:.0f}% -> "
                    f"{fit['median_abs_pct_error_after']:.0f}%, p90 {fit['p90_abs_pct_error_before']:.0f}% -> "
                    f"{fit['p90_abs_pct_error_after']:.0f}%", f"worst held-out row: {fit['worst_row']}"]


def _check_cpu(hw, rows):
    """Host only: the CPU name the calibration belongs to; the profile must come from this CPU."""
    if hw.id != "host":
        return None
    from perfmodel.profile import cpu_description

    here = cpu_description()
    there = sorted(set(rows["device_desc"].dropna()))
    if there and there != [here]:
        raise UserError(f"the host rows were measured on '{', '.join(there)}' but this machine is '{here}': "
                        "calibrate a host profile on the machine that measured it")
    return hw.name


def _display(path: str) -> str:
    """A path relative to the working folder when it lies inside it, else as given."""
    rel = os.path.relpath(os.path.abspath(path))
    return path if rel.startswith("..") else rel


def parse_args(argv):
    from perfmodel.cli import _Parser

    p = _Parser(prog="perfmodel calibrate", description=__doc__.split("\n")[0])
    p.add_argument("profile", help="a measured or published profile CSV (perfmodel.measured schema)")
    p.add_argument("--device", help="device id or alias whose rows to fit (default: the profile's only device)")
    p.add_argument("--out", help="calibration file to write (default: profiles/calibrated/ID.yaml)")
    p.add_argument("--dry-run", action="store_true", help="fit and report, write nothing")
    p.add_argument("--params", default="matmul,vector,memory,launch",
                   help="comma list of what to fit: matmul, vector, memory, launch (default: all); "
                        "the others keep the hardware file's values")
    p.add_argument("--loss", default="msle", help="msle (mean squared log error, default) or median "
                                                  "(median absolute log error)")
    p.add_argument("--prior-width", type=float, default=PRIOR_WIDTH,
                   help=f"width (a factor) of the prior around the assumed values (default {PRIOR_WIDTH:g}; "
                        "inf: none)")
    p.add_argument("--test-seq", type=int, help="hold out the rows of this sequence length (default: alternate rows)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Entry point of `perfmodel calibrate`; returns the exit code (2 for the user's errors)."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        params = tuple(x.strip() for x in args.params.split(",") if x.strip())
        res = calibrate(args.profile, args.device, params, args.loss, args.test_seq, args.prior_width)
        print(res["report"])
        if args.dry_run:
            print("dry run: nothing written")
            return 0
        from perfmodel.hardware import profiles_dir

        out = Path(args.out) if args.out else profiles_dir() / "calibrated" / f"{res['device']}.yaml"
        if out.is_dir():
            raise UserError(f"--out {out} is a directory (expected a .yaml file path)")
        write_yaml_atomic(out, res["doc"])
        print(f"wrote {_display(str(out))}")
        return 0
    except UserError as exc:
        print(f"perfmodel calibrate: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)


if __name__ == "__main__":
    sys.exit(main())
