"""Interactive explorer over perfmodel's public API: `streamlit run app.py`.

Thin by design: `*_ui()` functions draw widgets and return the user's choices, `main()` wires them to
`perfmodel.predict` (cached) and to the figure builders in perfmodel/figures.py. The app computes no
model quantity itself. Device, model, seq, batch, dtype, phase and scope live in the URL query
parameters, so a link reproduces the view.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import streamlit as st

from perfmodel import UserError, Workload, figures, load_hardware, load_model, predict
from perfmodel import workload as W
from perfmodel.commands import default_patterns
from perfmodel.hardware import hardware_ids, resolve
from perfmodel.models import model_ids

TITLE = "Attention co-design explorer"
CUSTOM = "custom"
DEFAULTS = {"device": "h100-sxm", "model": "llama-3.2-1b", "seq": 4096, "batch": 1, "dtype": "fp16",
            "phase": "prefill", "scope": "attention"}
SHARED = ("device", "model", "seq", "batch", "dtype", "phase", "scope")  # widget keys mirrored in the URL
SWEEP_SEQS = [2**k for k in range(7, 18)]  # 128 .. 131072 tokens
SCOPES = getattr(W, "SCOPES", ("attention",))
HAS_DTYPES = {"weights", "kv_dtype"} <= set(W.FIELDS)
WEIGHT_DTYPES = getattr(W, "WEIGHT_DTYPES", ("fp32", "fp16", "bf16", "fp8", "int8"))


# ------------------------------------------------------------------ cached calls into the public API
@st.cache_data(show_spinner=False, max_entries=256)
def cached_predict(rows: list[dict], hw_id: str) -> pd.DataFrame:
    return predict(pd.DataFrame(rows), hw_id)


@st.cache_data(show_spinner=False)
def cached_hardware(hw_id: str):
    return load_hardware(hw_id)


@st.cache_data(show_spinner=False)
def cached_model(model_id: str):
    return load_model(model_id)


def predict_devices(rows: list[dict], devices: list[str]) -> pd.DataFrame | None:
    """Predictions on every device; each distinct UserError (e.g. a device without an fp8 peak, a
    mistyped pattern) is one st.error line, and the devices that worked are still shown."""
    frames, errors = [], []
    for dev in devices:
        try:
            frames.append(cached_predict(rows, dev))
        except UserError as exc:
            errors.append(str(exc))
    for msg in dict.fromkeys(errors):
        st.error(msg)  # device-specific messages name the device
    return pd.concat(frames, ignore_index=True) if frames else None


def accelerator_api():
    """(hw.cycles, hw.config, hw.jobs) when the accelerator's cycle model is importable, else None."""
    try:
        mods = tuple(importlib.import_module(f"hw.{m}") for m in ("cycles", "config", "jobs"))
    except ImportError:
        return None
    cycles, config, jobs = mods
    if not (callable(getattr(cycles, "predict", None)) and isinstance(getattr(config, "PRESETS", None), dict)
            and callable(getattr(jobs, "random_mask", None))):
        return None
    return mods


def accel_targets(configs: tuple) -> pd.DataFrame | None:
    """hw.accel.accel_hardware per configuration (the accelerator as a roofline target), when present."""
    try:
        accel = importlib.import_module("hw.accel")
    except ImportError:
        return None
    describe = getattr(accel, "accel_hardware", None)
    if not callable(describe):
        return None
    presets = accelerator_api()[1].PRESETS
    return pd.DataFrame([{"config": name, **describe(presets[name])} for name in configs])


@st.cache_data(show_spinner=False)
def accelerator_sweep(configs: tuple, densities: tuple, latency: int, rsp_gap: int, seed: int) -> pd.DataFrame:
    """hw.cycles.predict over random block masks at each density, for each preset configuration."""
    cycles, config, jobs = accelerator_api()
    rows = []
    for name in configs:
        cfg = config.PRESETS[name]
        nb = cfg.max_blocks
        for density in densities:
            mask = jobs.random_mask(np.random.default_rng(seed), nb, nb, density)
            res = cycles.predict(cfg, mask, nb, latency=latency, rsp_gap=rsp_gap)
            rows.append({"config": name, "block": cfg.block, "head_dim": cfg.head_dim, "macs": cfg.macs,
                         "blocks": nb, "density": density, **res})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ URL <-> widget state
