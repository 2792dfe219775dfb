"""Functional coverage (testbenches/funcov.py): the bins a run fills from the model's
clamps and the stimulus, their merge over runs and the holes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from trtrl.pymodel.fixed.arith import SIDES, bound_counts
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.pymodel.fixed.lut import build_lut
from trtrl.pymodel.fixed.model import CLAMPS, FixedTRTRL, derivative, quantize_case, sens_product
from trtrl.testbenches import funcov
from trtrl.testbenches.configs import CONFIGS, FAULT_CFG, RANDOM_FORMATS, SIMULATORS, TbConfig
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
    """The observer adds each cell of the model's census to its bin."""
    cov = funcov.FunctionalCoverage()
    fmt = replace(FAULT_CFG.weight)
    census = np.zeros((len(CLAMPS), len(SIDES)), dtype=np.int64)
    census[CLAMPS.index("w")] = bound_counts(np.array([fmt.max + 1, fmt.max, fmt.min,
                                                       fmt.min - 5, fmt.min - 1, 0]), fmt)
    census[CLAMPS.index("fp")] = 7  # no bins: f'(y) cannot reach its bounds
    cov.clamp(census)
    cov.clamp(census)
    c = cov.to_json()["clamps"]
    assert (c["w above max"], c["w at max"], c["w at min"], c["w below min"]) == (2, 2, 2, 4)
    assert sum(c.values()) == 10


def test_a_bin_that_is_not_defined_is_an_error_not_a_hole() -> None:
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


def _format_families() -> list[FixedConfig]:
    """Every format of the regression (matrix and draws), with each activation."""
    formats = {(c.act, c.weight, c.sens, c.lut_bits) for c in CONFIGS.values()}
    formats |= {tuple(FixedFormat.parse(f) for f in fmt[:3]) + (fmt[3],)
                for fmt in RANDOM_FORMATS}
    return [FixedConfig(act=a, weight=w, sens=p, lut_bits=lut, activation=f)
            for a, w, p, lut in sorted(formats, key=str) for f in ("tanh", "sigmoid")]


@pytest.mark.parametrize("fixed", _format_families(), ids=str)
def test_the_derivative_and_the_sensitivity_cannot_leave_their_formats(
        fixed: FixedConfig) -> None:
    """Why f'(y) has no clamp bins and a sensitivity only its 'at' bins: over every value
    the table can give y, 0 <= f'(y) <= 1 (so strictly inside A), and f'(y) times any
    inner sum in P (exhaustive for P up to 12 bits, else its bounds: the product is
    monotonic in the inner sum) stays in P."""
    a, p = fixed.act, fixed.sens
    fp = np.unique(derivative(build_lut(fixed).astype(np.int64), fixed))
    assert fp.min() >= 0 and fp.max() <= a.one and a.min < 0 and a.one < a.max
    inner = (np.arange(p.min, p.max + 1, dtype=np.int64) if p.total <= 12
             else np.array([p.min, p.max], dtype=np.int64))
    prod = sens_product(fp[:, None], inner[None, :], fixed)
    assert prod.min() >= p.min and prod.max() <= p.max


def _full_regression(sim: str) -> dict[str, dict[str, int]]:
    """The config, learning and clamp bins the full regression on ``sim`` reaches, from
    its fixed configurations (the random draws change with the seed, so they do not
    count): the matrix (core and AXI top), the AXI protocol tests (their every_lr_shift
    steps once at every shift) and the fault control."""
    from trtrl.testbenches.test_trtrl_axi.test_trtrl_axi import AXI_CONFIGS

    configs = [c for c in (*CONFIGS.values(), *AXI_CONFIGS.values()) if sim in c.sims]
    sweep = funcov.FunctionalCoverage()
    for _ in (c for c in AXI_CONFIGS.values() if sim in c.sims):
        for shift in funcov.LR_SHIFTS:
            sweep.step(True, shift)
    return funcov.merge([*(_covered(c).to_json() for c in [*configs, FAULT_CFG]),
                         sweep.to_json()])


@pytest.mark.parametrize("sim", SIMULATORS)
def test_the_full_regression_reaches_every_config_learning_and_clamp_bin(sim: str) -> None:
    """Closure without simulation: what these bins count is the configuration and the
    model on the stimulus (``trtrl regress --full`` shows the interface and register bins)."""
    groups = funcov.summary(_full_regression(sim))
    for g in ("config", "learning", "clamps"):
        assert groups[g]["holes"] == [], (sim, g)


def test_without_the_directed_sensitivity_start_the_sensitivity_bins_are_holes() -> None:
    """The closure test can fail: the sens_bounds configuration is what reaches them."""
    plain = replace(CONFIGS["sens_bounds"], task="random")
    merged = funcov.merge(_covered(c).to_json() for c in (plain, FAULT_CFG))
    assert "p at max" in funcov.summary(merged)["clamps"]["holes"]
