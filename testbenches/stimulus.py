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
    if cfg.task == "saturate":
        # targets near the edge of A's range and large weights: e, W and p clamps fire
        d = np.where(np.sin(0.9 * t)[:, None] > 0, 1.95, -1.95) * np.ones((1, cfg.k))
        wfmt = cfg.weight
        scale = 0.95 * wfmt.max / (1 << wfmt.frac)
    elif cfg.task != "random":
        raise TrtrlError(f"task: unknown {cfg.task!r}")
    if cfg.activation == "sigmoid":
        d = 0.5 + 0.4 * d
    w0 = rng.uniform(-scale, scale, size=(cfg.n, L))
    return validate_case({
        "x": x, "d": d, "w0": w0, "lr": np.float64(0.125 if cfg.task == "random" else 0.5),
        "algorithm": np.array("trtrl"), "activation": np.array(cfg.activation),
    })


def write_stimulus(path: Path, case: Any, fixed: FixedConfig, lr_shift: int | None,
                   learn: bool = True,
                   learn_steps: tuple[bool, ...] | None = None) -> dict[str, Any]:
    """Quantise a case and save what the testbench drives (x_q, d_q, w0_q, lr_shift).

    ``learn_steps`` (one flag per step) drives the ``learn`` input step by step; the
    reference model follows it.
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
    x_q, d_q, w0_q = quantize_case(case, fixed)  # the model's quantiser, the model's order
    arrays = {
        "x_q": x_q,
        "d_q": d_q,
        "w0_q": w0_q,
        "lr_shift": np.int64(shift),
        "learn": np.bool_(learn),
        "learn_steps": per_step,
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
