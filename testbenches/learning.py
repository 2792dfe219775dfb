"""The learning figures of a scored run: MSE, learning curves, the margin against float64.

Every testbench that streams a whole case (the core's own, the AXI top's batched one)
records the same figures from the errors the hardware sent, so the regression summary,
the demo and the learning-margin check read one set of keys: ``mse_hw``, and with
``compare_float`` ``mse_float``, ``mse_hw_tail``, ``mse_float_tail``, ``tail_steps``,
``curve_hw`` and ``curve_float``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trtrl.rtl.manifest import Manifest

# The hardware's learning may lose to float64 learning by at most this much; see
# testbenches/README.md ("Learning-curve margin") for the argument.
MSE_MARGIN_ABS = 2.5e-4
MSE_MARGIN_REL = 2.5
CURVE_WINDOW = 100


def curve(e: np.ndarray, window: int = CURVE_WINDOW) -> list[float]:
    """MSE over consecutive windows of ``window`` steps (the learning curve)."""
    sq = (np.asarray(e, dtype=np.float64) ** 2).mean(axis=1)
    n = len(sq) // window
    return [float(v) for v in sq[: n * window].reshape(n, window).mean(axis=1)]


def float_errors(stim: Any, man: Manifest, lr_shift: int) -> np.ndarray:
    """Errors of the float64 TRTRL model on the same case, at the hardware's learning rate."""
    from trtrl.pymodel.models import make_model

    model = make_model("trtrl", np.asarray(stim["w0"]), man.m, man.k, 2.0 ** -lr_shift,
                       man.fixed.activation)
    return model.run(np.asarray(stim["x"]), np.asarray(stim["d"]), weights_every=0)["e"]


def learning_figures(e_hw: np.ndarray, steps: int, stim: Any, man: Manifest, lr_shift: int,
                     compare_float: bool) -> dict[str, Any]:
    """The figures of the first ``steps`` rows of ``e_hw`` (raw format-A errors)."""
    if not steps:
        return {"mse_hw": None}
    e_r = np.asarray(e_hw[:steps], dtype=np.float64) / (1 << man.fixed.act.frac)
    out: dict[str, Any] = {"mse_hw": float(np.mean(e_r ** 2))}
    if compare_float:
        e_f = float_errors(stim, man, lr_shift)[:steps]
        tail = max(1, steps // 5)
        out.update(mse_float=float(np.mean(e_f ** 2)),
                   mse_hw_tail=float(np.mean(e_r[-tail:] ** 2)),
                   mse_float_tail=float(np.mean(e_f[-tail:] ** 2)), tail_steps=tail,
                   curve_hw=curve(e_r), curve_float=curve(e_f))
    return out


def check_learning(extra: dict[str, Any]) -> None:
    """The hardware learned, and within the margin of the float64 model (AssertionError)."""
    hw, fl = extra["mse_hw_tail"], extra["mse_float_tail"]
    bound = MSE_MARGIN_REL * fl + MSE_MARGIN_ABS
    assert hw <= bound, (
        f"hardware MSE over the last {extra['tail_steps']} steps {hw:.3e} exceeds the "
        f"margin {MSE_MARGIN_REL} x float {fl:.3e} + {MSE_MARGIN_ABS:.0e} = {bound:.3e}"
    )
    c = extra["curve_hw"]
    assert c[-1] < c[0], f"the hardware did not learn: MSE {c[0]:.3e} -> {c[-1]:.3e}"


__all__ = ["MSE_MARGIN_ABS", "MSE_MARGIN_REL", "check_learning", "curve", "float_errors",
           "learning_figures"]
