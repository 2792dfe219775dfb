"""The two benchmark tasks of the paper (Budik & Elhanany, 2006) as golden-vector cases:
frequency doubler and Mackey-Glass.

Both tasks put their values through an affine map ``v_scaled = gain * v + offset`` into
the activation's range; ``gain`` and ``offset`` are stored in the case (extra keys
``scale_gain`` and ``scale_offset``) and :func:`unscale` inverts the map, so results
can be reported in the task's own units.

Initial weights are ``rng.uniform(-weight_scale, weight_scale, (N, L))`` with
``rng = np.random.default_rng(seed)``. The recurrent block then has a spectral
radius of about ``weight_scale * sqrt(N / 3)``: the defaults (0.5 for the doubler's
15 neurons, 0.3 for Mackey-Glass's 25) put it near 1 (1.1 and 0.9), the edge
between a state that forgets at once and one that saturates. Much smaller scales
(0.1) leave the network stuck near the symmetric point y = 0: float RTRL/TRTRL did
not learn the doubler in 50 000 steps from 0.1, but did from 0.3 and 0.5.
"""

from __future__ import annotations

import math

import numpy as np

from trtrl.pymodel.cases import ACTIVATIONS, ALGORITHMS, Case, validate_case
from trtrl.pymodel.errors import ConfigError

# Target ranges of the affine maps, per activation: kept inside the activation's
# open range so a target is reachable with finite weights (tanh reaches +-1 only at
# infinite net input; sigmoid 0 and 1 likewise).
TANH_RANGE = (-0.9, 0.9)
SIGMOID_RANGE = (0.1, 0.9)

FREQ_DOUBLER_WEIGHT_SCALE = 0.5
MACKEY_GLASS_WEIGHT_SCALE = 0.3

# Frequency doubler: 20 samples per period of the input, so the sequence repeats
# exactly every 20 steps and consecutive samples differ enough (|dx| = 0.31 rad)
# for the network to tell the rising from the falling half of sin(x).
DEFAULT_DX = 2.0 * math.pi / 20.0

# Default learning rates (float RTRL/TRTRL, online, one update a step), picked on
# float TRTRL runs: the doubler with tanh reaches an NMSE of 3e-4..2e-2 over the last
# 2000 of 20 000 steps (seeds 0-2, lr 0.05); Mackey-Glass with tanh about 0.08-0.13
# over the last 1000 of 10 000 steps (lr 0.02; 0.05 plateaus at 0.2). Sigmoid's
# derivative is at most 1/4 against tanh's 1, so it gets 4x the step; the sigmoid
# variants were not tuned to convergence (they learn far more slowly).
FREQ_DOUBLER_LR = {"tanh": 0.05, "sigmoid": 0.2}
MACKEY_GLASS_LR = {"tanh": 0.02, "sigmoid": 0.08}

# Mackey-Glass: predict the value h = 6 time units ahead, the classic benchmark of
# Lapedes & Farber (1987) and Moody & Darken (1989) (tau = 17, a = 0.2, b = 0.1, n = 10).
# The paper's "30 time step dependencies" is read as the span of past values the
# prediction depends on: about tau + h = 23 steps of past input plus the horizon
# (tau = 30, the more chaotic variant, is one `--tau 30` away).
DEFAULT_HORIZON = 6
# RK4 step: global error about 3e-9 over the first 300 time units (16x smaller at dt/2,
# 4th order); chaos then amplifies it (see mackey_glass_series)
MG_DT = 0.1
MG_DISCARD = 1000  # time units dropped so the series starts on the attractor


def activation_range(activation: str) -> tuple[float, float]:
    """The interval task values are mapped into for ``activation``."""
    if activation == "tanh":
        return TANH_RANGE
    if activation == "sigmoid":
        return SIGMOID_RANGE
    raise ConfigError(f"activation: unknown {activation!r} (expected {' or '.join(ACTIVATIONS)})")


