"""CLI: `python -m hw simulate --block B --head-dim D --seq N --density S --seed K [--json]`
(also `area` and `hardware`). User errors: one line on stderr, exit code 2."""

from __future__ import annotations

import argparse
import json
import sys

from hw.config import COUNTERS, PRESETS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        print(f"hw: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m hw", description="Block-sparse attention accelerator: RTL simulation, area, roofline."
    )
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    s = sub.add_parser("simulate", help="build (cached) and run one RTL simulation of a random job")
    s.add_argument("--block", type=int, required=True,
                   help="block size B (a power of two; a new configuration is built on first use, then cached)")
    s.add_argument("--head-dim", type=int, required=True, help="head dimension D")
    s.add_argument("--seq", type=int, required=True, help="sequence length N (a multiple of B)")
    s.add_argument("--density", type=float, required=True, help="fraction of key blocks visited, in [0, 1]")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--kind",
        choices=["gaussian", "outliers", "uniform", "int", "min", "max"],
        default="gaussian",
        help="input distribution",
    )
    s.add_argument("--latency", type=int, default=4, help="memory latency in cycles")
    s.add_argument(
        "--rsp-gap", type=int, default=1, help="cycles per memory response beat (1 row of D bytes)"
    )
    s.add_argument("--macs", type=int, help="MACs per cycle P (default: the preset's, else min(B, D, 8))")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    c = sub.add_parser("compare", help="the accelerator against GPUs and edge devices on one attention workload")
    c.add_argument("--block", type=int, default=8, help="block size B (a power of two)")
    c.add_argument("--head-dim", type=int, default=64, help="head dimension D (a power of two)")
    c.add_argument("--macs", type=int, help="MACs per cycle P of one core (default: the preset's, else min(B, D, 8))")
    c.add_argument("--cores", type=int, default=1, help="copies of the core working on heads in parallel")
    c.add_argument("--seq", type=int, default=1024, help="sequence length N (a multiple of B)")
    c.add_argument("--density", type=float, default=0.25, help="fraction of key blocks visited, in [0, 1]")
    c.add_argument("--heads", type=int, default=32, help="attention heads (each a job)")
    c.add_argument("--batch", type=int, default=1)
    c.add_argument("--hw", default="jetson-orin-nano,jetson-agx-orin,rpi5,h100-sxm", help="devices (perfmodel ids)")
    c.add_argument("--clock-ghz", type=float, default=1.0, help="accelerator clock (assumed)")
    c.add_argument("--rsp-gap", type=int, default=1, help="cycles per memory beat of D bytes (memory bandwidth)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--json", action="store_true")
    a = sub.add_parser("area", help="yosys cell counts and assumed area of a configuration")
    a.add_argument("--config", choices=list(PRESETS), default="mid")
    a.add_argument("--synth", action="store_true", help="rerun yosys instead of reading the cache")
    a.add_argument("--json", action="store_true")
    h = sub.add_parser("hardware", help="the accelerator as a roofline target")
    h.add_argument("--config", choices=list(PRESETS), default="mid")
    return p


def print_simulation(r: dict) -> None:
    print(
        f"config {r['config']} (B={r['block']}, D={r['head_dim']}, P={r['macs_per_cycle']} MACs/cycle), "
        f"seq {r['seq']}, density {r['density']}, seed {r['seed']}, inputs {r['kind']}"
    )
    print(f"key blocks visited {r['blocks_visited']} of {r['blocks_total']}")
    for name in COUNTERS:
        print(f"  {name:18s} {r['counters'][name]}")
    print(f"MAC utilisation (busy/total): {100 * r['utilisation']:.1f}%")
    print(
        f"output matches golden model bit for bit: {'yes' if r['bit_exact'] else 'NO'}; "
        f"event counters match: {'yes' if r['counters_match_golden'] else 'NO'}"
    )
    if "error_vs_fp32" in r:
        e = r["error_vs_fp32"]
        print(
            f"error vs fp32 attention (relative to max|V|): max {e['max_abs_err_rel']:.2e}, rms {e['rms_err_rel']:.2e}"
        )
        e8, q8 = r["error_vs_int8_reference"], r["int8_reference_error_vs_fp32"]
        print(
            f"  of which INT8 input quantisation alone: max {q8['max_abs_err_rel']:.2e}; the accelerator's "
            f"arithmetic vs fp32 on the quantised inputs: max {e8['max_abs_err_rel']:.2e}, rms {e8['rms_err_rel']:.2e}"
        )
    print(
        f"cycle model: {r['predicted_total_cycles']} predicted total cycles ({100 * r['cycle_model_error']:+.2f}%)"
    )
    en = r["energy"]
    print(
        f"estimated energy: {en['total_j'] * 1e9:.2f} nJ (on-chip {en['on_chip_j'] * 1e9:.2f} nJ, "
        f"off-chip {en['off_chip_j'] * 1e9:.2f} nJ); {en['assumptions']}"
    )
    flags = [k for k, v in r["errors"].items() if v]
    print(f"error flags: {', '.join(flags) if flags else 'none'}")


