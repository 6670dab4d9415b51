"""Pattern pair counts: closed forms against brute-force masks, and the pattern parser's errors."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel import patterns as P
from perfmodel.errors import UserError


def _count(p, n, causal):
    return P.useful_pairs(p.code, n, causal, p.window, max(p.stride, 1), p.n_global, p.density)


pattern_st = st.one_of(
    st.just(P.Pattern()),
    st.builds(lambda w: P.Pattern("local", window=w), st.integers(1, 80)),
    st.builds(lambda s: P.Pattern("strided", stride=s), st.integers(1, 20)),
    st.builds(lambda w, g: P.Pattern("hybrid", window=w, n_global=g), st.integers(1, 60), st.integers(0, 30)),
)


@settings(max_examples=300, deadline=None)
@given(pattern_st, st.integers(1, 70), st.booleans())
def test_closed_form_pairs_equal_brute_force(p, n, causal):
    mask = P.pair_mask(p, n, causal)
    assert _count(p, n, causal) == mask.sum()
    # decode: the newest query against n cached keys is the last row of the causal mask
    last = P.pair_mask(p, n, True)[-1].sum()
    assert P.decode_keys(p.code, n, p.window, max(p.stride, 1), p.n_global) == last


def test_dense_causal_is_triangle():
    assert P.useful_pairs(P.DENSE, 1000, True) == 1000 * 1001 / 2
    assert P.useful_pairs(P.DENSE, 1000, False) == 1000**2


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("density", [0.0, 0.25, 0.5, 1.0])
def test_block_visits_density(causal, density):
    p = P.Pattern("block", block=16, density=density)
    v = P.block_visits(p, 256, causal, 16, seed=3)
    nb = 16
    allowed = nb * (nb + 1) / 2 if causal else nb * nb
    assert abs(v.sum() / allowed - density) < 0.1
    if causal:
        assert not np.triu(v, 1).any()
        if density > 0:
            assert np.diag(v).all()  # causal rows never empty


def test_block_visits_cover_mask():
    """Every allowed pair lies in a visited block, and every visited block holds an allowed pair."""
    for p in (P.Pattern("local", window=20), P.Pattern("strided", stride=5), P.Pattern("hybrid", window=9, n_global=3)):
        for causal in (True, False):
            m = P.pair_mask(p, 100, causal)
            v = P.block_visits(p, 100, causal, 16)
            expanded = np.kron(v, np.ones((16, 16), bool))[:100, :100]
            assert not (m & ~expanded).any()


def test_tiled_pairs_bounds():
    n = np.array([1.0, 100, 1000, 5000])
    for code, kw in ((P.DENSE, {}), (P.LOCAL, {"window": 256}), (P.STRIDED, {"stride": 8}),
                     (P.HYBRID, {"window": 128, "n_global": 16}), (P.BLOCK, {"density": 0.3, "block": 64})):
        for causal in (True, False):
            useful = P.useful_pairs(code, n, causal, **{k: v for k, v in kw.items() if k != "block"})
            tiled = P.tiled_pairs(code, n, causal, 64, 128, **kw)
            assert (tiled >= useful).all() and (tiled <= n * n).all()


@pytest.mark.parametrize("spec,msg", [
    ("local:0", "window W must be >= 1"), ("block:64,1.5", "density must be in [0, 1]"),
    ("strided", "expected the form strided:S"), ("zigzag:3", "unknown pattern"),
    ("hybrid:4", "expected the form hybrid:W,G"), ("local:x", "must be an integer"),
    ("block:64,nofile.csv", "not found"),
])
def test_bad_pattern_specs(spec, msg):
    with pytest.raises(UserError, match=re.escape(msg)):
        P.parse_pattern(spec)


def test_mask_file(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("1,0\n1,1\n")
    p = P.parse_pattern(f"block:32,{f}")
    assert P.block_visits(p, 64, True, 32).sum() == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n0,1\n")
    with pytest.raises(UserError, match="0 or 1"):
        P.parse_pattern(f"block:32,{bad}")
