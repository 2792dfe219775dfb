"""The cells model of `trtrl experiment hardware`: datapath (b N) against storage (c N^2)."""

from __future__ import annotations

import pytest

from rtl.experiment_hardware import fit_quadratic


def test_fit_quadratic_recovers_terms_and_predicts_holdout() -> None:
    """Exact a + b N + c N^2 data: coefficients, cross-over, local exponents and hold-out."""
    a, b, c = 5500.0, 26100.0, 330.0
    ns = [2, 4, 8, 16, 32]
    model = fit_quadratic(ns, [a + b * n + c * n * n for n in ns])
    assert model is not None
    assert (model["a"], model["b"], model["c"]) == pytest.approx((a, b, c), rel=1e-9)
    assert model["n_cross"] == pytest.approx(b / c)
    assert model["worst_residual"] < 1e-12
    n = 1024
    assert model["local_exponent"][str(n)] == pytest.approx(
        (b * n + 2 * c * n * n) / (a + b * n + c * n * n))
    assert 1.0 < model["local_exponent"]["32"] < model["local_exponent"]["1024"] < 2.0
    ho = model["holdout"]
    assert ho["n"] == 32 and abs(ho["error"]) < 1e-9


def test_fit_quadratic_flags_a_bad_model() -> None:
    """Cubic data is not a + b N + c N^2: the residual and the hold-out error show it."""
    ns = [2, 4, 8, 16, 32]
    model = fit_quadratic(ns, [float(n ** 3) for n in ns])
    assert model is not None
    assert model["worst_residual"] > 0.05
    assert model["holdout"]["error"] < -0.2  # the quadratic under-predicts N^3


def test_fit_quadratic_needs_three_sizes_and_skips_missing() -> None:
    assert fit_quadratic([2, 4], [1.0, 2.0]) is None
    assert fit_quadratic([2, 4, 8], [1.0, None, 3.0]) is None
    model = fit_quadratic([2, 4, 8, 16], [10.0, 20.0, 40.0, None])
    assert model is not None and "holdout" not in model and model["sizes"] == [2, 4, 8]