def scale(values: np.ndarray, gain: float, offset: float) -> np.ndarray:
    """The affine map ``gain * v + offset`` (``gain`` != 0, so it is invertible)."""
    return gain * np.asarray(values, dtype=np.float64) + offset


def unscale(values: np.ndarray, case: Case | None = None, *, gain: float | None = None,
            offset: float | None = None) -> np.ndarray:
    """Invert the task scaling: ``(v - offset) / gain``.

    Give either the ``case`` (its ``scale_gain`` / ``scale_offset`` extra keys are
    used) or ``gain`` and ``offset`` directly.
    """
    if case is not None:
        try:
            gain = float(case.extra["scale_gain"])
            offset = float(case.extra["scale_offset"])
        except KeyError as exc:
            raise ConfigError(f"{exc.args[0]}: the case has no task scaling") from None
    if gain is None or offset is None:
        raise ConfigError("unscale: give a case or both gain and offset")
    return (np.asarray(values, dtype=np.float64) - offset) / gain


def _check_positive_int(name: str, value: int, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ConfigError(f"{name}: must be an integer >= {minimum}, got {value}")
    return int(value)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}: unknown {value!r} (expected {' or '.join(allowed)})")
    return value


def initial_weights(neurons: int, inputs: int, seed: int,
                    weight_scale: float = MACKEY_GLASS_WEIGHT_SCALE) -> np.ndarray:
    """``(N, M + 1 + N)`` weights drawn uniformly from ``[-weight_scale, weight_scale]``."""
    if not (math.isfinite(weight_scale) and weight_scale >= 0):
        raise ConfigError(f"weight_scale: must be finite and >= 0, got {weight_scale}")
    rng = np.random.default_rng(seed)
    return rng.uniform(-weight_scale, weight_scale, size=(neurons, inputs + 1 + neurons))


def _learning_rate(lr: float | None, defaults: dict[str, float], activation: str) -> float:
    if lr is None:
        return defaults[activation]
    if not (math.isfinite(lr) and lr >= 0):
        raise ConfigError(f"lr: must be finite and >= 0, got {lr}")
    return float(lr)


def freq_doubler_case(
    steps: int,
    neurons: int = 15,
    seed: int = 0,
    lr: float | None = None,
    algorithm: str = "trtrl",
    activation: str = "tanh",
    dx: float = DEFAULT_DX,
    weight_scale: float = FREQ_DOUBLER_WEIGHT_SCALE,
) -> Case:
    """The frequency doubler, "Test case #1" of the paper (Budik & Elhanany, 2006).

    Input sin(x_t), target sin(2 x_t), with ``x_t = t * dx`` for ``t = 0 .. steps-1``
    (default ``dx = 2 pi / 20``, 20 steps a period). One input, one output (M = K = 1).
    The target of step ``t`` comes with the input of step ``t`` (the spec's ``d(t)``,
    ``docs/spec.md``). Since sin(x) takes every value once rising and once falling while
    sin(2x) has opposite signs there, the network has to remember where it came from:
    the task needs its recurrence.

    Both input and target go through the same affine map into the activation's range:
    tanh ``0.9 v`` (gain 0.9, offset 0), sigmoid ``(v + 1) / 2 * 0.8 + 0.1`` (gain 0.4,
    offset 0.5). ``lr`` defaults to 0.05 (tanh) or 0.2 (sigmoid); initial weights
    are uniform in ``[-weight_scale, weight_scale]`` (default 0.5).
    """
    steps = _check_positive_int("steps", steps)
    neurons = _check_positive_int("neurons", neurons)
    _check_choice("algorithm", algorithm, ALGORITHMS)
    _check_choice("activation", activation, ACTIVATIONS)
    if not (math.isfinite(dx) and dx != 0):
        raise ConfigError(f"dx: must be finite and non-zero, got {dx}")
    lo, hi = activation_range(activation)
    gain, offset = (hi - lo) / 2.0, (hi + lo) / 2.0  # maps [-1, 1] onto [lo, hi]
    phase = np.arange(steps, dtype=np.float64) * dx
    arrays = {
        "x": scale(np.sin(phase), gain, offset)[:, None],
        "d": scale(np.sin(2.0 * phase), gain, offset)[:, None],
        "w0": initial_weights(neurons, 1, seed, weight_scale),
        "lr": np.float64(_learning_rate(lr, FREQ_DOUBLER_LR, activation)),
        "algorithm": np.array(algorithm),
        "activation": np.array(activation),
        "task": np.array("freq-doubler"),
        "dx": np.float64(dx),
        "seed": np.int64(seed),
        "scale_gain": np.float64(gain),
        "scale_offset": np.float64(offset),
    }
    return validate_case(arrays)


