"""The vectorised fixed-point model equals the loop transcription of FIXED_POINT.md bit for bit."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.fixed import FixedConfig, FixedFormat, FixedTRTRL, build_lut
from trtrl.pymodel.fixed.model import kept_steps
from trtrl.pymodel.jit import KERNELS
from trtrl.pymodel.tests.fixed_loop_reference import LoopTRTRL


def _random_setup(rng: np.random.Generator, n: int, m: int, k: int, cfg: FixedConfig,
                  steps: int, w_scale: float, full: bool = False):
    """Random raw stimulus; ``full`` draws targets over the whole A range (forces e clamps)."""
    L = m + 1 + n
    a, w = cfg.act, cfg.weight
    x = rng.integers(a.min // 2, a.max // 2 + 1, size=(steps, m))
    lo, hi = (a.min, a.max) if full else (a.min // 2, a.max // 2)
    d = rng.integers(lo, hi + 1, size=(steps, k))
    span = int(w_scale * w.one)
    w0 = np.clip(rng.integers(-span, span + 1, size=(n, L)), w.min, w.max)
    return x, d, w0


# (n, m, k, activation, A, W, P, lut_bits, lr_shift, learn, w_scale[, full-range targets])
CASES = [
    (3, 2, 1, "tanh", "16.14", "16.12", "16.12", 10, 4, True, 0.5),
    (3, 1, 3, "tanh", "16.14", "16.12", "16.12", 10, 3, True, 0.8),  # K = N
    (1, 2, 1, "tanh", "16.14", "16.12", "16.12", 10, 2, True, 1.0),  # N = 1 (= RTRL)
    (4, 0, 2, "sigmoid", "16.14", "16.12", "16.12", 10, 2, True, 0.8),  # M = 0
    (5, 2, 2, "sigmoid", "12.9", "12.8", "12.8", 8, 1, True, 2.0),
    (4, 1, 1, "tanh", "8.5", "8.4", "8.4", 6, 0, True, 3.0),  # narrow: saturates
    (5, 3, 2, "tanh", "10.7", "9.4", "8.5", 7, 0, True, 4.0),  # narrow, mixed
    (4, 2, 2, "tanh", "10.7", "9.4", "8.5", 7, 1, False, 4.0),  # learning off
    (6, 1, 3, "sigmoid", "9.6", "10.5", "9.6", 7, 0, True, 3.0),
    (2, 1, 2, "tanh", "6.3", "6.2", "6.2", 4, 0, True, 2.0),  # tiny: saturates a lot
    (4, 1, 2, "tanh", "8.5", "8.5", "6.4", 6, 0, True, 1.0, True),  # inner, e and W clamps
    (5, 2, 3, "sigmoid", "8.5", "7.4", "6.4", 6, 0, True, 1.0, True),
    (3, 1, 1, "tanh", "8.5", "8.5", "7.4", 6, 0, False, 0.7, True),
]


def _setup(case):
    n, m, k, act, fa, fw, fp, lut_bits, lr_shift, learn, w_scale, *rest = case
    cfg = FixedConfig(
        act=FixedFormat.parse(fa), weight=FixedFormat.parse(fw), sens=FixedFormat.parse(fp),
        acc_bits=48, lut_bits=lut_bits, lut_range=2 if lut_bits < 8 else None, activation=act,
    )
    rng = np.random.default_rng(1234 + n * 7 + m * 3 + k)
    x, d, w0 = _random_setup(rng, n, m, k, cfg, 25, w_scale, full=bool(rest and rest[0]))
    return cfg, x, d, w0, (n, m, k, lr_shift, learn)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("case", CASES, ids=[f"c{i}" for i in range(len(CASES))])
def test_vectorised_equals_loop_reference(case, kernel: str) -> None:
    cfg, x, d, w0, (n, m, k, lr_shift, learn) = _setup(case)
    steps = len(x)
    fast = FixedTRTRL(w0, m, k, cfg, lr_shift, learn=learn, kernel=kernel)
    slow = LoopTRTRL(w0.tolist(), m, k, cfg, lr_shift, learn, build_lut(cfg))
    for t in range(steps):
        y, e = fast.step(x[t], d[t])
        y_ref, e_ref = slow.step(x[t].tolist(), d[t].tolist())
        assert y.tolist() == y_ref, f"y at step {t}"
        assert e.tolist() == e_ref, f"e at step {t}"
        assert fast.w.tolist() == slow.w, f"w at step {t}"
        p_out, p_ing, p_egr = slow.layout()
        assert fast.p_out.tolist() == p_out, f"p_out at step {t}"
        assert fast.p_ing.tolist() == p_ing, f"p_ing at step {t}"
        assert fast.p_egr.tolist() == p_egr, f"p_egr at step {t}"
        assert fast.sat_count == slow.sat, f"sat at step {t}"
    assert fast.steps == steps
    if not learn:
        assert fast.w.tolist() == w0.tolist()


def test_narrow_cases_do_saturate() -> None:
    """The saturation paths of the equivalence test are really exercised.

    ``fp`` and ``p`` clamps cannot fire (``0 <= fp <= ONE``, so ``|fp*inner| >> A.frac``
    never exceeds ``|inner|``); every other kind must fire in some case.
    """
    kinds: Counter[str] = Counter()
    for case in CASES:
        cfg, x, d, w0, (n, m, k, lr_shift, learn) = _setup(case)
        slow = LoopTRTRL(w0.tolist(), m, k, cfg, lr_shift, learn, build_lut(cfg))
        for t in range(len(x)):
            slow.step(x[t].tolist(), d[t].tolist())
        kinds += slow.sat_kinds
    assert kinds["inner"] > 0 and kinds["e"] > 0 and kinds["w"] > 0, kinds
    assert kinds["fp"] == 0 and kinds["p"] == 0, kinds


def test_invariants_of_layout() -> None:
    """Duplicated quantities agree (FIXED_POINT.md's layout table)."""
    n, m, k = 5, 2, 2
    cfg = FixedConfig()
    rng = np.random.default_rng(5)
    x, d, w0 = _random_setup(rng, n, m, k, cfg, 30, 0.8)
    model = FixedTRTRL(w0, m, k, cfg, 3)
    model.run(x, d)
    for i in range(k):
        assert np.array_equal(model.p_ing[i], model.p_out[i, i])
    for i in range(n):
        for j in range(m + 1, m + 1 + n):
            nj = j - m - 1
            if nj < k:
                assert model.p_egr[i, j] == model.p_out[nj, i, j]
            if nj == i:
                assert model.p_egr[i, j] == model.p_ing[i, j]
    assert not model.p_egr[:, : m + 1].any()


def test_run_trace_keeps_requested_steps() -> None:
    n, m, k = 3, 1, 1
    cfg = FixedConfig()
    rng = np.random.default_rng(9)
    x, d, w0 = _random_setup(rng, n, m, k, cfg, 10, 0.5)
    full = FixedTRTRL(w0, m, k, cfg, 3).run(x, d)
    sparse = FixedTRTRL(w0, m, k, cfg, 3).run(x, d, weights_every=4)
    assert sparse["w_step"].tolist() == [3, 7, 9]
    assert np.array_equal(sparse["w"], full["w"][[3, 7, 9]])
    assert np.array_equal(sparse["p_out"], full["p_out"][[3, 7, 9]])
    assert np.array_equal(sparse["y"], full["y"])
    assert full["w"].shape == (10, n, m + 1 + n) and full["sat"].shape == (10,)
    assert kept_steps(10, 0).tolist() == [9]
    assert kept_steps(10, 1).tolist() == list(range(10))
    assert kept_steps(9, 3).tolist() == [2, 5, 8]
    with pytest.raises(ConfigError, match="weights_every"):
        kept_steps(10, -1)


def test_reset_state_keeps_weights() -> None:
    n, m, k = 3, 1, 1
    cfg = FixedConfig()
    rng = np.random.default_rng(2)
    x, d, w0 = _random_setup(rng, n, m, k, cfg, 10, 0.5)
    model = FixedTRTRL(w0, m, k, cfg, 2)
    model.run(x, d)
    w = model.w.copy()
    model.reset_state()
    assert np.array_equal(model.w, w)
    assert model.steps == 0 and model.sat_count == 0 and not model.y.any()
    assert not model.p_out.any() and not model.p_ing.any() and not model.p_egr.any()
