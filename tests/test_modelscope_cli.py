"""`perfmodel predict --scope layer|model` in a subprocess: the summary, JSON/CSV fields, bad inputs."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args):
    return subprocess.run([sys.executable, "-m", "perfmodel", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PERFMODEL_PROFILES": str(ROOT / "profiles")}, timeout=120)


def test_model_decode_summary_on_jetson():
    r = cli("predict", "--hw", "jetson", "--model", "llama-3.2-1b", "--scope", "model", "--phase", "decode")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for text in ("tokens/s", "ms/token", "memory", "of 64 GB: fits", "weights 2.47 GB", "KV cache",
                 "J/token", "1.236 B parameters", "time by op", "mlp_up", "lm_head", "physical bound"):
        assert text in out, (text, out)


def test_generate_link_and_power_mode_in_the_summary():
    r = cli("predict", "--hw", "orin-nano", "--scope", "model", "--phase", "decode", "--weights", "int4",
            "--generate", "64", "--seq", "128", "--link-kbps", "9.6", "--power-mode", "7w")
    assert r.returncode == 0, r.stderr
    assert "64 tokens after a 128-token prompt" in r.stdout and "at 9.6 kbit/s" in r.stdout
    assert "weights int4 (+ fp16 scale per 128)" in r.stdout and "at 7 W, power mode 7w" in r.stdout


def test_json_and_csv_carry_the_model_fields():
    r = cli("predict", "--hw", "jetson,l4", "--scope", "model", "--phase", "prefill,decode,train", "--seq", "256",
            "--generate", "16", "--link-kbps", "1000", "--weights", "int8", "--kv-dtype", "fp8", "--format", "json")
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)
    assert len(recs) == 6
    dec = next(x for x in recs if x["phase"] == "decode" and x["hw"] == "l4")
    for key in ("tokens_per_s", "ttft_s", "decode_s", "generate_s", "param_count", "weights_bytes_on_wire",
                "link_transfer_s", "energy_per_token_j", "fits_in_memory", "weight_bytes", "kv_cache_bytes"):
        assert dec[key] is not None, key
    assert dec["weights"] == "int8" and dec["kv_dtype"] == "fp8"
    assert dec["link_transfer_s"] == pytest.approx(dec["weights_bytes_on_wire"] * 8 / 1e6)
    assert dec["tokens_per_s"] == pytest.approx(1 / dec["latency_s"])
    train = next(x for x in recs if x["phase"] == "train")
    assert train["train_step_s"] == train["latency_s"] and train["ttft_s"] is None
    r = cli("predict", "--scope", "layer", "--phase", "decode", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert r.returncode == 0 and len(rows) == 1 and rows[0]["layers"] == "1" and rows[0]["scope"] == "layer"
    assert rows[0]["param_count"] == ""  # parameters and wire size are whole-model answers


def test_many_rows_fall_back_to_the_comparison_table():
    r = cli("predict", "--scope", "model", "--variant", "all", "--kernel", "all", "--phase", "decode")
    assert r.returncode == 0, r.stderr
    assert "variant  pattern" in r.stdout and "mha" in r.stdout and "mqa" in r.stdout


def test_model_scope_uses_the_models_sliding_window():
    r = cli("predict", "--model", "mistral-7b", "--scope", "model", "--phase", "decode", "--seq", "8192")
    assert r.returncode == 0 and "local:4096" in r.stdout


@pytest.mark.parametrize("args,msg", [
    (["--scope", "model", "--weights", "int3"], "unknown weights dtype 'int3'"),
    (["--scope", "model", "--kv-dtype", "int2"], "unknown KV cache dtype 'int2'"),
    (["--scope", "model", "--generate", "0"], "--generate: expected a positive integer, got 0"),
    (["--scope", "model", "--link-kbps", "-5"], "--link-kbps: expected a positive number"),
    (["--scope", "model", "--link-kbps", "fast"], "--link-kbps: expected a positive number"),
    (["--generate", "10"], "--generate and --link-kbps need --scope layer or model"),
    (["--scope", "galaxy"], "unknown --scope 'galaxy'"),
])
def test_bad_inputs_one_line_exit_2(args, msg):
    r = cli("predict", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0] and "Traceback" not in r.stderr


def test_refused_config_is_one_line(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
                             "num_local_experts": 4}))
    r = cli("predict", "--config", str(p), "--scope", "model")
    assert r.returncode == 2 and "mixture of experts" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_layer_scope_reports_times_not_tokens_per_second():
    r = cli("predict", "--scope", "layer", "--phase", "decode", "--hw", "l4")
    assert r.returncode == 0, r.stderr
    assert "through 1 layer for 1 x 1 tokens" in r.stdout and "tokens/s" not in r.stdout


def test_model_scope_stays_light():
    code = ("import sys; from perfmodel.cli import main; "
            "main(['predict', '--scope', 'model', '--phase', 'prefill,decode,train', '--generate', '100']); "
            "bad = [m for m in ('torch', 'pandas', 'streamlit', 'plotly') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
