"""`perfmodel` command line: parse, load, call one function, print, return an exit code.

User mistakes print one line on stderr and exit 2; nothing here imports torch, streamlit or plotly.
"""

from __future__ import annotations

import argparse
import sys

from perfmodel.errors import UserError

DEFAULT_MODEL = "llama-3.2-1b"
DEFAULT_SEQ = 4096


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage first by default)
        raise UserError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _keeps(text):
    try:
        keeps = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected keep ratios like 0.8 or 1,0.9,0.8, got '{text}'") from None
    for k in keeps:
        if not 0.0 < k <= 1.0:
            raise argparse.ArgumentTypeError(f"keep ratio {k} out of range (0, 1]")
    return keeps


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _dtype_choice(allowed, what):
    def parse(text):
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"unknown {what} '{text}' (expected one of: {', '.join(allowed)})")
        return text

    return parse


_weight_dtype = _dtype_choice(("fp32", "fp16", "bf16", "fp8", "int8", "int4"), "weights dtype")
_kv_dtype = _dtype_choice(("fp32", "fp16", "bf16", "fp8", "int8", "int4"), "KV cache dtype")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="perfmodel", description="Analytic roofline and IO model of efficient attention.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    p = sub.add_parser("predict", help="predict latency, memory and bounds of attention variants on devices")
    p.add_argument("--hw", default="jetson", help="device id or alias, or a comma list (default: jetson)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help=f"model preset (default: {DEFAULT_MODEL}; see `perfmodel models`)")
    src.add_argument("--config", help="a local Hugging Face style config.json")
    p.add_argument("--heads", type=_positive_int, help="query heads (overrides the model)")
    p.add_argument("--kv-heads", type=_positive_int, help="KV heads (overrides the model)")
    p.add_argument("--head-dim", type=_positive_int, help="head dimension (overrides the model)")
    p.add_argument("--hidden", type=_positive_int, help="hidden size (default: the model's, or heads x head-dim)")
    p.add_argument("--layers", type=_positive_int, help="layers (overrides the model)")
    p.add_argument("--variant", help="mha | mqa | gqa:G | model | all, or a comma list "
                                     "(default: all; with --scope layer|model: model)")
    p.add_argument("--pattern", action="append",
                   help="dense | local:W | strided:S | hybrid:W,G | block:B,DENSITY | block:B,MASKFILE | all; "
                        "repeat the flag (or separate with ';') for several (default: all)")
    p.add_argument("--kernel", help="naive | flash | flash-decoding | all, or a comma list (default: all; with "
                                    "--scope layer|model: flash, flash-decoding in decode)")
    p.add_argument("--phase", default="prefill,decode", help="prefill | decode | train, or a comma list")
    p.add_argument("--scope", default="attention",
                   help="attention: all layers' norm + QKV/O + attention; layer: one transformer layer "
                        "(+ norm, MLP, residuals; --layers N for N); model: embedding + all layers + final norm + "
                        "LM head (default: attention)")
    p.add_argument("--weights", type=_weight_dtype, help="weight dtype: fp32 | fp16 | bf16 | fp8 | int8 | int4 "
                   "(int8/int4 with an fp16 scale per 128 weights; default: --dtype)")
    p.add_argument("--kv-dtype", type=_kv_dtype, help="KV cache dtype: fp32 | fp16 | bf16 | fp8 | int8 | int4 "
                   "(default: --dtype)")
    p.add_argument("--generate", type=_positive_int, metavar="T",
                   help="scope layer/model: latency of generating T tokens after a prompt of --seq tokens")
    p.add_argument("--link-kbps", type=_positive_float, metavar="KBPS",
                   help="scope model: time to send the weights over a link of KBPS kilobit/s")
    p.add_argument("--batch", type=_positive_int, default=1)
    p.add_argument("--seq", type=_positive_int, help=f"tokens (KV cache length in decode; default {DEFAULT_SEQ})")
    p.add_argument("--dtype", default="fp16", help="fp32 | fp16 | bf16 | fp8 | int8 (default fp16)")
    p.add_argument("--causal", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--prune", type=_keeps, default=(), help="token keep ratio per layer (one value: every layer)")
    p.add_argument("--norm", choices=("layernorm", "rmsnorm"), help="default: the model's")
    p.add_argument("--power-mode", help="a published power mode of the device (see `perfmodel hw show`)")
    p.add_argument("--uncalibrated", action="store_true", help="use the assumed efficiencies, not calibration")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    sub.add_parser("profile", help="measure the reference kernels on this CPU or GPU (see profile --help)")
    sub.add_parser("calibrate", help="fit a device's efficiencies to a measured profile (see calibrate --help)")
    hw = sub.add_parser("hw", help="the hardware catalog")
    hw_sub = hw.add_subparsers(dest="hw_command", parser_class=_Parser)
    hw_sub.add_parser("list", help="list devices")
    show = hw_sub.add_parser("show", help="show one device with the source of every number")
    show.add_argument("name")
    sub.add_parser("models", help="list model presets")
    cl = sub.add_parser("claims", help="check published performance claims against the model and physics")
    cl.add_argument("file", nargs="?", help="a claims YAML file (default: profiles/claims/transformer2.yaml)")
    cl.add_argument("--uncalibrated", action="store_true", help="use the assumed efficiencies, not calibration")
    cl.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "calibrate":  # fits efficiencies to a measured profile
            from perfmodel.calibrate import main as calibrate_main

            return calibrate_main(argv[1:])
        if argv and argv[0] == "profile":  # the profiler owns its flags (imports torch, so kept apart)
            from perfmodel.profile import main as profile_main

            return profile_main(argv[1:])
        args = build_parser().parse_args(argv)
        if args.command == "predict":
            from perfmodel.commands import run_predict

            return run_predict(args)
        if args.command == "hw":
            from perfmodel.commands import run_hw

            return run_hw(args)
        if args.command == "claims":
            from perfmodel.claims import run_claims

            return run_claims(args)
        if args.command == "models":
            from perfmodel.commands import run_models

            return run_models()
        build_parser().print_help()
        return 2
    except UserError as exc:
        print(f"perfmodel: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("perfmodel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
