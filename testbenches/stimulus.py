"""The stimulus of a configuration: its case (from the tasks, or a seeded random one) and
the quantised arrays the testbench drives, written beside the build.

The quantisation is the fixed-point model's (:func:`pymodel.fixed.model.quantize_case`):
the testbench imports the model, it never re-implements it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig
from trtrl.testbenches.configs import TbConfig


def make_case(cfg: TbConfig) -> Any:
    """The golden stimulus (a :class:`pymodel.cases.Case`) of a configuration."""
    from trtrl.pymodel.cases import validate_case

    if cfg.task == "freq":
        from trtrl.pymodel.tasks import freq_doubler_case

        return freq_doubler_case(cfg.steps, neurons=cfg.n, seed=cfg.seed,
                                 activation=cfg.activation)
    if cfg.task == "mackey":
        from trtrl.pymodel.tasks import mackey_glass_case

        return mackey_glass_case(cfg.steps, neurons=cfg.n, seed=cfg.seed,
                                 activation=cfg.activation)
    rng = np.random.default_rng(cfg.seed)
    L = cfg.m + 1 + cfg.n
    t = np.arange(cfg.steps, dtype=np.float64)
    x = 0.8 * np.sin(0.37 * t[:, None] + np.arange(cfg.m)[None, :])  # (T, 0) for M = 0
    d = 0.7 * np.cos(0.23 * t[:, None] + 0.5 * np.arange(cfg.k)[None, :])
    scale = 0.6
    if cfg.task in ("saturate", "bounds"):
        # targets near the edge of A's range and large weights: e, W and p clamps fire
        d = np.where(np.sin(0.9 * t)[:, None] > 0, 1.95, -1.95) * np.ones((1, cfg.k))
        wfmt = cfg.weight
        scale = 0.95 * wfmt.max / (1 << wfmt.frac)
    elif cfg.task not in ("random", "sens_bounds"):
        raise TrtrlError(f"task: unknown {cfg.task!r}")
    if cfg.activation == "sigmoid":
        d = 0.5 + 0.4 * d
    w0 = rng.uniform(-scale, scale, size=(cfg.n, L))
    if cfg.task == "bounds":
        x, d, w0 = _on_the_bounds(cfg, x, d, w0)
    if cfg.task == "sens_bounds":
        x, d, w0 = _sens_on_the_bounds(cfg, x, d, w0)
    return validate_case({
        "x": x, "d": d, "w0": w0, "lr": np.float64(0.125 if cfg.task == "random" else 0.5),
        "algorithm": np.array("trtrl"), "activation": np.array(cfg.activation),
    })


# The directed start of the ``bounds`` task: a clamp sees a value exactly on its bound,
# where clamping changes nothing but a comparison written one off (``x >= MAX`` for
# ``x > MAX``) would count a saturation event. Step 0: every output is its own target
# (e = 0, so the gradient is 0 and every weight update is W + 0), with weights at W's
# maximum and minimum in every row; step 1 (learning off): an output y >= 0 with the
# target A.min + y, so e = A.min exactly; step 2: an output y <= 0 with the target
# A.max + y, so e = A.max exactly. The saturating stimulus follows.
BOUNDS_STEPS = 3
BOUNDS_LEARN = (True, False, True)
_BOUNDS_X = (0.0, 1.5, -1.0)  # drives y = f(W.max x + W.min) positive (1.5), negative (-1)


def _on_the_bounds(cfg: TbConfig, x: np.ndarray, d: np.ndarray,
                   w0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from trtrl.pymodel.fixed.arith import quantize
    from trtrl.pymodel.fixed.lut import build_lut, lut_index

    if cfg.m < 1 or cfg.steps < BOUNDS_STEPS:
        raise TrtrlError(f"task bounds: needs an input (M >= 1) and at least {BOUNDS_STEPS} "
                         f"steps, not M = {cfg.m}, {cfg.steps} steps")
    fixed = cfg.fixed()
    a, wf = fixed.act, fixed.weight
    x, d, w0 = x.copy(), d.copy(), w0.copy()
    w_max, w_min = wf.max / (1 << wf.frac), wf.min / (1 << wf.frac)
    # every row: x_0 weight W.max, bias weight W.min; the output rows read nothing else,
    # so every output is the same y = f(W.max x_0 + W.min), whatever the state
    w0[:, 0], w0[:, cfg.m] = w_max, w_min
    w0[: cfg.k, 1 : cfg.m] = 0.0
    w0[: cfg.k, cfg.m + 1 :] = 0.0
    lut = build_lut(fixed)
    one = a.one
    for t, xt in enumerate(_BOUNDS_X):
        x[t] = 0.0
        x[t, 0] = xt
        s = int(wf.max) * int(quantize(xt, a)) + int(wf.min) * one  # the forward sum
        y = int(lut[lut_index(np.int64(s), fixed)])
        target = (y, a.min + y, a.max + y)[t]  # e = 0, A.min, A.max
        if not a.min <= target <= a.max:
            raise TrtrlError(f"task bounds: the {cfg.activation} table gives y = {y} at "
                             f"step {t}, so no target in format A reaches the bound")
        d[t] = target / (1 << a.frac)
    return x, d, w0


# The directed start of the ``sens_bounds`` task, for a sensitivity's clamps (format P
# equal to format A, so an input is a sensitivity's inner sum bit for bit). Step 0, from
# the cleared state: input and bias weights 0, so every y = f(0) from the table, whose
# f'(y) is exactly 1, and every target y (e = 0, no update); the inner sum of column j is
# then z_j, so the input A.max lands exactly on P's maximum and A.min on its minimum, and
# with f'(y) = 1 so do the sensitivities. Step 1: each output's self-weight -1 turns the
# sensitivities at P.max and P.min round, and the inputs -1 and +1 push them past P.min
# and P.max. The random task's stimulus follows.
SENS_BOUNDS_STEPS = 2


def _sens_on_the_bounds(cfg: TbConfig, x: np.ndarray, d: np.ndarray,
                        w0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from trtrl.pymodel.fixed.lut import build_lut, lut_index
    from trtrl.pymodel.fixed.model import derivative

    fixed = cfg.fixed()
    a = fixed.act
    if (cfg.sens.total, cfg.sens.frac) != (a.total, a.frac) or cfg.m < 2 \
            or cfg.steps < SENS_BOUNDS_STEPS:
        raise TrtrlError(f"task sens_bounds: needs format P equal to format A, two inputs "
                         f"(M >= 2) and {SENS_BOUNDS_STEPS} steps, not P = {cfg.sens}, "
                         f"A = {a}, M = {cfg.m}, {cfg.steps} steps")
    y = build_lut(fixed)[lut_index(np.int64(0), fixed)]
    if derivative(y, fixed) != a.one:
        raise TrtrlError(f"task sens_bounds: the {cfg.activation} table's f(0) = {y} has "
                         "f'(y) below 1, so no sensitivity reaches P's bounds")
    x, d, w0 = x.copy(), d.copy(), w0.copy()
    w0[:, : cfg.m + 1] = 0.0
    w0[np.arange(cfg.k), cfg.m + 1 + np.arange(cfg.k)] = -1.0
    x[:2] = 0.0
    x[0, :2] = a.max / a.one, a.min / a.one
    x[1, :2] = -1.0, 1.0
    d[0] = y / a.one
    return x, d, w0


def learn_flags(cfg: TbConfig) -> tuple[bool, ...] | None:
    """The ``learn`` input step by step: the configuration's, else the task's (``bounds``
    turns learning off for one step), else None (learn on every step)."""
    if cfg.learn_steps is not None or cfg.task != "bounds":
        return cfg.learn_steps
    return BOUNDS_LEARN + (True,) * (cfg.steps - BOUNDS_STEPS)


def write_stimulus(path: Path, case: Any, fixed: FixedConfig, lr_shift: int | None,
                   learn: bool = True,
                   learn_steps: tuple[bool, ...] | None = None,
                   lr_steps: tuple[int, ...] | None = None,
                   reset_at: int | None = None) -> dict[str, Any]:
    """Quantise a case and save what the testbench drives (x_q, d_q, w0_q, lr_shift).

    ``learn_steps`` (one flag per step) drives the ``learn`` input step by step, and
    ``lr_steps`` (one shift per step) the ``lr_shift`` input; the reference model follows
    both. ``reset_at`` is the step during which the core's testbench pulses ``rst``
    (saved as -1 for None: no reset after power-up).
    """
    from trtrl.pymodel.fixed.model import lr_shift_from_lr, quantize_case

    steps = int(np.asarray(case.x).shape[0])
    if learn_steps is None:
        per_step = np.full(steps, bool(learn))
    else:
        per_step = np.asarray(learn_steps, dtype=bool)
        if per_step.shape != (steps,):
            raise TrtrlError(f"learn_steps: {per_step.shape[0]} flags for {steps} steps")
        learn = bool(per_step.any())
    shift = lr_shift if lr_shift is not None else lr_shift_from_lr(case.lr, learn)
    shifts = np.full(steps, shift, dtype=np.int64) if lr_steps is None else \
        np.asarray(lr_steps, dtype=np.int64)
    if shifts.shape != (steps,):
        raise TrtrlError(f"lr_steps: {shifts.shape[0]} shifts for {steps} steps")
    if reset_at is not None and not 0 <= reset_at < steps:
        raise TrtrlError(f"reset_at: step {reset_at} is not one of the run's {steps} steps")
    x_q, d_q, w0_q = quantize_case(case, fixed)  # the model's quantiser, the model's order
    arrays = {
        "x_q": x_q,
        "d_q": d_q,
        "w0_q": w0_q,
        "lr_shift": np.int64(shift),
        "learn": np.bool_(learn),
        "learn_steps": per_step,
        "lr_steps": shifts,
        "reset_at": np.int64(-1 if reset_at is None else reset_at),
        # the float case rides along for the MSE comparison with the float model
        "x": np.asarray(case.x, dtype=np.float64),
        "d": np.asarray(case.d, dtype=np.float64),
        "w0": np.asarray(case.w0, dtype=np.float64),
        "lr": np.float64(case.lr),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays
