"""Cycles per step, measured in MyHDL simulation, equal the manifest formula and grow as O(K N)."""

from __future__ import annotations

import numpy as np
import pytest

from trtrl.rtl.config import ArrayConfig
from trtrl.rtl.sim import simulate

SIZES = [2, 4, 8, 15, 25]


def _measure(n: int, k: int = 1, m: int = 1) -> int:
    cfg = ArrayConfig(n, m, k)
    rng = np.random.default_rng(n)
    w0 = rng.integers(-256, 256, size=(n, cfg.L))
    x = rng.integers(-1000, 1000, size=(1, m))
    d = rng.integers(-1000, 1000, size=(1, k))
    res = simulate(cfg, w0, x, d, readback_every=0, skip_readback=True)
    return res.cycles[0]


@pytest.mark.parametrize("n", SIZES[:3])
def test_cycles_match_formula(n):
    assert _measure(n) == ArrayConfig(n, 1, 1).cycles_per_step()


@pytest.mark.slow
def test_cycles_linear_in_n():
    measured = [_measure(n) for n in SIZES]
    assert measured == [ArrayConfig(n, 1, 1).cycles_per_step() for n in SIZES]
    # L*(K+4) + N + 1 with L = N + 2, K = 1: exactly 6 cycles more per neuron
    steps = np.diff(measured) / np.diff(SIZES)
    assert np.all(steps == 6), steps
