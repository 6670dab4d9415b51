"""Hardware descriptions: load profiles/hardware/NAME.yaml (units in key names) into SI units.

Every quantity in a file is `{value: number, source: "where it comes from"}`. Efficiency factors
(fraction of peak that real kernels reach) start as "assumed" in the hardware file and are replaced
by profiles/calibrated/NAME.yaml when that exists (unless the caller asks for uncalibrated).
`host` is not a file: it is the CPU this runs on, detected at run time (see perfmodel.host).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from perfmodel.errors import UserError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DTYPES = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
KINDS = ("gpu", "edge-gpu", "cpu", "accelerator")


def profiles_dir() -> Path:
    """The profiles/ folder: $PERFMODEL_PROFILES, else the one beside the package."""
    env = os.environ.get("PERFMODEL_PROFILES")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "profiles"


@dataclass(frozen=True)
class Hardware:
    """One device in SI units (FLOP/s, byte/s, byte, s, W)."""

    id: str
    name: str
    kind: str
    description: str
    peak_flops: dict  # dtype -> FLOP/s on the matrix (tensor-core / SIMD-matmul) path
    vector_flops: float  # FP32 non-matrix FLOP/s (softmax, norms)
    mem_bw: float  # byte/s
    mem_capacity: float  # byte
    sram_per_core: float  # byte of on-chip memory one core (SM) can tile into
    cores: int
    clock_hz: float
    launch_overhead_s: float
    power_w: float
    eff_matmul: float
    eff_vector: float
    eff_memory: float
    l2: float | None = None  # byte
    power_modes: dict = field(default_factory=dict)  # mode -> W
    power_mode: str | None = None
    aliases: tuple = ()
    sources: dict = field(default_factory=dict)  # key -> source text
    calibrated: bool = False
    calibration_source: str | None = None

    def peak(self, dtype: str) -> float:
        if dtype not in self.peak_flops:
            have = ", ".join(sorted(self.peak_flops))
            raise UserError(f"hardware '{self.id}' has no {dtype} matrix peak (it has: {have})")
        return self.peak_flops[dtype]

    @property
    def assumptions(self) -> list[str]:
        """Keys whose value is assumed rather than published or measured."""
        return sorted(k for k, s in self.sources.items() if "assumed" in s.lower())


_QUANTITIES = {  # key -> (SI factor, required)
    "vector_tflops": (1e12, True),
    "mem_bw_gbps": (1e9, True),
    "mem_capacity_gb": (1e9, True),
    "sram_per_core_kib": (1024.0, True),
    "l2_mib": (1024.0**2, True),
    "cores": (1, True),
    "clock_ghz": (1e9, True),
    "launch_overhead_us": (1e-6, True),
    "power_w": (1.0, True),
}
_TOP_KEYS = {"id", "name", "kind", "aliases", "description", "peak_tflops", "efficiency",
             "power_modes_w", "notes"} | set(_QUANTITIES)
_OPTIONAL = {"power_modes_w", "notes"}
_EFF_KEYS = ("matmul", "vector", "memory")


def _quantity(doc: dict, key: str, path: str, allow_null: bool = False) -> tuple[float | None, str]:
    item = doc[key] if isinstance(doc, dict) else None
    if not isinstance(item, dict) or set(item) != {"value", "source"}:
        raise UserError(f"{path}: key '{key}' must be a mapping {{value: NUMBER, source: TEXT}}")
    value, source = item["value"], item["source"]
    if not isinstance(source, str) or not source.strip():
        raise UserError(f"{path}: key '{key}' needs a non-empty source")
    if value is None and allow_null:
        return None, source
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UserError(f"{path}: key '{key}' must have a positive number as value, got {value!r}")
    return float(value), source


def read_yaml(path: Path) -> dict:
    """Load a YAML mapping; malformed YAML is the user's error, named with the file."""
    try:
        with open(path) as f:
            doc = yaml.load(f, Loader=_LOADER)  # the C loader when PyYAML has it: ~10x faster
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}:{where} malformed YAML ({getattr(exc, 'problem', None) or exc})") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a YAML mapping at the top level")
    return doc


