"""Cycles per step, measured in MyHDL simulation, equal the manifest formula: O(K N) while
every neuron has its lane, O(K N^2 / P) once the lanes are folded over row groups."""

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
    # one group (P = N <= 10): L (K + 3) + P + 27 with L = N + 2, K = 1: 5 cycles a neuron
    one_group = [n for n in SIZES if n <= 10]
    steps = np.diff(measured[:len(one_group)]) / np.diff(one_group)
    assert np.all(steps == 5), steps
    # N = 15 on the default 8 lanes: two row groups of L = 17 words; N = 25 on 9: three of 27
    assert measured[SIZES.index(15)] == 2 * 17 * 4 + 8 + 27
    assert measured[SIZES.index(25)] == 3 * 27 * 4 + 9 + 27
