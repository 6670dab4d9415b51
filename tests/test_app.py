"""Smoke tests of the explorer (app.py) with streamlit's AppTest: every tab renders, widgets change the
output and the URL, bad input is one st.error line and never an exception."""

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
pytest.importorskip("plotly")

from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TABS = ("Compare", "Roofline", "Sweep", "Accelerator")


def _app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _chart(block, key: str) -> dict:
    """The Plotly spec (dict) of the chart whose widget key is `key` inside `block`."""
    for el in block.get("plotly_chart"):
        if el.proto.id.endswith(f"-{key}"):
            return json.loads(el.proto.spec)
    raise AssertionError(f"no plotly chart '{key}'")


def _bars_x(at: AppTest) -> list[str]:
    return sorted(y for trace in _chart(at.tabs[0], "bars")["data"] for y in trace["y"])


def test_every_tab_renders():
    at = _app()
    _ok(at)
    assert at.title[0].value == "Attention co-design explorer"
    assert [t.label for t in at.tabs] == list(TABS)
    bars = _chart(at.tabs[0], "bars")
    assert {t["name"] for t in bars["data"]} <= {"compute", "memory", "parallelism", "overhead"}
    assert len(_bars_x(at)) == 3 * 5 * 2  # mha/gqa/mqa x default patterns x naive/flash
    assert at.tabs[0].dataframe[0].value["latency (ms)"].gt(0).all()
    roof = _chart(at.tabs[1], "roofline")
    assert roof["layout"]["xaxis"]["type"] == "log" and roof["layout"]["yaxis"]["type"] == "log"
    sweep = _chart(at.tabs[2], "sweep")
    assert any(t["name"].startswith("h100-sxm capacity") for t in sweep["data"])
    acc = at.tabs[3]
    if acc.info:  # the hw package's cycle model is optional
        assert "not available" in acc.info[0].value
    else:
        assert _chart(acc, "cycles")["data"]
        tables = [d.value for d in acc.dataframe]
        assert any("total_cycles" in d and d["total_cycles"].gt(0).all() for d in tables)
        versus = next(d for d in tables if "x time" in d)  # the accelerator beside the devices (hw.compare)
        assert versus["target"].iloc[0].startswith("bsa ") and {"jetson-orin-nano", "rpi5"} <= set(versus["target"])
        assert versus["x time"].iloc[0] == 1 and (versus["latency_s"] > 0).all()
    assert at.query_params["device"] == "h100-sxm" and at.query_params["seq"] == "4096"


def test_changing_device_and_seq_changes_output_and_url():
    at = _app()
    before = _chart(at.tabs[0], "bars")
    at.sidebar.multiselect(key="device").set_value(["jetson-orin-nano"]).run()
    _ok(at)
    after = _chart(at.tabs[0], "bars")
    assert {t["hovertemplate"].split("<extra>")[1] for t in after["data"]} == {"jetson-orin-nano</extra>"}
    assert after["data"] != before["data"]
    assert at.query_params["device"] == "jetson-orin-nano"
    at.sidebar.number_input(key="seq").set_value(1024).run()
    _ok(at)
    assert "local" in at.sidebar.multiselect(key="patterns").value  # the window follows seq (seq / 8) ...
    assert "local:128" in set(at.tabs[0].dataframe[0].value["pattern"])  # ... and stays selected
    assert at.query_params["seq"] == "1024"


def test_url_reproduces_the_view():
    at = _app(device="l4,jetson-orin-nano", model="qwen2.5-0.5b", seq="1024", phase="decode")
    _ok(at)
    assert at.sidebar.multiselect(key="device").value == ["l4", "jetson-orin-nano"]
    assert at.sidebar.selectbox(key="model").value == "qwen2.5-0.5b"
    assert at.sidebar.number_input(key="seq").value == 1024
    df = at.tabs[0].dataframe[0].value
    assert set(df["hw"]) == {"l4", "jetson-orin-nano"} and set(df["phase"]) == {"decode"}
    assert "flash-decoding" in set(df["kernel"])
    if "model" in at.sidebar.selectbox(key="scope").options:  # whole-model scope, when perfmodel has it
        at.query_params["scope"] = "model"
        at2 = _app(**at.query_params)
        _ok(at2)
        assert set(at2.tabs[0].dataframe[0].value["scope"]) == {"model"}


def test_bad_url_values_are_warnings():
    at = _app(device="no-such-device", seq="-3", phase="sideways")
    assert not at.exception
    assert len(at.warning) == 3 and "sideways" in at.warning[2].value
    assert at.query_params["device"] == "h100-sxm" and at.query_params["seq"] == "4096"


def test_custom_kv_heads_not_dividing_heads_is_one_error():
    at = _app()
    at.sidebar.selectbox(key="model").set_value("custom").run()
    _ok(at)
    at.sidebar.number_input(key="kv_heads").set_value(5).run()
    assert not at.exception
    assert len(at.error) == 1 and "divisible by kv_heads" in at.error[0].value
    assert not at.tabs[0].get("plotly_chart") and not at.tabs[2].get("plotly_chart")


def test_mistyped_pattern_and_missing_dtype_are_errors():
    at = _app()
    at.sidebar.text_input(key="extra_patterns").set_value("local:abc").run()
    assert not at.exception and len(at.error) >= 1 and "local:abc" in at.error[0].value
    at.sidebar.text_input(key="extra_patterns").set_value("").run()
    at.sidebar.multiselect(key="device").set_value(["rpi5", "h100-sxm"]).run()
    at.sidebar.selectbox(key="dtype").set_value("fp8").run()
    assert not at.exception
    assert any("rpi5" in e.value for e in at.error)  # no fp8 peak on the Pi ...
    assert set(at.tabs[0].dataframe[0].value["hw"]) == {"h100-sxm"}  # ... the other device still shows


def test_accelerator_tab_without_hw_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "hw.cycles", None)  # import hw.cycles now raises ImportError
    at = _app()
    _ok(at)
    assert "not available" in at.tabs[3].info[0].value
    assert _bars_x(at)  # the other pages are unaffected


def test_kernels_follow_phase_unless_picked_by_hand():
    at = _app()
    at.sidebar.selectbox(key="phase").set_value("decode").run()
    _ok(at)
    assert at.sidebar.multiselect(key="kernels").value == ["naive", "flash", "flash-decoding"]
    at.sidebar.multiselect(key="kernels").set_value(["naive"]).run()
    at.sidebar.number_input(key="seq").set_value(8192).run()
    _ok(at)
    assert at.sidebar.multiselect(key="kernels").value == ["naive"]  # the user's pick survives
    assert set(at.tabs[0].dataframe[0].value["kernel"]) == {"naive"}
    at.sidebar.selectbox(key="phase").set_value("prefill").run()
    _ok(at)
    assert at.sidebar.multiselect(key="kernels").value == ["naive"]


def test_more_accelerator_cores_cut_its_time():
    pytest.importorskip("hw.compare")
    at = _app()
    first = next(d.value for d in at.tabs[3].dataframe if "x time" in d.value)
    at.tabs[3].number_input(key="cmp_cores").set_value(4).run()
    _ok(at)
    after = next(d.value for d in at.tabs[3].dataframe if "x time" in d.value)
    assert after["latency_s"].iloc[0] == pytest.approx(first["latency_s"].iloc[0] / 4)
    assert after["latency_s"].iloc[1:].tolist() == first["latency_s"].iloc[1:].tolist()
