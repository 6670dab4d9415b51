"""The profiler: a killed run resumes without losing or duplicating rows; user errors exit 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from perfmodel import profile
from perfmodel.measured import load_profile, row_key

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--quick", "--seqs", "64", "--threads", "1"]  # 75 rows of 64 tokens: ~10 s on 2 cores


def run_profiler(out, *extra, wait=True):
    cmd = [
        sys.executable,
        "-c",
        "import sys; from perfmodel.profile import main; sys.exit(main(sys.argv[1:]))",
        *TINY,
        "--out",
        str(out),
        *extra,
    ]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        out_, err = proc.communicate(timeout=300)
        return proc.returncode, err
    return proc


def data_lines(path):
    with open(path) as f:
        return f.read().splitlines()[1:]


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    out = tmp_path / "prof.csv"
    proc = run_profiler(out, wait=False)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(data_lines(out)) < 8):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait()
    before = data_lines(out)
    assert len(before) >= 8
    # a write cut in half by the kill (simulated: a partial last line)
    with open(out, "a") as f:
        f.write(before[0][:40])
    rc, err = run_profiler(out)
    assert rc == 0, err
    assert "dropping a partial last line" in err
    after = data_lines(out)
    assert after[: len(before)] == before  # nothing already measured was lost or re-measured
    df = load_profile(str(out))
    assert len(df) == len(profile.grid(True, "cpu", seqs=[64])) == 75
    keys = [row_key(r) for r in df.to_dict("records")]
    assert len(set(keys)) == len(keys)
    rc, err = run_profiler(out)  # a complete file: nothing to do
    assert rc == 0 and "already measured" in err and len(data_lines(out)) == 75


def test_ctrl_c_keeps_rows_and_exits_130(tmp_path):
    out = tmp_path / "int.csv"
    proc = run_profiler(out, wait=False)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(data_lines(out)) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    df = load_profile(str(out))  # every row written is complete
    assert len(df) >= 3


def test_rows_are_complete_and_consistent(tmp_path):
    out = tmp_path / "one.csv"
    rows = [w for w in profile.grid(True, "cpu", seqs=[64]) if w["kv_heads"] == 2 and w["pattern"] == "dense"]
    assert profile.run(rows, str(out), "cpu", "host", True, threads=1) == len(rows) == 5
    df = load_profile(str(out))
    assert set(df["phase"]) == {"prefill", "decode"} and (df["repeats"] >= 5).all()
    assert (df["latency_iqr_s"] >= 0).all() and (df["peak_memory_bytes"] > 0).all()
    assert (df["model_flops"] > 0).all() and (df["device"] == "host").all()
    assert df["device_desc"].iloc[0] == profile.cpu_description()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--device", "cuda"], "cuda"),
        (["--out", "/nonexistent-dir/x.csv"], "does not exist"),
        (["--seqs", "a,b"], "--seqs"),
        (["--dtypes", "fp64"], "unknown dtype"),
        (["--hw", "no-such-device"], "no-such-device"),
    ],
)
def test_user_errors_exit_2(argv, message, capsys):
    import torch

    if argv == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert profile.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_existing_profile_is_a_user_error(tmp_path, capsys):
    out = tmp_path / "bad.csv"
    out.write_text("not,a,profile\n")
    assert profile.main([*TINY, "--out", str(out)]) == 2
    assert f"{out}:1:" in capsys.readouterr().err


def test_progress_bar(capsys):
    import io

    buf = io.StringIO()
    bar = profile.Progress(4, stream=buf)
    for i in range(4):
        bar.update(f"row {i}")
    bar.close()
    assert "4/4" in buf.getvalue() and buf.getvalue().endswith("\n")


class FakeEvent:
    """Stands in for torch.cuda.Event: each record() reads a fake clock advanced by the call."""

    clock = 0.0

    def __init__(self, enable_timing=False):
        assert enable_timing
        self.t = None

    def record(self):
        self.t = FakeEvent.clock

    def synchronize(self):
        pass

    def elapsed_time(self, end):  # milliseconds, like CUDA events
        return (end.t - self.t) * 1e3


def test_cuda_paths_without_a_gpu(monkeypatch):
    """No GPU here: the CUDA branches (events + synchronise for timing, max_memory_allocated for memory,
    device-name -> hardware id) run against stand-ins that record how they are used."""
    import torch

    calls = []
    allocated = {"now": 1000, "peak": 1000}

    def fake_call():
        FakeEvent.clock += 0.002
        allocated["peak"] = max(allocated["peak"], allocated["now"] + 5000)

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: calls.append("sync"))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda: allocated["now"])
    monkeypatch.setattr(
        torch.cuda, "reset_peak_memory_stats", lambda: allocated.update(peak=allocated["now"])
    )
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: allocated["peak"])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    times = profile.time_calls(fake_call, "cuda", warmup=2, min_repeats=5, min_time_s=0.0, max_repeats=10)
    assert times == pytest.approx([0.002] * 5)
    assert calls  # synchronised after the warm-up
    mem, method = profile.peak_memory(fake_call, "cuda")
    assert mem == 5000 and "max_memory_allocated" in method
    assert profile.hardware_id("cuda", None) == "h100-sxm"
    assert profile.hardware_id("cuda", "a100") == "a100-80gb"
    profile.check_device("cuda")  # available (faked): no error
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Mystery Accelerator 9000")
    with pytest.raises(profile.UserError, match="pass --hw"):
        profile.hardware_id("cuda", None)


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA device in this environment")
def test_cuda_profile_row(tmp_path):
    out = tmp_path / "cuda.csv"
    rows = [w for w in profile.grid(True, "cuda", seqs=[256]) if w["kv_heads"] == 2][:6]
    assert profile.run(rows, str(out), "cuda", profile.hardware_id("cuda", None), True, threads=1) == 6
    assert (load_profile(str(out))["peak_memory_bytes"] > 0).all()


def test_train_and_bf16_rows(tmp_path):
    out = tmp_path / "train.csv"
    rows = [
        w
        for w in profile.grid(False, "cpu", seqs=[64], batches=[1], dtypes=["bf16"])
        if w["phase"] == "train" and w["kv_heads"] == 1 and w["pattern"] in ("dense", "block:64,0.25")
    ]
    assert len(rows) == 4
    assert profile.run(rows, str(out), "cpu", "host", True, threads=1) == 4
    df = load_profile(str(out))
    assert set(df["dtype"]) == {"bf16"} and set(df["phase"]) == {"train"}