def init_state() -> None:
    """First run of a session: widget values from the URL query parameters (bad ones are warned about)."""
    if st.session_state.get("_initialised"):
        return
    st.session_state["_initialised"] = True
    qp = st.query_params
    devices = []
    for name in qp.get("device", DEFAULTS["device"]).split(","):
        try:
            devices.append(resolve(name))
        except UserError as exc:
            st.warning(f"URL: {exc}")
    st.session_state["device"] = list(dict.fromkeys(devices)) or [DEFAULTS["device"]]
    model = qp.get("model", DEFAULTS["model"])
    if model not in model_ids() + [CUSTOM]:
        st.warning(f"URL: unknown model '{model}', showing {DEFAULTS['model']}")
        model = DEFAULTS["model"]
    st.session_state["model"] = model
    for key in ("seq", "batch"):
        try:
            value = int(qp.get(key, DEFAULTS[key]))
            if value < 1:
                raise ValueError
        except ValueError:
            st.warning(f"URL: {key} must be a positive integer, got '{qp.get(key)}'")
            value = DEFAULTS[key]
        st.session_state[key] = value
    for key, allowed in (("dtype", W.ACT_DTYPES), ("phase", W.PHASES), ("scope", SCOPES)):
        value = qp.get(key, DEFAULTS[key])
        if value not in allowed:
            st.warning(f"URL: unknown {key} '{value}' (expected one of: {', '.join(allowed)})")
            value = DEFAULTS[key]
        st.session_state[key] = value


def sync_url() -> None:
    want = {k: (",".join(st.session_state[k]) if k == "device" else str(st.session_state[k])) for k in SHARED}
    if {k: st.query_params.get(k) for k in SHARED} != want:
        st.query_params.update(want)


def multiselect(where, label: str, options: list, default: list, key: str, **kwargs) -> list:
    """A multiselect whose options may change between runs (they follow seq, phase, model): values that
    are no longer options are dropped; a selection still equal to the previous default follows the new
    default (so switching to decode adds flash-decoding unless the user picked kernels by hand)."""
    last = st.session_state.get(f"_default_{key}")
    st.session_state[f"_default_{key}"] = list(default)
    if key not in st.session_state:
        return where.multiselect(label, options, default=default, key=key, **kwargs)
    value = st.session_state[key]
    kept = list(default) if value == last else [v for v in value if v in options]
    if kept != value:
        st.session_state[key] = kept or list(default)
    return where.multiselect(label, options, key=key, **kwargs)


# ------------------------------------------------------------------ widgets
def sidebar_ui() -> dict:
    """The workload every page shares: devices, model shape, seq, batch, dtype, phase (and scope)."""
    sb = st.sidebar
    sb.header("Workload")
    sb.multiselect("Devices", hardware_ids(), key="device")
    sb.selectbox("Model", model_ids() + [CUSTOM], key="model")
    c = {"devices": st.session_state["device"], "model": st.session_state["model"]}
    if c["model"] == CUSTOM:
        cols = sb.columns(2)
        c["heads"] = cols[0].number_input("heads", 1, 1024, 32, key="heads")
        c["kv_heads"] = cols[1].number_input("kv_heads", 1, 1024, 8, key="kv_heads")
        c["head_dim"] = cols[0].number_input("head_dim", 1, 1024, 128, key="head_dim")
        c["layers"] = cols[1].number_input("layers", 1, 512, 32, key="layers")
        if len(SCOPES) > 1:  # layer / model scope: the MLP width and the vocabulary
            c["ffn"] = cols[0].number_input("ffn", 1, 1 << 20, 14336, key="ffn")
            c["vocab"] = cols[1].number_input("vocab", 1, 1 << 22, 32000, key="vocab")
    c["seq"] = sb.number_input("Sequence length (KV cache in decode)", 1, 1 << 22, key="seq")
    c["batch"] = sb.number_input("Batch", 1, 4096, key="batch")
    c["dtype"] = sb.selectbox("dtype", W.ACT_DTYPES, key="dtype")
    c["phase"] = sb.selectbox("Phase", W.PHASES, key="phase")
    c["causal"] = sb.checkbox("Causal", True, key="causal")
    c["scope"] = sb.selectbox("Scope", SCOPES, key="scope") if len(SCOPES) > 1 else st.session_state["scope"]
    if HAS_DTYPES and c["scope"] != "attention":
        c["weights"] = sb.selectbox("Weights dtype", (None, *WEIGHT_DTYPES), key="weights",
                                    format_func=lambda d: d or "= dtype")
        c["kv_dtype"] = sb.selectbox("KV cache dtype", (None, *WEIGHT_DTYPES), key="kv_dtype",
                                     format_func=lambda d: d or "= dtype")
    return c


