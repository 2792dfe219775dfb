"""The tasks of the paper (Budik & Elhanany, 2006): frequency doubler relation,
Mackey-Glass accuracy, scaling round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trtrl.pymodel.cases import validate_case
from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.tasks import (
    activation_range,
    freq_doubler_case,
    mackey_glass_case,
    mackey_glass_series,
    scale,
    unscale,
)


def heun_mackey_glass(t_end: int, tau: float = 17.0, a: float = 0.2, b: float = 0.1,
                      n: float = 10.0, history: float = 1.2, dt: float = 1e-3) -> np.ndarray:
    """Independent reference: Heun (explicit trapezoid, 2nd order) with a fine step.

    With ``tau / dt`` an integer both delayed values Heun needs, ``y(t - tau)`` and
    ``y(t - tau + dt)``, are grid points, so no interpolation is involved at all.
    Returns ``y(0), y(1), .., y(t_end)``.
    """
    lag, per_unit = round(tau / dt), round(1 / dt)
    ys = [history] * (t_end * per_unit + 1)
    for i in range(t_end * per_unit):
        j = i - lag
        yd0 = ys[j] if j > 0 else history
        yd1 = ys[j + 1] if j + 1 > 0 else history
        y = ys[i]
        k1 = a * yd0 / (1 + yd0**n) - b * y
        k2 = a * yd1 / (1 + yd1**n) - b * (y + dt * k1)
        ys[i + 1] = y + 0.5 * dt * (k1 + k2)
    return np.array(ys[::per_unit])


def test_mackey_glass_matches_independent_integration() -> None:
    # Over t in [0, 300] (about 18 delays) from the constant history. Error orders:
    # Heun's global error is O(dt^2): halving its step to 2e-3 moves it by 6.5e-8, so at
    # 1e-3 it is about 6.5e-8 / 3 = 2e-8. The RK4 series (dt = 0.1) is within 3e-9 of
    # RK4 at dt = 0.01 (ratio 16 per halving: 4th order). The largest Lyapunov exponent
    # of this attractor is below 0.01 per time unit, so chaos amplifies these errors by
    # at most e^3 = 20 over 300 units (and it is already included in the numbers above,
    # measured over this very interval). Expected difference: a few 1e-8; tolerance 1e-6
    # leaves a 30x margin yet catches a lower-order midpoint delay (measured: linear
    # interpolation gives 2e-4 here, a piecewise-constant delay 3e-2).
    span = 300
    ours = mackey_glass_series(span + 1, discard=0)
    ref = heun_mackey_glass(span)
    assert ours.shape == ref.shape == (span + 1,)
    assert ours[0] == 1.2
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


def test_mackey_glass_is_fourth_order() -> None:
    coarse = mackey_glass_series(201, discard=0, dt=0.1)
    half = mackey_glass_series(201, discard=0, dt=0.05)
    fine = mackey_glass_series(201, discard=0, dt=0.01)
    err_coarse = np.abs(coarse - fine).max()
    err_half = np.abs(half - fine).max()
    assert err_coarse < 1e-7
    assert err_coarse / err_half > 10  # 16 for a 4th-order method


def test_mackey_glass_discard_and_attractor() -> None:
    full = mackey_glass_series(400, discard=0)
    cut = mackey_glass_series(100, discard=300)
    np.testing.assert_array_equal(cut, full[300:])
    long = mackey_glass_series(3000)
    # The tau = 17 attractor stays within about [0.4, 1.35] and never settles.
    assert 0.3 < long.min() < 0.5 and 1.2 < long.max() < 1.4
    assert long[-500:].std() > 0.1


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"dt": 0.3}, "dt"), ({"tau": 17.05}, "tau"), ({"tau": -1.0}, "tau"),
    ({"length": 0}, "length"), ({"discard": -1}, "discard"),
])
def test_mackey_glass_series_refuses(kwargs: dict, name: str) -> None:
    args = {"length": 10, **kwargs}
    with pytest.raises(ConfigError, match=f"^{name}:"):
        mackey_glass_series(**args)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_mackey_glass_case(activation: str) -> None:
    case = mackey_glass_case(500, horizon=6, activation=activation, seed=3)
    assert (case.steps, case.m, case.k, case.n) == (500, 1, 1, 25)
    assert case.activation == activation and case.algorithm == "trtrl"
    series = case.extra["series"]
    assert series.shape == (506,)
    assert int(case.extra["horizon"]) == 6
    np.testing.assert_allclose(unscale(case.x[:, 0], case), series[:500], rtol=0, atol=1e-12)
    np.testing.assert_allclose(unscale(case.d[:, 0], case), series[6:], rtol=0, atol=1e-12)
    # The target is the input `horizon` steps later.
    np.testing.assert_array_equal(case.d[:-6, 0], case.x[6:, 0])
    lo, hi = activation_range(activation)
    values = np.concatenate([case.x[:, 0], case.d[:, 0]])
    assert values.min() == pytest.approx(lo) and values.max() == pytest.approx(hi)
    validate_case(case.to_arrays())


def test_scaling_round_trips() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=1000)
    for gain, offset in [(0.9, 0.0), (0.4, 0.5), (1.7, -0.3)]:
        np.testing.assert_allclose(unscale(scale(v, gain, offset), gain=gain, offset=offset),
                                   v, rtol=0, atol=1e-14)
    case = mackey_glass_case(50)
    np.testing.assert_allclose(scale(unscale(case.x, case), float(case.extra["scale_gain"]),
                                     float(case.extra["scale_offset"])), case.x, atol=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_freq_doubler_relation(activation: str) -> None:
    dx = 2 * math.pi / 20
    case = freq_doubler_case(200, activation=activation, dx=dx)
    assert (case.steps, case.m, case.k, case.n) == (200, 1, 1, 15)
    v_in = unscale(case.x[:, 0], case)
    v_out = unscale(case.d[:, 0], case)
    t = np.arange(200)
    np.testing.assert_allclose(v_in, np.sin(t * dx), atol=1e-14)
    # sin(2x) = 2 sin(x) cos(x): the target's sign depends on whether sin(x) is rising.
    np.testing.assert_allclose(v_out, 2 * np.sin(t * dx) * np.cos(t * dx), atol=1e-14)
    # Periodic with 20 steps a period; same input, opposite target at t and 10 - t.
    np.testing.assert_allclose(case.x[20:], case.x[:-20], atol=1e-12)
    np.testing.assert_allclose(v_in[3], v_in[7], atol=1e-12)
    np.testing.assert_allclose(v_out[3], -v_out[7], atol=1e-12)
    lo, hi = activation_range(activation)
    assert lo - 1e-12 <= case.x.min() and case.x.max() <= hi + 1e-12
    if activation == "sigmoid":  # the documented map (v + 1) / 2 * 0.8 + 0.1
        np.testing.assert_allclose(case.d[:, 0], (v_out + 1) / 2 * 0.8 + 0.1, atol=1e-14)
    else:
        np.testing.assert_allclose(case.d[:, 0], 0.9 * v_out, atol=1e-14)


def test_initial_weights_seeded() -> None:
    a = freq_doubler_case(10, seed=5, weight_scale=0.25)
    b = freq_doubler_case(10, seed=5, weight_scale=0.25)
    c = freq_doubler_case(10, seed=6, weight_scale=0.25)
    np.testing.assert_array_equal(a.w0, b.w0)
    assert not np.array_equal(a.w0, c.w0)
    assert a.w0.shape == (15, 1 + 1 + 15)
    assert np.abs(a.w0).max() <= 0.25


def test_lr_defaults_and_override() -> None:
    assert freq_doubler_case(5).lr == 0.05
    assert freq_doubler_case(5, activation="sigmoid").lr == 0.2
    assert mackey_glass_case(5).lr == 0.02
    assert freq_doubler_case(5, lr=0.3).lr == 0.3


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"steps": 0}, "steps"), ({"neurons": 0}, "neurons"), ({"lr": -1.0}, "lr"),
    ({"lr": math.nan}, "lr"), ({"algorithm": "bptt"}, "algorithm"),
    ({"activation": "relu"}, "activation"), ({"dx": 0.0}, "dx"),
    ({"weight_scale": -1.0}, "weight_scale"),
])
def test_freq_doubler_refuses(kwargs: dict, name: str) -> None:
    args = {"steps": 10, **kwargs}
    with pytest.raises(ConfigError, match=f"^{name}:"):
        freq_doubler_case(**args)


def test_mackey_glass_case_refuses_negative_horizon() -> None:
    with pytest.raises(ConfigError, match="^horizon:"):
        mackey_glass_case(10, horizon=-1)


def test_the_written_samples_drift_as_the_docstring_says() -> None:
    """After the discarded 1,000 time units, chaos has amplified the RK4 step's error:
    the docstring promises up to about 2e-7 over the first 200 samples and 1e-6 over the
    first 1,000 (against the same integration at dt = 0.01, itself within 2e-9 of dt =
    0.02 there). The bounds are 2x those figures, so the test holds the docstring to its
    order of magnitude; a slip of the integrator shows orders of magnitude above them (a
    linearly interpolated midpoint delay is already 2e-4 off over the first 300 units,
    see test_mackey_glass_matches_independent_integration)."""
    coarse = mackey_glass_series(1000)
    fine = mackey_glass_series(1000, dt=0.01)
    assert np.abs(coarse[:200] - fine[:200]).max() < 4e-7
    assert np.abs(coarse - fine).max() < 2.5e-6


def test_mackey_glass_help_says_the_transient_is_dropped(trtrl_cmd: list[str]) -> None:
    import subprocess

    res = subprocess.run([*trtrl_cmd, "data", "mackey-glass", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stdout.split())
    assert "1,000 time units" in text and "transient" in text
