"""With wide formats the fixed-point model tracks the float64 TRTRL; at default formats it
learns as well as the float model (within 2x of its MSE)."""

from __future__ import annotations

import numpy as np
import pytest

from trtrl.experiments.precision import (
    TEST_STEPS,
    fixed_train_test_mse,
    float_train_test_mse,
    make_case,
)
from trtrl.pymodel.fixed import FixedConfig, FixedFormat, default_config, fixed_trace
from trtrl.pymodel.models import make_model
from trtrl.pymodel.tasks import freq_doubler_case, mackey_glass_case

WIDE_LUT_BITS = 16


def _wide(activation: str) -> FixedConfig:
    """The widest formats the int64 model takes: quantisation of w, p, x is ~1e-7, so the
    table (2**16 entries) is the only error that matters."""
    return FixedConfig(
        act=FixedFormat(28, 24), weight=FixedFormat(28, 22), sens=FixedFormat(30, 24),
        acc_bits=62, lut_bits=WIDE_LUT_BITS, activation=activation,
    )


def _lut_bound(cfg: FixedConfig) -> float:
    """Worst error of one table look-up: LSB_A/2 + max|f'| * (bin width)/2."""
    slope = 1.0 if cfg.activation == "tanh" else 0.25
    width = 2.0 ** (cfg.lut_range + 1 - cfg.lut_bits)
    return 2.0 ** -(cfg.act.frac + 1) + slope * width / 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: freq_doubler_case(200, seed=0),
        lambda: freq_doubler_case(200, seed=1, activation="sigmoid"),
        lambda: mackey_glass_case(200, seed=0, neurons=10),
    ],
    ids=["doubler-tanh", "doubler-sigmoid", "mackey-glass"],
)
def test_wide_formats_track_float_trtrl(make) -> None:
    """Tolerance: one look-up is off by at most ``b`` (``_lut_bound``, ~1.2e-4 for tanh),
    exactly what step 0 shows. Later steps add the fed-back error of earlier outputs; the
    initial network is contracting, so that is a geometric sum, bounded here by ``20 b``
    (measured worst ~7 b). The weights integrate ``lr * e * p``, whose error is of the
    same relative order: we ask the difference to stay below 0.5% of the float model's
    total weight change (measured <= 0.03%)."""
    case = make()
    lr_shift = 6
    cfg = _wide(case.activation)
    trace = fixed_trace(case, cfg, lr_shift=lr_shift)
    model = make_model("trtrl", case.w0, case.m, case.k, 2.0**-lr_shift, case.activation)
    ref = model.run(case.x, case.d)
    b = _lut_bound(cfg)
    dy = np.abs(trace["y"] / 2.0**cfg.act.frac - ref["y"])
    assert dy[0].max() <= b + 1e-6  # w0, x quantisation adds < 1e-6 to s
    assert dy.max() <= 20 * b, (dy.max(), b)
    de = np.abs(trace["e"] / 2.0**cfg.act.frac - ref["e"])
    assert de.max() <= 20 * b + 2.0**-cfg.act.frac
    dw = np.abs(trace["w"] / 2.0**cfg.weight.frac - ref["w"]).max()
    change = np.abs(ref["w"][-1] - case.w0).max()
    assert change > 0.01  # it did learn
    assert dw <= 5e-3 * change, (dw, change)
    assert int(trace["sat"][-1]) == 0


# The learning-quality claim is checked at lr = 2**-5: at the task's own 0.05 (2**-4) online
# learning of the doubler has bursts in the float model too, and where a run stops relative
# to a burst changes the final MSE ten-fold between *float* runs with nearby settings, so no
# 2x comparison is meaningful there (see pymodel/fixed/formats.py).
LEARN_LR_SHIFT = 5
LEARN_STEPS = 10000


def _within_2x(seed: int) -> None:
    case = make_case("freq-doubler", LEARN_STEPS + TEST_STEPS, seed)
    cfg = default_config(case.activation)
    mse_fixed, _ = fixed_train_test_mse(case, cfg, LEARN_LR_SHIFT, LEARN_STEPS)
    mse_float = float_train_test_mse(case, 2.0**-LEARN_LR_SHIFT, LEARN_STEPS)
    assert mse_float < 0.01  # the float model did learn the task
    assert mse_fixed <= 2.0 * mse_float, (mse_fixed, mse_float)


def test_default_formats_learn_within_2x_of_float() -> None:
    """The frequency doubler at the DEFAULT formats: test MSE after 10000 online training
    steps (then 1000 with learning off) within 2x of the float TRTRL's, same seed and lr."""
    _within_2x(0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_formats_learn_within_2x_of_float_more_seeds(seed: int) -> None:
    _within_2x(seed)
