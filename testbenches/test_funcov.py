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
    assert bins["learning"]["lr_shift 1"] == FAULT_CFG.steps - 1
    assert sum(bins["learning"][f"lr_shift {s}"] for s in funcov.LR_SHIFTS) == \
        FAULT_CFG.steps - 1
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


def test_register_bins_follow_the_register_description() -> None:
    """A read bin per register and window, a write bin per writable one, a bin per illegal
    kind and operation: a register added to rtl/regmap.py gets its bins."""
    from trtrl.rtl.config import ArrayConfig
    from trtrl.rtl.regmap import ERRORS, register_map

    regs = funcov.bin_names()["registers"]
    rmap = register_map(ArrayConfig(4, 2, 3))
    for r in rmap.registers:
        assert f"read {r.name}" in regs
        assert (f"write {r.name}" in regs) == (r.access != "ro"), r.name
    assert {funcov.access_bin("read", w.name) for w in rmap.windows} == \
        {"read WEIGHTS", "read SENS_OUT", "read SENS_ING", "read SENS_EGR"}
    assert "write SENS_OUT" not in regs and "write WEIGHTS" in regs
    errors = [b for b in regs if ":" in b]
    assert len(errors) == sum(len(e.ops) for e in ERRORS)
    assert funcov.error_bin("read", "unmapped address") == "read: unmapped address -> DECERR"
    assert "write: read-only register -> SLVERR" in errors
    assert len(set(regs)) == len(regs)


def test_every_learning_rate_shift_the_register_takes_has_a_bin() -> None:
    learning = funcov.bin_names()["learning"]
    assert [b for b in learning if b.startswith("lr_shift")] == \
        [f"lr_shift {s}" for s in range(32)]
    cov = funcov.FunctionalCoverage()
    cov.step(True, 31)
    cov.step(False, 7)  # a step that does not learn uses no rate
    got = cov.to_json()["learning"]
    assert got["lr_shift 31"] == 1 and got["lr_shift 7"] == 0