def mackey_glass_series(
    length: int,
    tau: float = 17.0,
    a: float = 0.2,
    b: float = 0.1,
    n: float = 10.0,
    history: float = 1.2,
    dt: float = MG_DT,
    discard: int = MG_DISCARD,
) -> np.ndarray:
    """``length`` samples, one per time unit, of the Mackey-Glass delay equation

        dy/dt = a y(t - tau) / (1 + y(t - tau)^n) - b y(t),   y(t) = history for t <= 0,

    after dropping the first ``discard`` time units (the transient). Sample ``i`` is
    ``y(discard + i)``.

    Integration: classical RK4 with step ``dt``; ``1/dt`` and ``tau/dt`` must be
    integers, so the delayed values at the ends of a step, ``y(t - tau)`` and
    ``y(t - tau + dt)``, are grid points already computed. The delayed value at the
    step's midpoint (RK4's stages 2 and 3) is the cubic Hermite interpolant of the two
    neighbouring grid points and their derivatives (the derivative at a grid point is
    RK4's first stage there), ``(y0 + y1) / 2 + dt / 8 (y0' - y1')``, whose O(dt^4)
    error keeps the method 4th order; inside the constant history it is ``history``.
    Accuracy: with ``dt = 0.1`` the series is within about 3e-9 of the exact solution
    over the first 300 time units from the history (checked against dt = 0.01 and
    against an independent Heun integration). The attractor is chaotic, so a step's
    error grows with time: the samples written by default (after the 1,000 discarded
    time units) differ from the same integration at dt = 0.01 by up to 2e-7 over the
    first 200 samples, 1e-6 over the first 1,000 and 1.5e-3 by sample 2,000, and from
    an accurate DDE integrator (jitcdde) by 4e-8 to 1e-6 at the start. Beyond a
    thousand or so samples the series is a trajectory on the attractor, not the exact
    continuation of the history; for a prediction benchmark that is all it must be.
    """
    length = _check_positive_int("length", length)
    discard = _check_positive_int("discard", discard, minimum=0)
    if not (math.isfinite(dt) and 0 < dt <= 1):
        raise ConfigError(f"dt: must be in (0, 1], got {dt}")
    per_unit = round(1.0 / dt)
    if abs(per_unit * dt - 1.0) > 1e-9:
        raise ConfigError(f"dt: 1/dt must be an integer, got dt={dt}")
    if not (math.isfinite(tau) and tau > 0):
        raise ConfigError(f"tau: must be > 0, got {tau}")
    lag = round(tau / dt)
    if abs(lag * dt - tau) > 1e-9 * max(1.0, tau):
        raise ConfigError(f"tau: must be a multiple of dt={dt}, got {tau}")
    if not (math.isfinite(history) and history >= 0):
        raise ConfigError(f"history: must be finite and >= 0, got {history}")

    a, b, n, h, history = float(a), float(b), float(n), float(dt), float(history)
    total = (discard + length - 1) * per_unit  # grid steps up to the last sample

    def rhs(y: float, yd: float) -> float:
        return a * yd / (1.0 + yd**n) - b * y

    # Plain Python floats: a scalar recurrence, far faster than numpy scalars.
    ys = [history] * (total + 1)
    dys = [0.0] * (total + 1)
    for i in range(total):
        j = i - lag  # grid index of t - tau
        if j + 1 <= 0:  # the whole delayed interval lies in the constant history
            yd0 = yd_mid = yd1 = history
        else:
            yd0 = ys[j] if j >= 0 else history
            yd1 = ys[j + 1]
            # j >= 0 here since lag >= 1: Hermite midpoint of the stored solution.
            yd_mid = 0.5 * (ys[j] + yd1) + h / 8.0 * (dys[j] - dys[j + 1])
        y = ys[i]
        k1 = rhs(y, yd0)
        dys[i] = k1
        k2 = rhs(y + 0.5 * h * k1, yd_mid)
        k3 = rhs(y + 0.5 * h * k2, yd_mid)
        k4 = rhs(y + h * k3, yd1)
        ys[i + 1] = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    samples = np.asarray(ys[discard * per_unit :: per_unit], dtype=np.float64)
    return samples[:length]


