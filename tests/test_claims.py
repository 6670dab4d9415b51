"""Claims checking: the shipped article claims, the verdict rule, and bad claims files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfmodel import claims as CL
from perfmodel import modelscope as M
from perfmodel.errors import UserError
from perfmodel.models import load_model

ROOT = Path(__file__).resolve().parent.parent


def cli(*args):
    return subprocess.run([sys.executable, "-m", "perfmodel", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PERFMODEL_PROFILES": str(ROOT / "profiles")}, timeout=120)


@pytest.fixture(scope="module")
def shipped():
    doc = CL.load_claims(CL.default_file())
    return {c["id"]: CL.evaluate_claim(c, calibrated=False) for c in doc["claims"]}


def test_article_table_is_physically_impossible(shipped):
    for cid in ("table-original", "table-efficient", "table-best", "table-speedup"):
        assert shipped[cid]["verdict"] == "physically impossible", cid


def test_original_row_bound_is_100_weight_reads_at_the_best_bandwidth(shipped):
    """100 tokens of a 6.7B fp16 model: 100 reads of ~13.3 GB; at H200's 4.8 TB/s that is ~278 ms, so
    50 ms would need ~27 TB/s (the closed form, within 1%: KV cache and FLOPs add little at batch 1)."""
    r = shipped["table-original"]
    w = M.weight_bytes(load_model("opt-6.7b"), "fp16")
    assert r["best_bound"]["hw"] == "h200"
    assert r["best_bound"]["bound"] == pytest.approx(100 * w / 4.8e12, rel=0.01)
    need = r["best_bound"]["bound"] / 0.050 * 4.8e12
    assert 25e12 < need < 28e12


def test_summary_claims_verdicts(shipped):
    assert shipped["gqa-kv-cache"]["verdict"] == "plausible"
    assert shipped["gqa-kv-cache"]["predicted_min"] == pytest.approx(0.5)  # 16 of 32 KV heads
    assert shipped["gqa-kv-cache"]["predicted_max"] == pytest.approx(1 - 4 / 32)
    for cid in ("retention-memory", "efficient-training", "edge-inference", "flashattention", "edge-4gb-1b"):
        assert shipped[cid]["verdict"] in CL.VERDICTS
    assert shipped["edge-inference-attention"]["verdict"] != "plausible"  # fp16 attention changes alone
    edge = shipped["edge-inference"]
    assert CL._only_where(edge) == "weights int4"  # fp16 GQA + flash alone does not give 2.5x


def _result(pred, bound, fits=True, hw="x"):
    return {"hw": hw, "point": {}, "predicted": pred, "bound": bound, "fits": fits, "mem_bw": 1.0}


@pytest.mark.parametrize("claimed,results,lower,verdict", [
    (0.05, [_result(0.5, 0.3)], True, "physically impossible"),
    (0.40, [_result(0.5, 0.3)], True, "optimistic"),
    (0.52, [_result(0.5, 0.3)], True, "plausible"),
    (0.54, [_result(0.6, 0.3), _result(0.5, 0.3)], True, "plausible"),
    (3.0, [_result(1.2, 2.0)], False, "physically impossible"),
    (1.5, [_result(1.2, 2.0)], False, "optimistic"),
    ([1.1, 4.0], [_result(1.2, 2.0)], False, "plausible"),  # a range is tested at its less ambitious end
])
def test_verdict_rule(claimed, results, lower, verdict):
    c = {"id": "x", "claim": "x", "metric": "decode_s", "claimed": claimed}
    assert CL._verdict(c, results, lower)["verdict"] == verdict


def test_points_that_do_not_fit_fail_a_fit_claim():
    c = {"id": "x", "claim": "x", "metric": "decode_s", "claimed": 0.2, "require_fit": True}
    assert CL._verdict(c, [_result(0.1, 0.05, fits=False)], True)["verdict"] == "physically impossible"
    c["require_fit"] = False
    assert CL._verdict(c, [_result(0.1, 0.05, fits=False)], True)["verdict"] == "plausible"


def test_claims_cli_prints_the_verdict_table():
    r = cli("claims")
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[1]
    assert head.split()[:3] == ["claim", "metric", "claimed"] and "verdict" in head
    assert "physically impossible" in r.stdout and "plausible" in r.stdout
    assert "TB/s of memory bandwidth (h200 has 4.8 TB/s)" in r.stdout
    r = cli("claims", str(CL.default_file()), "--format", "json")
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and {c["id"] for c in doc["claims"]} >= {"table-original", "gqa-kv-cache"}


GOOD = """source: test
claims:
  - id: a
    claim: "a 1B model decodes in 1 s"
    metric: decode_s
    claimed: 1.0
    workload: {model: llama-3.2-1b}
    devices: {hw: [l4]}
"""


@pytest.mark.parametrize("text,msg", [
    (GOOD.replace("    metric: decode_s\n", ""), "missing key 'metric'"),
    (GOOD.replace("claimed: 1.0", "claimed: 1.0\n    colour: red"), "unknown key 'colour'"),
    (GOOD.replace("decode_s", "joy_s"), "unknown metric 'joy_s'"),
    (GOOD.replace("claimed: 1.0", "claimed: fast"), "'claimed' must be a positive number"),
    (GOOD.replace("claimed: 1.0", "claimed: 1.0\n    form: speedup"), "needs a 'baseline'"),
    (GOOD.replace("{model: llama-3.2-1b}", "{model: llama-3.2-1b, colour: red}"), "workload: unknown key 'colour'"),
    (GOOD.replace("{hw: [l4]}", "{}"), "exactly one of 'hw'"),
    (GOOD.replace("source: test\n", ""), "missing key 'source'"),
    ("source: [unclosed\nclaims: 1", "malformed YAML"),
    (GOOD.replace("{hw: [l4]}", "{hw: [abacus]}"), "unknown device 'abacus'"),
    (GOOD.replace("llama-3.2-1b", "llama-99b"), "unknown model 'llama-99b'"),
    (GOOD.replace("{model: llama-3.2-1b}", "{model: llama-3.2-1b, kv_heads: 5}"), "claim a: kv_heads 5 must be"),
    (GOOD.replace("{model: llama-3.2-1b}", "{model: llama-3.2-1b, weights: int3}"), "claim a: unknown weights"),
])
def test_bad_claims_file_one_line_exit_2(tmp_path, text, msg):
    p = tmp_path / "claims.yaml"
    p.write_text(text)
    r = cli("claims", str(p))
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0] and "Traceback" not in r.stderr


def test_missing_claims_file():
    r = cli("claims", "/nonexistent/claims.yaml")
    assert r.returncode == 2 and "not found" in r.stderr


def test_good_file_evaluates(tmp_path):
    p = tmp_path / "claims.yaml"
    p.write_text(GOOD)
    doc = CL.load_claims(p)
    r = CL.evaluate_claim(doc["claims"][0], calibrated=False)
    assert r["verdict"] == "plausible" and r["points"] == 1
    with pytest.raises(UserError):
        CL.load_claims(tmp_path / "nope.yaml")
