"""Convert ../shared/facts/published-measurements.csv into the profile schema (perfmodel.measured).

Run from anywhere: python profiles/published/make_published.py [OUT]. Rows whose value is not a number
(the IO-complexity formulas) are skipped; every field the source does not give stays empty."""

import csv
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from perfmodel.measured import COLUMNS, format_row, header_line  # noqa: E402
from perfmodel.predict import predict  # noqa: E402
from perfmodel.workload import Workload  # noqa: E402

SRC = os.path.join(ROOT, "..", "shared", "facts", "published-measurements.csv")
DEV = {
    "A100 SXM4 80GB": "a100-80gb",
    "H100 SXM5": "h100-sxm",
    "RTX 4090": "rtx-4090",
    "Jetson Orin Nano 8GB (original clocks)": "jetson-orin-nano",
    "Raspberry Pi 5 8GB": "rpi5",
    "Raspberry Pi 5 16GB": "rpi5",
}
rows = []
for i, r in enumerate(csv.DictReader(open(SRC)), start=2):
    out = {c: None for c in COLUMNS}
    out.update(
        source=r["source"],
        device=DEV.get(r["device"], r["device"]),
        device_desc=r["device"],
        metric=r["metric"],
        unit=r["unit"],
    )
    try:
        out["value"] = float(r["value"])
    except ValueError:
        print(f"skip line {i}: not a number ({r['value'][:40]}...)", file=sys.stderr)
        continue
    cfg, what = r["config"], r["what"]
    note = [f"facts line {i}: {what}; config: {cfg}"] + ([r["note"]] if r["note"] else [])
    work = None
    if r["source"].startswith("FlashAttention-2 paper sec 4.1"):
        seq = int(cfg.split("seq ")[-1])
        batch = 16384 // seq
        kernel = "naive" if "PyTorch standard" in what else "flash"
        out.update(
            dtype="fp16",
            variant="mha",
            pattern="dense",
            kernel=kernel,
            phase="train",
            causal=True,
            batch=batch,
            heads=32,
            kv_heads=32,
            head_dim=64,
            seq=seq,
        )
        flops = 3.5 * 0.5 * 4 * seq * seq * 64 * 32 * batch  # paper convention: causal halves, bwd = 2.5x fwd
        out["latency_median_s"] = flops / (out["value"] * 1e12)
        note.append(
            "heads = hidden 2048 / head_dim 64 = 32, batch = 16384 / seq; dtype fp16 (paper: fp16/bf16); "
            "latency derived = paper FLOPs (3.5 x 0.5 x 4 seq^2 d H B) / throughput"
        )
        work = Workload(
            heads=32,
            head_dim=64,
            batch=batch,
            seq=seq,
            kernel=kernel,
            phase="train",
            dtype="fp16",
            causal=True,
        )
    elif r["source"].startswith("FlashAttention-2 paper abstract"):
        out.update(kernel="flash", phase="prefill")
    elif r["source"].startswith("FlashAttention-3"):
        d = int(cfg.split("head_dim ")[1].split(",")[0])
        out.update(
            dtype="fp16",
            pattern="dense",
            kernel="flash",
            phase="prefill",
            causal=cfg.startswith("causal"),
            head_dim=d,
            seq=16384,
        )
        if "batch*seq = 16k" in cfg:
            out["batch"] = 1
        note.append("heads not given in the fact (hidden size not stated): left empty")
    elif r["source"].startswith("TVM"):
        out.update(
            kernel="flash",
            phase="prefill",
            pattern="dense",
            causal=cfg.startswith("causal"),
            head_dim=128,
            seq=2048,
            dtype="fp16",
        )
        note.append("dtype fp16 assumed (TVM flash_perf benchmark)")
    elif "decode" in r["metric"]:
        out.update(phase="decode", batch=1)
        note.append(
            "whole-model decode with INT4 weights (not the attention op alone); seconds per token = 1 / value"
        )
    elif r["source"].startswith("Mistral"):
        out.update(pattern="local:4096", kernel="flash", phase="prefill", seq=16384, causal=True)
        note.append("speedup of sliding-window over vanilla attention")
    out["note"] = "; ".join(note)
    if work is not None:
        p = predict(work, out["device"], calibrated=False).iloc[0]
        out.update(
            model_flops=float(p.flops_attn),
            model_bytes=float(p.bytes_attn),
            model_exec_flops_attn_matmul=float(p.exec_flops_attn_matmul),
            model_flops_attn_matmul=float(p.flops_attn_matmul),
            model_latency_s=float(p.latency_attn_s),
        )
    rows.append(out)
OUT = (
    sys.argv[1]
    if len(sys.argv) > 1
    else os.path.join(ROOT, "profiles", "published", "published-measurements.csv")
)
with open(OUT, "w") as f:
    f.write(header_line())
    for row in rows:
        f.write(format_row(row))
print(len(rows), "rows")
