"""Functional coverage (testbenches/funcov.py): the bins a run fills from the model's
clamps and the stimulus, their merge over runs and the holes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from trtrl.pymodel.fixed.model import FixedTRTRL, quantize_case
from trtrl.testbenches import funcov
from trtrl.testbenches.configs import CONFIGS, FAULT_CFG, TbConfig
from trtrl.testbenches.stimulus import learn_flags, make_case


def _covered(cfg: TbConfig) -> funcov.FunctionalCoverage:
    """The coverage of ``cfg``'s stimulus on the fixed-point model (as a testbench fills it)."""
    fixed = cfg.fixed()
    x_q, d_q, w0_q = quantize_case(make_case(cfg), fixed)
    flags = learn_flags(cfg) or (True,) * cfg.steps
    model = FixedTRTRL(w0_q, cfg.m, cfg.k, fixed, cfg.lr_shift or 1)
    cov = funcov.FunctionalCoverage()
    cov.config(cfg.n, cfg.m, cfg.k, cfg.lanes or cfg.n, cfg.activation)
    model.observer = cov.clamp
    for t in range(cfg.steps):
        model.learn = flags[t]
        cov.step(model.learn, model.lr_shift)
        model.step(x_q[t], d_q[t])
    return cov


def test_the_bounds_stimulus_lands_exactly_on_the_weight_and_error_bounds() -> None:
    bins = _covered(FAULT_CFG).to_json()
    for name in ("w at max", "w at min", "e at max", "e at min", "w above max", "e below min"):
        assert bins["clamps"][name] > 0, name
    assert bins["learning"]["learn off"] == 1 and bins["learning"]["learn switched in a run"] == 2
    assert bins["learning"]["lr_shift 0..2"] == FAULT_CFG.steps - 1
    assert bins["config"]["N 2..9"] == 1 and bins["config"]["P = N"] == 1


def test_a_smooth_run_saturates_nothing_and_the_merge_shows_the_holes() -> None:
    tiny = _covered(CONFIGS["tiny"]).to_json()
    assert not any(tiny["clamps"][f"{q} {side}"] for q in ("w", "e")
                   for side in ("above max", "below min"))
    merged = funcov.merge([tiny, _covered(FAULT_CFG).to_json()])
    assert merged["clamps"]["w at max"] == _covered(FAULT_CFG).to_json()["clamps"]["w at max"]
    groups = funcov.summary(merged)
    assert "sigmoid" in groups["config"]["holes"] and "M = 0" in groups["config"]["holes"]
    assert groups["config"]["reached"] + len(groups["config"]["holes"]) == \
        len(funcov.CONFIG_BINS)
    assert "holes: " in funcov.table(merged)


def test_clamp_bins_count_values_past_and_on_each_bound() -> None:
    cov = funcov.FunctionalCoverage()
    fmt = replace(FAULT_CFG.weight)
    raw = np.array([fmt.max + 1, fmt.max, fmt.min, fmt.min - 5, 0])
    cov.clamp("w", raw, fmt)
    c = cov.to_json()["clamps"]
    assert (c["w above max"], c["w at max"], c["w at min"], c["w below min"]) == (1, 1, 1, 1)


def test_a_bin_that_is_not_defined_is_an_error_not_a_hole() -> None:
    import pytest

    cov = funcov.FunctionalCoverage()
    cov.hit("interface", "AXI4-Lite DECERR", 2)
    assert cov.to_json()["interface"]["AXI4-Lite DECERR"] == 2
    with pytest.raises(KeyError, match="no bin"):
        cov.hit("interface", "AXI4-Lite DECRR")