def base_workload(c: dict) -> Workload:
    """The sidebar's workload (raises UserError for an impossible shape)."""
    extra = {k: c[k] for k in ("weights", "kv_dtype") if k in c}
    common = dict(seq=int(c["seq"]), batch=int(c["batch"]), dtype=c["dtype"], phase=c["phase"], causal=c["causal"],
                  kernel="flash", pattern="dense", **extra)
    if c["scope"] != "attention":
        common["scope"] = c["scope"]
    if c["model"] == CUSTOM:
        sizes = {k: int(c[k]) for k in ("ffn", "vocab") if k in c}
        return Workload(heads=int(c["heads"]), kv_heads=int(c["kv_heads"]), head_dim=int(c["head_dim"]),
                        layers=int(c["layers"]), **sizes, **common)
    return Workload.from_model(cached_model(c["model"]), **common)


def variant_options(heads: int, kv_heads: int) -> dict[str, int]:
    """Variant label -> KV heads: MHA, the model's own GQA (or a quarter of the heads), MQA."""
    gqa = kv_heads if 1 < kv_heads < heads else next((g for g in range(max(heads // 4, 1), 1, -1) if heads % g == 0),
                                                      None)
    kvs = [heads] + ([gqa] if gqa else []) + [1]
    return {W.variant_label(heads, kv): kv for kv in dict.fromkeys(kvs)}


def comparison_ui(base: Workload) -> dict:
    """Which variants x patterns x kernels to compare (sidebar, shared by every page)."""
    sb = st.sidebar
    sb.header("Comparison")
    variants = variant_options(base.heads, base.kv_heads)
    chosen = multiselect(sb, "Variants", list(variants), list(variants), "variants")
    patterns = {p.split(":")[0]: p for p in default_patterns(base.seq)}  # kind -> pattern at this seq
    kinds = multiselect(sb, "Patterns", list(patterns), list(patterns), "patterns", format_func=patterns.get)
    pats = [patterns[k] for k in kinds]
    extra = sb.text_input("More patterns (';'-separated, e.g. local:1024; block:128,0.5)", key="extra_patterns")
    pats = list(dict.fromkeys(pats + [p.strip() for p in extra.split(";") if p.strip()]))
    kernels = [k for k in W.KERNELS if k != "flash-decoding" or base.phase == "decode"]
    ks = multiselect(sb, "Kernels", kernels, kernels, "kernels")
    return {"heads": base.heads, "kv_heads": [variants[v] for v in chosen], "patterns": pats, "kernels": ks}


def workload_rows(base: Workload, comp: dict, seqs=None) -> list[dict]:
    """One row per (seq, variant, pattern, kernel): predict()'s DataFrame input."""
    rows = []
    for seq in seqs or [base.seq]:
        for kv in comp["kv_heads"]:
            for pat in comp["patterns"]:
                for k in comp["kernels"]:
                    rows.append({**base.as_dict(), "seq": int(seq), "kv_heads": kv, "pattern": pat, "kernel": k})
    return rows


# ------------------------------------------------------------------ pages
def compare_page(df: pd.DataFrame) -> None:
    st.plotly_chart(figures.latency_bars(df), width="stretch", key="bars")
    table = figures.summary_table(df)
    fmt = {c: st.column_config.NumberColumn(c, format="%.4g") for c in table.columns if table[c].dtype.kind == "f"}
    st.dataframe(table, hide_index=True, width="stretch", column_config=fmt)
    cal = "calibrated" if df["calibrated"].all() else "assumed (uncalibrated)"
    st.caption(f"{len(df)} predictions; device efficiencies: {cal}.")
    st.download_button("Download CSV", df.to_csv(index=False), "predictions.csv", "text/csv")


def roofline_page(df: pd.DataFrame, dtype: str) -> None:
    devices = list(dict.fromkeys(df["hw"]))
    dev = st.selectbox("Device", devices, key="roof_device") if len(devices) > 1 else devices[0]
    hw = cached_hardware(dev)
    try:
        peak = hw.peak(dtype)
    except UserError as exc:
        st.error(str(exc))
        return
    fig = figures.roofline(df[df["hw"] == dev], peak * hw.eff_matmul, hw.mem_bw * hw.eff_memory, title=hw.name)
    st.plotly_chart(fig, width="stretch", key="roofline")
    st.caption(f"Ceilings at {dtype}: {peak / 1e12:.4g} TFLOP/s x matmul efficiency {hw.eff_matmul:.2g}, "
               f"{hw.mem_bw / 1e9:.4g} GB/s x memory efficiency {hw.eff_memory:.2g} "
               f"({'calibrated' if hw.calibrated else 'assumed'}). Points: achieved FLOP/s of each workload.")


def sweep_ui(comp: dict, devices: list[str]) -> tuple[dict, list[str], list[int]]:
    """Which lines to sweep (a subset of the comparison: by default every variant, two patterns, flash)."""
    c1, c2, c3, c4 = st.columns(4)
    variants = {W.variant_label(comp["heads"], kv): kv for kv in comp["kv_heads"]}
    chosen = multiselect(c1, "Variants", list(variants), list(variants), "sweep_variants")
    pats = multiselect(c2, "Patterns", comp["patterns"], comp["patterns"][:2], "sweep_patterns")
    kernels = multiselect(c3, "Kernels", comp["kernels"], [k for k in comp["kernels"] if k != "naive"][:1]
                          or comp["kernels"], "sweep_kernels")
    devs = multiselect(c4, "Devices", devices, devices[:1], "sweep_devices")
    lo, hi = st.select_slider("Sequence lengths", SWEEP_SEQS, value=(512, 65536), key="sweep_range")
    seqs = [s for s in SWEEP_SEQS if lo <= s <= hi]
    return {**comp, "kv_heads": [variants[v] for v in chosen], "patterns": pats, "kernels": kernels}, devs, seqs


def sweep_page(base: Workload, comp: dict, devices: list[str]) -> None:
    sweep, devs, seqs = sweep_ui(comp, devices)
    rows = workload_rows(base, sweep, seqs)
    if not rows or not devs:
        st.info("Pick at least one pattern, kernel and device.")
        return
    df = predict_devices(rows, devs)
    if df is None:
        return
    caps = {d: cached_hardware(d).mem_capacity for d in dict.fromkeys(df["hw"])}
    st.plotly_chart(figures.sweep(df, caps), width="stretch", key="sweep")


def accelerator_ui(presets: dict) -> dict:
    c1, c2, c3 = st.columns(3)
    configs = c1.multiselect("Configurations", list(presets), default=list(presets), key="acc_configs")
    latency = c2.number_input("Memory latency (cycles)", 0, 1000, 4, key="acc_latency")
    gap = c3.number_input("Cycles per response beat", 1, 64, 1, key="acc_gap")
    return {"configs": tuple(configs), "latency": int(latency), "rsp_gap": int(gap)}


def accelerator_page() -> None:
    api = accelerator_api()
    if api is None:
        st.info("The accelerator model is not available (the `hw` package's cycle model, hw/cycles.py, "
                "cannot be imported here).")
        return
    presets = api[1].PRESETS
    choice = accelerator_ui(presets)
    if not choice["configs"]:
        st.info("Pick at least one configuration.")
        return
    densities = tuple(np.round(np.linspace(0.1, 1.0, 10), 2))
    df = accelerator_sweep(choice["configs"], densities, choice["latency"], choice["rsp_gap"], seed=0)
    st.plotly_chart(figures.cycles_vs_density(df), width="stretch", key="cycles")
    st.caption("hw.cycles.predict on random block masks (blocks x blocks = max_blocks per side, seed 0); "
               "busy = engine cycles, total = with memory and epilogue stalls.")
    targets = accel_targets(choice["configs"])
    if targets is not None:
        clock = dict(zip(targets["config"], targets["clock_hz"]))
        df = df.assign(time_us=[c / clock[n] * 1e6 for n, c in zip(df["config"], df["total_cycles"])])
        st.subheader("As a roofline target (hw.accel)")
        st.dataframe(targets, hide_index=True, width="stretch")
    st.dataframe(df, hide_index=True, width="stretch")
    compare_section(presets)


@st.cache_data(show_spinner=False)
def accelerator_compare(config: str, cores: int, seq: int, density: float, heads: int, devices: tuple) -> pd.DataFrame:
    """hw.compare: the accelerator (cycle model, event energies) beside perfmodel on catalog devices."""
    compare = importlib.import_module("hw.compare")
    config_mod = accelerator_api()[1]
    preset = config_mod.PRESETS[config]
    cfg = config_mod.config_for(preset.block, preset.head_dim, seq // preset.block, preset.macs)
    rows = [compare.accelerator_point(cfg, seq, density, heads, cores)]
    rows += compare.device_points(list(devices), heads, cfg.head_dim, seq, 1, cfg.block, rows[0]["density"])
    df = pd.DataFrame(rows)[["target", "latency_s", "energy_j", "bound", "note"]]
    return df.assign(**{"x time": df["latency_s"] / df["latency_s"].iloc[0],
                        "x energy": df["energy_j"] / df["energy_j"].iloc[0]})


def compare_section(presets: dict) -> None:
    try:
        importlib.import_module("hw.compare")
    except ImportError:
        return
    st.subheader("Against the devices (hw.compare)")
    c1, c2, c3, c4 = st.columns(4)
    config = c1.selectbox("Configuration", list(presets), index=len(presets) - 1, key="cmp_config")
    cores = int(c2.number_input("Cores", 1, 1024, 1, key="cmp_cores"))
    seq = int(c3.selectbox("Sequence", [256, 512, 1024, 2048], index=2, key="cmp_seq"))
    density = float(c4.slider("Density", 0.05, 1.0, 0.25, 0.05, key="cmp_density"))
    devices = multiselect(st, "Devices", hardware_ids(), ["jetson-orin-nano", "jetson-agx-orin", "rpi5"], "cmp_devices")
    try:
        table = accelerator_compare(config, cores, seq, density, 32, tuple(devices))
    except UserError as exc:
        st.error(str(exc))
        return
    st.dataframe(table, hide_index=True, width="stretch", key="cmp_table")
    st.caption("32 heads, batch 1, one concrete random block mask. x time / x energy: each target over the "
               "accelerator (above 1: the accelerator is faster / spends less). Accelerator clock and process "
               "assumed; device energy = its power x the predicted time.")


def workload_pages(choice: dict, notes, tabs) -> None:
    """Compare, Roofline and Sweep (one prediction table shared by the first two); errors and hints that
    concern every page go to `notes`, above the tabs."""
    try:
        base = base_workload(choice)
    except UserError as exc:  # e.g. custom kv_heads not dividing heads
        notes.error(str(exc))
        return
    comp = comparison_ui(base)
    rows = workload_rows(base, comp)
    if not rows:
        notes.info("Pick at least one variant, pattern and kernel in the sidebar.")
        return
    with notes:
        df = predict_devices(rows, choice["devices"])  # a mistyped pattern, a device without the dtype, ...
    if df is None:
        return
    with tabs[0]:
        compare_page(df)
    with tabs[1]:
        roofline_page(df, choice["dtype"])
    with tabs[2]:
        try:
            sweep_page(base, comp, choice["devices"])
        except UserError as exc:
            st.error(str(exc))


def main() -> None:
    st.set_page_config(page_title=TITLE, layout="wide")
    st.title(TITLE)
    init_state()
    choice = sidebar_ui()
    sync_url()
    notes = st.container()
    tabs = st.tabs(["Compare", "Roofline", "Sweep", "Accelerator"])
    if choice["devices"]:
        workload_pages(choice, notes, tabs)
    else:
        notes.info("Pick at least one device in the sidebar.")
    with tabs[3]:
        accelerator_page()


if __name__ == "__main__":
    main()