def parse_hardware(doc: dict, path: str) -> Hardware:
    """Validate a hardware document (unknown and missing keys are errors) and convert to SI."""
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise UserError(f"{path}: unknown key '{sorted(unknown)[0]}' (expected one of: {', '.join(sorted(_TOP_KEYS))})")
    missing = _TOP_KEYS - _OPTIONAL - set(doc)
    if missing:
        raise UserError(f"{path}: missing key '{sorted(missing)[0]}'")
    if doc["kind"] not in KINDS:
        raise UserError(f"{path}: key 'kind' must be one of {', '.join(KINDS)}, got {doc['kind']!r}")
    sources, si = {}, {}
    for key, (factor, _) in _QUANTITIES.items():
        value, sources[key] = _quantity(doc, key, path, allow_null=(key == "l2_mib"))
        si[key] = None if value is None else value * factor
    peaks = doc["peak_tflops"]
    if not isinstance(peaks, dict) or not peaks:
        raise UserError(f"{path}: key 'peak_tflops' must map dtypes ({', '.join(DTYPES)}) to quantities")
    peak_flops = {}
    for dtype in peaks:
        if dtype not in DTYPES:
            raise UserError(f"{path}: peak_tflops has unknown dtype '{dtype}' (expected one of {', '.join(DTYPES)})")
        value, sources[f"peak_tflops.{dtype}"] = _quantity(peaks, dtype, f"{path}: peak_tflops")
        peak_flops[dtype] = value * 1e12
    eff = doc["efficiency"]
    if not isinstance(eff, dict) or set(eff) != set(_EFF_KEYS):
        raise UserError(f"{path}: key 'efficiency' must have exactly: {', '.join(_EFF_KEYS)}")
    effs = {}
    for key in _EFF_KEYS:
        effs[key], sources[f"efficiency.{key}"] = _quantity(eff, key, f"{path}: efficiency")
        if effs[key] > 1:
            raise UserError(f"{path}: efficiency.{key} must be in (0, 1], got {effs[key]}")
    modes = {}
    for mode in doc.get("power_modes_w") or {}:
        modes[str(mode)], sources[f"power_modes_w.{mode}"] = _quantity(doc["power_modes_w"], mode, f"{path}: power_modes_w")
    aliases = doc["aliases"] or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise UserError(f"{path}: key 'aliases' must be a list of names")
    return Hardware(
        id=str(doc["id"]), name=str(doc["name"]), kind=doc["kind"], description=str(doc["description"]),
        peak_flops=peak_flops, vector_flops=si["vector_tflops"], mem_bw=si["mem_bw_gbps"],
        mem_capacity=si["mem_capacity_gb"], sram_per_core=si["sram_per_core_kib"], l2=si["l2_mib"],
        cores=int(si["cores"]), clock_hz=si["clock_ghz"], launch_overhead_s=si["launch_overhead_us"],
        power_w=si["power_w"], power_modes=modes, eff_matmul=effs["matmul"], eff_vector=effs["vector"],
        eff_memory=effs["memory"], aliases=tuple(a.lower() for a in aliases), sources=sources,
    )


def _catalog() -> dict[str, Path]:
    folder = profiles_dir() / "hardware"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def _alias_table() -> dict[str, str]:
    """name or alias -> id, read from the files' `aliases` lists (cheap: no validation)."""
    table = {}
    for hw_id, path in _catalog().items():
        table[hw_id] = hw_id
        try:
            doc = read_yaml(path)
        except UserError:
            continue  # reported when the file itself is loaded
        for alias in doc.get("aliases") or []:
            table.setdefault(str(alias).lower(), hw_id)
    table.setdefault("host", "host")
    return table


def hardware_ids() -> list[str]:
    return list(_catalog()) + ["host"]


def resolve(name: str) -> str:
    """A device id from an id or alias; unknown names are the user's error."""
    key = name.strip().lower()
    table = _alias_table()
    if key not in table:
        raise UserError(f"unknown device '{name}' (known: {', '.join(hardware_ids())}; see `perfmodel hw list`)")
    return table[key]


def load_hardware(name: str, calibrated: bool = True, power_mode: str | None = None) -> Hardware:
    """Load a device by id or alias, apply its calibration (if any and wanted) and power mode."""
    hw_id = resolve(name)
    if hw_id == "host":
        from perfmodel.host import detect_host

        hw = detect_host()
    else:
        path = _catalog()[hw_id]
        hw = parse_hardware(read_yaml(path), str(path))
        if hw.id != hw_id:
            raise UserError(f"{path}: id '{hw.id}' does not match the file name '{hw_id}'")
    if calibrated:
        hw = apply_calibration(hw)
    if power_mode is not None:
        if power_mode not in hw.power_modes:
            have = ", ".join(hw.power_modes) or "none published"
            raise UserError(f"hardware '{hw.id}' has no power mode '{power_mode}' (modes: {have})")
        hw = _replace(hw, power_mode=power_mode, power_w=hw.power_modes[power_mode])
    return hw


def _replace(hw: Hardware, **changes) -> Hardware:
    from dataclasses import replace

    return replace(hw, **changes)


_CAL_KEYS = {"id", "source", "cpu", "efficiency", "launch_overhead_us", "fit"}


def apply_calibration(hw: Hardware) -> Hardware:
    """Replace the assumed efficiencies with profiles/calibrated/<id>.yaml, when that file exists."""
    path = profiles_dir() / "calibrated" / f"{hw.id}.yaml"
    if not path.is_file():
        return hw
    doc = read_yaml(path)
    unknown = set(doc) - _CAL_KEYS
    if unknown:
        raise UserError(f"{path}: unknown key '{sorted(unknown)[0]}' (expected: {', '.join(sorted(_CAL_KEYS))})")
    if hw.id == "host" and doc.get("cpu") != hw.name:  # fitted on another CPU (or one not named): not this one
        return hw
    for key in ("source", "efficiency"):
        if key not in doc:
            raise UserError(f"{path}: missing key '{key}'")
    eff = doc["efficiency"]
    if not isinstance(eff, dict) or set(eff) - set(_EFF_KEYS):
        raise UserError(f"{path}: key 'efficiency' may only have: {', '.join(_EFF_KEYS)}")
    changes = {}
    for key, value in eff.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise UserError(f"{path}: efficiency.{key} must be a number in (0, 1], got {value!r}")
        changes[f"eff_{key}"] = float(value)
    if "launch_overhead_us" in doc:
        value = doc["launch_overhead_us"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise UserError(f"{path}: launch_overhead_us must be a number >= 0, got {value!r}")
        changes["launch_overhead_s"] = float(value) * 1e-6
    sources = dict(hw.sources)
    for key in changes:
        name = "launch_overhead_us" if key == "launch_overhead_s" else key.replace("eff_", "efficiency.")
        sources[name] = f"calibrated: {doc['source']} ({path.name})"
    return _replace(hw, calibrated=True, calibration_source=str(doc["source"]), sources=sources, **changes)