def mackey_glass_case(
    steps: int,
    horizon: int = DEFAULT_HORIZON,
    neurons: int = 25,
    seed: int = 0,
    lr: float | None = None,
    algorithm: str = "trtrl",
    activation: str = "tanh",
    tau: float = 17.0,
    weight_scale: float = MACKEY_GLASS_WEIGHT_SCALE,
    dt: float = MG_DT,
    discard: int = MG_DISCARD,
) -> Case:
    """Mackey-Glass prediction, "Test case #2" of the paper (Budik & Elhanany, 2006).

    Input y(t), target y(t + horizon).
    One sample per time unit (:func:`mackey_glass_series`), starting after the first
    ``discard`` = 1,000 time units from the constant history y = 1.2 are dropped (the
    transient: the series then lies on the attractor), M = K = 1, default 25 neurons and
    ``horizon = 6`` (see ``DEFAULT_HORIZON``). The raw series of
    ``steps + horizon`` samples is stored under the extra key ``series``; input
    ``x[t] = scale(series[t])`` and target ``d[t] = scale(series[t + horizon])``, where
    the affine map sends ``[min, max]`` of the series onto the activation's range
    (tanh ``[-0.9, 0.9]``, sigmoid ``[0.1, 0.9]``). ``scale_gain`` / ``scale_offset``
    are stored, and :func:`unscale` inverts the map. ``lr`` defaults to 0.02 (tanh)
    or 0.08 (sigmoid); initial weights are uniform in ``[-weight_scale, weight_scale]``
    (default 0.3).
    """
    steps = _check_positive_int("steps", steps)
    horizon = _check_positive_int("horizon", horizon, minimum=0)
    neurons = _check_positive_int("neurons", neurons)
    _check_choice("algorithm", algorithm, ALGORITHMS)
    _check_choice("activation", activation, ACTIVATIONS)
    series = mackey_glass_series(steps + horizon, tau=tau, dt=dt, discard=discard)
    lo, hi = activation_range(activation)
    smin, smax = float(series.min()), float(series.max())
    if smax - smin <= 0:
        raise ConfigError(f"steps: the series is constant over {steps + horizon} samples")
    gain = (hi - lo) / (smax - smin)
    offset = lo - gain * smin
    scaled = scale(series, gain, offset)
    arrays = {
        "x": scaled[:steps, None],
        "d": scaled[horizon : horizon + steps, None],
        "w0": initial_weights(neurons, 1, seed, weight_scale),
        "lr": np.float64(_learning_rate(lr, MACKEY_GLASS_LR, activation)),
        "algorithm": np.array(algorithm),
        "activation": np.array(activation),
        "task": np.array("mackey-glass"),
        "series": series,
        "horizon": np.int64(horizon),
        "tau": np.float64(tau),
        "seed": np.int64(seed),
        "scale_gain": np.float64(gain),
        "scale_offset": np.float64(offset),
    }
    return validate_case(arrays)
