"""Model shapes: presets in profiles/models/*.yaml, or a local Hugging Face style config.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from perfmodel.errors import UserError
from perfmodel.hardware import profiles_dir, read_yaml

NORMS = ("layernorm", "rmsnorm")
MLPS = ("swiglu", "gelu")


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only transformer's shape (counts, not units)."""

    id: str
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    context: int
    norm: str = "rmsnorm"
    mlp: str = "swiglu"
    sliding_window: int | None = None
    tied_embeddings: bool = False
    bias: str = "none"  # none | qkv | all
    positions: str = "rope"  # rope | learned | alibi
    parallel_attn_mlp: bool = False
    source: str = "custom"

    def __post_init__(self):
        check_shape(self.heads, self.kv_heads, self.head_dim, where=f"model '{self.id}'")
        for name in ("hidden", "layers", "ffn", "vocab", "context"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"model '{self.id}': {name} must be a positive integer, got {value!r}")
        if self.norm not in NORMS:
            raise UserError(f"model '{self.id}': norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if self.mlp not in MLPS:
            raise UserError(f"model '{self.id}': mlp must be one of {', '.join(MLPS)}, got {self.mlp!r}")
        if self.bias not in ("none", "qkv", "all"):
            raise UserError(f"model '{self.id}': bias must be none, qkv or all, got {self.bias!r}")


def check_shape(heads, kv_heads, head_dim, where: str = "shape") -> None:
    for name, value in (("heads", heads), ("kv_heads", kv_heads), ("head_dim", head_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{where}: {name} must be a positive integer, got {value!r}")
    if heads % kv_heads:
        raise UserError(f"{where}: heads ({heads}) must be divisible by kv_heads ({kv_heads})")


_FIELDS = {f.name for f in fields(ModelShape)}
_REQUIRED = {f.name for f in fields(ModelShape) if f.default is f.default_factory}  # no default


def parse_model(doc: dict, path: str) -> ModelShape:
    unknown = set(doc) - _FIELDS
    if unknown:
        raise UserError(f"{path}: unknown key '{sorted(unknown)[0]}' (expected: {', '.join(sorted(_FIELDS))})")
    missing = _REQUIRED - set(doc)
    if missing:
        raise UserError(f"{path}: missing key '{sorted(missing)[0]}'")
    return ModelShape(**doc)


def _catalog() -> dict[str, Path]:
    return {p.stem: p for p in sorted((profiles_dir() / "models").glob("*.yaml"))}


def model_ids() -> list[str]:
    return list(_catalog())


def load_model(name: str) -> ModelShape:
    key = name.strip().lower()
    cat = _catalog()
    if key not in cat:
        raise UserError(f"unknown model '{name}' (known: {', '.join(cat)}; or use --config PATH)")
    return parse_model(read_yaml(cat[key]), str(cat[key]))


def list_models() -> list[ModelShape]:
    return [load_model(m) for m in model_ids()]


# Hugging Face config.json keys, with the GPT-2 style spellings as fallbacks.
_HF_KEYS = {
    "hidden": ("hidden_size", "n_embd", "d_model"),
    "layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "heads": ("num_attention_heads", "n_head", "num_heads"),
    "vocab": ("vocab_size",),
}


def _first(cfg: dict, keys, path, what, required=True):
    for key in keys:
        if key in cfg and cfg[key] is not None:
            value = cfg[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{path}: '{key}' ({what}) must be a positive integer, got {value!r}")
            return value
    if required:
        raise UserError(f"{path}: cannot read the {what}: none of {', '.join(keys)} is present")
    return None


_UNSUPPORTED = (  # (key, what it means): configs the shape model cannot represent are refused, not guessed
    ("num_local_experts", "a mixture of experts"), ("num_experts", "a mixture of experts"),
    ("n_routed_experts", "a mixture of experts"), ("kv_lora_rank", "multi-head latent attention (MLA)"),
    ("is_encoder_decoder", "an encoder-decoder model"),
)


def _refuse_unsupported(cfg: dict, path) -> None:
    for key, what in _UNSUPPORTED:
        value = cfg.get(key)
        if value and not (isinstance(value, int) and not isinstance(value, bool) and value <= 1):
            raise UserError(f"{path}: '{key}' ({value!r}) describes {what}, which the cost model does not "
                            f"represent (decoder-only, dense MLP, one attention kind per model)")


def load_config(path: str) -> ModelShape:
    """Read a local Hugging Face style config.json (no hub access)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"config file '{path}' not found")
    try:
        cfg = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise UserError(f"{path}: expected a JSON object")
    if "text_config" in cfg and isinstance(cfg["text_config"], dict):
        cfg = {**cfg, **cfg["text_config"]}  # multimodal wrappers keep the language model here
    _refuse_unsupported(cfg, path)
    vals = {k: _first(cfg, keys, path, k) for k, keys in _HF_KEYS.items()}
    heads = vals["heads"]
    kv = _first(cfg, ("num_key_value_heads", "num_kv_heads", "multi_query_group_num"), path, "kv_heads", False)
    if kv is None:
        kv = 1 if cfg.get("multi_query") else heads
    head_dim = _first(cfg, ("head_dim",), path, "head_dim", False)
    if head_dim is None:
        if vals["hidden"] % heads:
            raise UserError(f"{path}: hidden size {vals['hidden']} is not divisible by {heads} heads and no head_dim is given")
        head_dim = vals["hidden"] // heads
    ffn = _first(cfg, ("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size"), path, "ffn", False)
    ffn = ffn or 4 * vals["hidden"]
    context = _first(cfg, ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"),
                     path, "context", False) or 2048
    model_type = str(cfg.get("model_type", "")).lower()
    act = str(cfg.get("hidden_act", cfg.get("activation_function", "gelu"))).lower()
    norm = "rmsnorm" if ("rms_norm_eps" in cfg or "rmsnorm" in str(cfg.get("normalization", "")).lower()) else "layernorm"
    mlp = "swiglu" if act in ("silu", "swish", "swiglu", "gelu_pytorch_tanh") and model_type not in ("gpt2", "phi") else "gelu"
    window = cfg.get("sliding_window")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        window = None
    notes = []
    if cfg.get("use_sliding_window") is False:  # Qwen2 configs carry a window they do not use
        window = None
    if window and any(k in cfg for k in ("layer_types", "sliding_window_pattern")):
        window = None  # local and global layers alternate (Gemma-2/3): model every layer as global
        notes.append("alternating sliding-window layers read as global")
    if "quantization_config" in cfg:
        notes.append("quantization_config ignored: give --weights")
    return ModelShape(
        id=p.stem if p.stem != "config" else (p.parent.name or "config"), name=str(cfg.get("_name_or_path", p)),
        hidden=vals["hidden"], layers=vals["layers"], heads=heads, kv_heads=kv, head_dim=head_dim, ffn=ffn,
        vocab=vals["vocab"], context=context, norm=norm, mlp=mlp, sliding_window=window,
        tied_embeddings=bool(cfg.get("tie_word_embeddings", model_type in ("gpt2", "opt"))),
        bias="qkv" if model_type.startswith("qwen2") else ("all" if model_type in ("gpt2", "opt", "phi") else "none"),
        positions="learned" if model_type in ("gpt2", "opt") else "rope",
        parallel_attn_mlp=bool(cfg.get("parallel_attn", model_type == "phi")),
        source=f"config file {path}" + (f" ({'; '.join(notes)})" if notes else ""),
    )
