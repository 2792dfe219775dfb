"""TRTRL learns the frequency doubler about as well as RTRL, the claim of the paper
(Budik & Elhanany, 2006).

Settings are the paper experiment's (``experiments.paper``): 15 neurons,
seed 0, initial weights uniform +-0.5, lr 0.02, both algorithms from the same initial
weights. 12 000 steps (600 periods of the input) take a few seconds per algorithm.

Thresholds:

- "learned": final MSE (last 10% of the steps) below 2% of the target variance.
  Predicting 0 scores exactly the variance (0.405; the target has mean 0); the
  symmetric plateau every algorithm sits on from small weights, and a run that
  diverged to a saturated output, score 85% or more. Measured here: RTRL 2.0e-3 and
  TRTRL 2.4e-3, i.e. 0.5-0.6% of the variance, so 2% is a clear line with 3x margin.
- parity: TRTRL's final MSE at most 2x RTRL's; measured 1.20x on this seed.
  Over seeds 0-5 at these settings the ratio was 1.20, 0.50, 51 (seed 2: RTRL finds
  a far better solution, 4e-5), 1.48, 2.26, and RTRL diverged on seed 5, so the
  2x claim is a typical-case one, not a bound; this test pins seed 0.
  The ratio also grows with training length, because RTRL's exact gradient keeps
  lowering the error after TRTRL's truncated one has slowed down: seed 0 measured
  1.20x at 12 000 steps, 1.51x at 20 000 and 2.52x at 40 000 (both far below the
  "learned" line throughout). The paper experiment reports the long run and a seed
  spread; this test checks the claim at a length where the paper's "similar
  performance" is what was measured.
"""

from __future__ import annotations

import numpy as np
import pytest

from trtrl.experiments.paper import FD_LR, FD_WEIGHT_SCALE, Settings, fd_case, run_learning

STEPS = 12000
LEARNED_FRACTION_OF_VARIANCE = 0.02


@pytest.fixture(scope="module")
def runs() -> dict:
    case = fd_case(Settings(seed=0, fd_steps=STEPS), seed=0)
    assert case.lr == FD_LR and case.n == 15
    assert np.max(np.abs(case.w0)) <= FD_WEIGHT_SCALE
    tail = case.d[-STEPS // 10 :, 0]
    return {
        "variance": float(np.var(tail)),
        "zero": float(np.mean(tail**2)),
        "rtrl": run_learning(case, "rtrl", "freq-doubler"),
        "trtrl": run_learning(case, "trtrl", "freq-doubler"),
    }


def test_both_learn_the_frequency_doubler(runs: dict) -> None:
    line = LEARNED_FRACTION_OF_VARIANCE * runs["variance"]
    assert runs["zero"] == pytest.approx(runs["variance"], rel=0.05)  # mean-0 target
    for alg in ("rtrl", "trtrl"):
        mse = runs[alg].final_mse
        assert np.isfinite(mse) and mse < line, f"{alg}: final MSE {mse:.3g} >= {line:.3g}"


def test_trtrl_within_2x_of_rtrl(runs: dict) -> None:
    r, t = runs["rtrl"].final_mse, runs["trtrl"].final_mse
    assert t <= 2.0 * r, f"TRTRL {t:.3g} vs RTRL {r:.3g}: ratio {t / r:.2f} > 2"