MAX_COMPARE_VISITS = 400_000  # block visits the cycle model walks in Python (a few seconds)


def run_compare(args) -> int:
    from hw.compare import accelerator_point, device_points  # noqa: PLC0415
    from hw.simulate import UserError, check_config  # noqa: PLC0415
    from perfmodel.errors import UserError as PerfUserError  # noqa: PLC0415

    try:
        cfg = check_config(args.block, args.head_dim, args.seq, args.density, args.macs)
        n = args.seq // args.block
        for flag, value in (("--heads", args.heads), ("--batch", args.batch), ("--cores", args.cores),
                            ("--rsp-gap", args.rsp_gap)):
            if value < 1:
                raise UserError(f"{flag} must be >= 1, got {value}")
        if not args.clock_ghz > 0 or args.seed < 0:
            raise UserError("--clock-ghz must be > 0 and --seed >= 0")
        if args.density * n * n > MAX_COMPARE_VISITS:
            raise UserError(f"{args.density * n * n:,.0f} block visits per head is over {MAX_COMPARE_VISITS:,}: "
                            "use a larger --block, a smaller --seq or --density")
        rows = [accelerator_point(cfg, args.seq, args.density, args.heads * args.batch, args.cores, args.seed,
                                  rsp_gap=args.rsp_gap, clock_hz=args.clock_ghz * 1e9)]
        rows += device_points([h for h in args.hw.split(",") if h.strip()], args.heads, args.head_dim, args.seq,
                              args.batch, args.block, rows[0]["density"])
    except (UserError, PerfUserError) as exc:
        print(f"hw: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    acc = rows[0]
    print(f"attention core: batch {args.batch} x {args.heads} heads, seq {args.seq}, head dim {args.head_dim}, "
          f"block {args.block}, density {acc['density']:.3f} (one concrete random block mask)")
    print(f"{'target':<26} {'latency':>12} {'energy':>12} {'x time':>8} {'x energy':>9}  bound / note")
    for r in rows:
        print(f"{r['target']:<26} {r['latency_s'] * 1e3:>10.4g} ms {r['energy_j'] * 1e3:>9.4g} mJ "
              f"{r['latency_s'] / acc['latency_s']:>8.3g} {r['energy_j'] / acc['energy_j']:>9.3g}  "
              f"{r['bound']}: {r['note']}")
    print("x time / x energy: each target relative to the accelerator (above 1: the accelerator is faster / "
          "spends less)")
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.cmd == "simulate":
        from hw.simulate import UserError, simulate  # noqa: PLC0415

        try:
            r = simulate(
                args.block,
                args.head_dim,
                args.seq,
                args.density,
                args.seed,
                args.kind,
                args.latency,
                args.rsp_gap,
                args.macs,
            )
        except UserError as exc:
            print(f"hw: error: {exc}", file=sys.stderr)
            return 2
        except RuntimeError as exc:  # the tools (Verilator, a C++ compiler) are missing or failed
            print(f"hw: simulation failed: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(r, indent=1))
        else:
            print_simulation(r)
        return 0 if r["bit_exact"] else 1
    if args.cmd == "compare":
        return run_compare(args)
    if args.cmd == "area":
        from hw.area import area  # noqa: PLC0415

        r = area(PRESETS[args.config], synth=args.synth)
        if args.json:
            print(json.dumps(r, indent=1))
        else:
            print(
                f"{r['label']}: {r['cells']} generic cells ({r['flops']} flops, {r['gates']} gates = "
                f"{r['gate_nand2_eq']} NAND2-eq); ~{r['area_um2_assumed_40nm'] / 1e6:.3f} mm^2 (assumed 40 nm)"
            )
        return 0
    from hw.accel import accel_hardware  # noqa: PLC0415

    print(json.dumps(accel_hardware(PRESETS[args.config]), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
