"""Tests of the float64 reference models (pymodel.models).

Three independent yardsticks: the complex-step derivative (exact RTRL gradient),
the loop-by-loop transcription of the spec, docs/spec.md (tests/loop_reference.py),
and the spec's identity TRTRL == RTRL at N = 1. Plus the trace/run and API contracts.
"""

from __future__ import annotations

import numpy as np
import pytest

from trtrl.pymodel.activations import ACTIVATIONS, activate, derivative_from_y
from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.models import ALGORITHMS, OnlineModel, kept_steps, make_model
from trtrl.pymodel.network import Shape
from trtrl.pymodel.tests.loop_reference import LoopModel


def random_case(
    seed: int, n: int, m: int, k: int, steps: int, scale: float = 0.7
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random weights (N, L), inputs (T, M) and targets (T, K)."""
    rng = np.random.default_rng(seed)
    L = m + 1 + n
    w0 = rng.normal(0.0, scale, (n, L))
    x = rng.normal(0.0, 1.0, (steps, m))
    d = rng.uniform(-0.8, 0.8, (steps, k))
    return w0, x, d


# (N, M, K, activation): covers M = 0, K = 1, K = N, N = 1, both activations.
CONFIGS = [
    (1, 0, 1, "tanh"),
    (1, 2, 1, "sigmoid"),
    (3, 0, 1, "tanh"),
    (3, 0, 3, "sigmoid"),
    (4, 2, 1, "sigmoid"),
    (4, 1, 4, "tanh"),
    (5, 2, 2, "tanh"),
    (5, 0, 3, "sigmoid"),
    (6, 3, 2, "tanh"),
]


# ---------------------------------------------------------------------------
# 1. RTRL is the exact gradient: complex-step derivative of an independent
#    forward-only transcription.
# ---------------------------------------------------------------------------

H = 1e-30


def complex_step_jacobians(w0: np.ndarray, x: np.ndarray, activation: str) -> list[np.ndarray]:
    """dy_k(t+1)/dW[i, j] for every step, as (N, N, L) arrays indexed [k, i, j].

    One batch entry per weight: W + i*H*E_ij, run forward with complex numbers;
    the derivative is Im(y) / H. With W held constant (lr = 0) this is exactly what
    RTRL's p^k_ij(t+1) is defined to be.
    """
    n, L = w0.shape
    m = L - 1 - n
    b = n * L
    wb = np.broadcast_to(w0.astype(np.complex128), (b, n, L)).copy()
    wb.reshape(b, n * L)[np.arange(b), np.arange(b)] += 1j * H
    y = np.zeros((b, n), dtype=np.complex128)
    out = []
    for t in range(x.shape[0]):
        z = np.concatenate([np.broadcast_to(x[t], (b, m)), np.ones((b, 1)), y], axis=1)
        s = np.einsum("bnl,bl->bn", wb, z)
        y = np.tanh(s) if activation == "tanh" else 1.0 / (1.0 + np.exp(-s))
        # entry b = i*L + j, column k  ->  [k, i, j]
        out.append((y.imag / H).T.reshape(n, n, L))
    return out


@pytest.mark.parametrize("n,m,k,act", CONFIGS)
def test_rtrl_matches_complex_step(n: int, m: int, k: int, act: str) -> None:
    # Complex step: f(W + iH E) = f(W) + iH f'(W) E + O(H^2), and with H = 1e-30 the
    # O(H^2) part is ~1e-60 relative, far below rounding; there is no subtraction,
    # so Im/H is the derivative to a few ulp of each term. RTRL computes the same
    # chain rule in another summation order (and f' as 1 - y^2 / y(1 - y)), so the
    # two agree to rounding: a few ulp per term, growing at most mildly over the
    # steps of a contracting network. rtol 1e-12 (plus atol 1e-12 * max|p| for
    # entries that cancel to ~0) leaves ~3 orders of margin, while any wrong term
    # (missing delta, W(t+1) instead of W(t), wrong index) is an O(1) relative error.
    w0, x, d = random_case(100 + n * 10 + m + k, n, m, k, steps=12)
    model = make_model("rtrl", w0, m, k, lr=0.0, activation=act)
    ref = complex_step_jacobians(w0, x, act)
    for t in range(x.shape[0]):
        model.step(x[t], d[t])
        p = model.sensitivities()["p"]
        scale = np.max(np.abs(ref[t]))
        assert scale > 1e-3  # a real, non-trivial gradient
        np.testing.assert_allclose(p, ref[t], rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_array_equal(model.w, w0)  # lr = 0: weights never moved


def test_rtrl_matches_central_differences() -> None:
    # Independent of complex arithmetic: central differences with h = 1e-6 have a
    # truncation error ~ h^2 |y'''| / 6 ~ 1e-13 and a rounding error ~ eps / h
    # ~ 2e-10 (the function values are O(1)), so 1e-8 absolute is a safe bound.
    n, m, k, act = 4, 2, 2, "tanh"
    w0, x, d = random_case(7, n, m, k, steps=8)
    model = make_model("rtrl", w0, m, k, lr=0.0, activation=act)
    model.run(x, d)
    p = model.sensitivities()["p"]
    h = 1e-6
    fd = np.zeros_like(p)
    for i in range(n):
        for j in range(m + 1 + n):
            ys = []
            for sign in (1.0, -1.0):
                w = w0.copy()
                w[i, j] += sign * h
                ys.append(make_model("rtrl", w, m, k, 0.0, act).run(x, d)["y"][-1])
            fd[:, i, j] = (ys[0] - ys[1]) / (2 * h)
    np.testing.assert_allclose(p, fd, rtol=0, atol=1e-8)


# ---------------------------------------------------------------------------
# 2. TRTRL is exactly RTRL for N = 1.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("m", [0, 1, 3])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_trtrl_equals_rtrl_for_one_neuron(m: int, act: str) -> None:
    # Bitwise: with N = 1 both perform the very same floating-point operations.
    # RTRL: (f' * W_r) @ p is a 1x1 by 1xL product, one multiply per entry, then
    # + f' * z. TRTRL: (f' * W_r) * p_ing, plus W * p_egr where p_egr is 0 on every
    # column (input/bias columns, and the only neuron column is i = n(j), zeroed so
    # it is counted once), which adds an exact zero; then + f' * z. The weight
    # update is one product e * p, then * lr, in both. So no tolerance is needed.
    w0, x, d = random_case(3 + m, 1, m, 1, steps=60, scale=1.2)
    r = make_model("rtrl", w0, m, 1, lr=0.2, activation=act)
    t = make_model("trtrl", w0, m, 1, lr=0.2, activation=act)
    for step in range(x.shape[0]):
        yr, er = r.step(x[step], d[step])
        yt, et = t.step(x[step], d[step])
        np.testing.assert_array_equal(yt, yr)
        np.testing.assert_array_equal(et, er)
        np.testing.assert_array_equal(t.w, r.w)
        p = r.sensitivities()["p"]
        s = t.sensitivities()
        np.testing.assert_array_equal(s["p_out"], p)
        np.testing.assert_array_equal(s["p_ing"], p[0])
        egr = np.zeros_like(p[0])
        egr[0, m + 1] = p[0, 0, m + 1]
        np.testing.assert_array_equal(s["p_egr"], egr)
    assert not np.array_equal(t.w, w0)  # it did learn


# ---------------------------------------------------------------------------
# 3. Vectorised models == the loop-by-loop transcription of the spec.
# ---------------------------------------------------------------------------


def assert_close(a: np.ndarray, b: np.ndarray, what: str) -> None:
    # Same operations as the loop transcription, in another summation order (and
    # np.tanh vs math.tanh, each within an ulp): differences are a few ulp of O(1)
    # values, observed <= ~5e-15 over these runs. 1e-12 keeps a wide margin but any
    # missing, extra or double-counted term changes values by O(|W p|) >> 1e-12.
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("n,m,k,act", CONFIGS)
def test_vectorised_matches_loop_reference(
    algorithm: str, n: int, m: int, k: int, act: str
) -> None:
    w0, x, d = random_case(n * 100 + m * 10 + k, n, m, k, steps=25)
    vec = make_model(algorithm, w0, m, k, lr=0.15, activation=act)
    loop = LoopModel(algorithm, w0, m, k, lr=0.15, activation=act)
    for t in range(x.shape[0]):
        yv, ev = vec.step(x[t], d[t])
        yl, el = loop.step(list(x[t]), list(d[t]))
        assert_close(yv, np.array(yl), f"y step {t}")
        assert_close(ev, np.array(el), f"e step {t}")
        assert_close(vec.w, loop.weights(), f"w step {t}")
        sv, sl = vec.sensitivities(), loop.sensitivities()
        assert sv.keys() == sl.keys()
        for key in sv:
            assert sv[key].shape == sl[key].shape
            assert_close(sv[key], sl[key], f"{key} step {t}")
    assert not np.allclose(vec.w, w0)  # learning happened, so w was really compared


class DoubleCountingLoop(LoopModel):
    """The classic slip the spec rules out: i = n(j) summed twice in the output rule."""

    def step(self, x: list[float], d: list[float]) -> tuple[list[float], list[float]]:
        N, M, K, L, W = self.N, self.M, self.K, self.L, self.W
        z = list(x) + [1.0] + list(self.y)
        y_new = [self.f(sum(W[i][j] * z[j] for j in range(L))) for i in range(N)]
        fp = [self.fprime_from_y(v) for v in y_new]
        new_p = {}
        for i in range(N):
            for j in range(L):
                for kk in self.kept(i, j):
                    ls = [i, self.n_of(j)] if kk < K and self.n_of(j) is not None else None
                    terms = ls if ls is not None else list(self.T(kk, i, j))
                    acc = sum(W[kk][M + 1 + ell] * self.p[(ell, i, j)] for ell in terms)
                    new_p[(kk, i, j)] = fp[kk] * (acc + (z[j] if kk == i else 0.0))
        self.p = new_p
        e = [d[kk] - y_new[kk] for kk in range(K)]
        for i in range(N):
            for j in range(L):
                W[i][j] += self.lr * sum(e[kk] * self.p[(kk, i, j)] for kk in range(K))
        self.y = y_new
        return y_new, e


def test_loop_comparison_detects_double_counting() -> None:
    # The comparison above must be able to fail on the subtle set-semantics error.
    n, m, k = 3, 1, 2
    w0, x, d = random_case(11, n, m, k, steps=10)
    vec = make_model("trtrl", w0, m, k, lr=0.1)
    bad = DoubleCountingLoop("trtrl", w0, m, k, lr=0.1)
    for t in range(x.shape[0]):
        vec.step(x[t], d[t])
        bad.step(list(x[t]), list(d[t]))
    diff = np.max(np.abs(vec.sensitivities()["p_out"] - bad.sensitivities()["p_out"]))
    assert diff > 1e-6


@pytest.mark.parametrize("n,m,k,act", CONFIGS)
def test_trtrl_layout_coincidences(n: int, m: int, k: int, act: str) -> None:
    # FIXED_POINT.md: one quantity, same value in every place it belongs (bitwise).
    w0, x, d = random_case(n + m + k, n, m, k, steps=15)
    model = make_model("trtrl", w0, m, k, lr=0.1, activation=act)
    model.run(x, d)
    s = model.sensitivities()
    p_out, p_ing, p_egr = s["p_out"], s["p_ing"], s["p_egr"]
    assert p_out.shape == (k, n, m + 1 + n)
    assert p_ing.shape == p_egr.shape == (n, m + 1 + n)
    for i in range(k):
        np.testing.assert_array_equal(p_ing[i], p_out[i, i])
    for c in range(n):
        j = m + 1 + c
        if c < k:
            np.testing.assert_array_equal(p_egr[:, j], p_out[c, :, j])
        np.testing.assert_array_equal(p_egr[c, j], p_ing[c, j])
    np.testing.assert_array_equal(p_egr[:, : m + 1], 0.0)
    assert np.any(p_egr[:, m + 1 :] != 0.0)


# ---------------------------------------------------------------------------
# 4. run() and the --weights-every rule.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "every,expected",
    [
        (1, list(range(10))),
        (3, [2, 5, 8, 9]),
        (5, [4, 9]),  # final step already kept: listed once
        (10, [9]),
        (25, [9]),
        (0, [9]),
    ],
)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_run_weights_every(algorithm: str, every: int, expected: list[int]) -> None:
    n, m, k = 4, 1, 2
    w0, x, d = random_case(5, n, m, k, steps=10)
    trace = make_model(algorithm, w0, m, k, lr=0.2).run(x, d, weights_every=every)
    assert trace["w_step"].dtype == np.int64
    assert trace["w_step"].tolist() == expected
    assert trace["y"].shape == (10, n)
    assert trace["e"].shape == (10, k)
    assert trace["w"].shape == (len(expected), n, m + 1 + n)
    # the same as stepping by hand (same operations, so bitwise)
    ref = make_model(algorithm, w0, m, k, lr=0.2)
    ws = []
    for t in range(10):
        y, e = ref.step(x[t], d[t])
        np.testing.assert_array_equal(trace["y"][t], y)
        np.testing.assert_array_equal(trace["e"][t], e)
        ws.append(ref.w.copy())
    np.testing.assert_array_equal(trace["w"], np.array(ws)[expected])


def test_kept_steps_edge_cases() -> None:
    assert kept_steps(0, 1).tolist() == []
    assert kept_steps(0, 0).tolist() == []
    assert kept_steps(1, 3).tolist() == [0]
    with pytest.raises(ConfigError, match="weights_every"):
        kept_steps(5, -1)
    with pytest.raises(ConfigError, match="weights_every"):
        kept_steps(5, 1.5)  # type: ignore[arg-type]


def test_run_progress_bar_and_shape_errors() -> None:
    w0, x, d = random_case(1, 3, 2, 1, steps=5)
    model = make_model("trtrl", w0, 2, 1, lr=0.1)
    assert model.run(x, d, progress=True)["y"].shape == (5, 3)
    with pytest.raises(ConfigError, match="x"):
        model.run(x[:, :1], d)
    with pytest.raises(ConfigError, match="d"):
        model.run(x, d[:4])
    with pytest.raises(ConfigError, match="x"):
        model.step(x[0, :1], d[0])


# ---------------------------------------------------------------------------
# 5. SnAp-1 learns only the weights into output neurons.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_snap1_only_output_rows_change(act: str) -> None:
    n, m, k = 5, 2, 2
    w0, x, d = random_case(9, n, m, k, steps=40)
    model = make_model("snap1", w0, m, k, lr=0.3, activation=act)
    model.run(x, d)
    np.testing.assert_array_equal(model.w[k:], w0[k:])
    assert np.all(model.w[:k] != w0[:k])  # every weight into an output moved


# ---------------------------------------------------------------------------
# API details other parts rely on.
# ---------------------------------------------------------------------------


def test_shape() -> None:
    s = Shape(n=4, m=2, k=1).validate()
    assert s.L == 7 and s.col(0) == 3 and s.col(3) == 6
    for bad, name in [((0, 1, 1), "n"), ((3, -1, 1), "m"), ((3, 1, 0), "k"), ((3, 1, 4), "k")]:
        with pytest.raises(ConfigError, match=f"^{name}"):
            Shape(*bad).validate()


def test_activations() -> None:
    s = np.linspace(-3, 3, 13)
    y = activate("tanh", s)
    np.testing.assert_allclose(derivative_from_y("tanh", y), 1 / np.cosh(s) ** 2, rtol=1e-12)
    y = activate("sigmoid", s)
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-s)))
    np.testing.assert_allclose(derivative_from_y("sigmoid", y), np.exp(-s) / (1 + np.exp(-s)) ** 2)
    with np.errstate(all="raise"):
        assert activate("sigmoid", np.array([-1000.0]))[0] == 0.0
    with pytest.raises(ConfigError, match="activation"):
        activate("relu", s)
    with pytest.raises(ConfigError, match="activation"):
        derivative_from_y("relu", s)


def test_make_model_errors() -> None:
    w0 = np.zeros((3, 6))
    with pytest.raises(ConfigError, match="^w0"):
        make_model("trtrl", w0, m=1, k=1, lr=0.1)  # L should be 5
    with pytest.raises(ConfigError, match="^w0"):
        make_model("trtrl", np.zeros(6), m=2, k=1, lr=0.1)
    with pytest.raises(ConfigError, match="^algorithm"):
        make_model("bptt", w0, m=2, k=1, lr=0.1)
    with pytest.raises(ConfigError, match="^k"):
        make_model("rtrl", w0, m=2, k=4, lr=0.1)
    with pytest.raises(ConfigError, match="^activation"):
        make_model("rtrl", w0, m=2, k=1, lr=0.1, activation="relu")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_model_attributes_reset_and_counts(algorithm: str) -> None:
    n, m, k = 5, 2, 2
    L = m + 1 + n
    w0, x, d = random_case(2, n, m, k, steps=6)
    model = make_model(algorithm, w0, m, k, lr=0.1, activation="sigmoid")
    assert isinstance(model, OnlineModel) and model.algorithm == algorithm
    assert model.shape == Shape(n, m, k) and model.activation == "sigmoid"
    assert model.lr == 0.1 and model.w is not w0
    model.run(x, d)
    w_after = model.w.copy()
    s = model.sensitivities()
    for v in s.values():
        v[...] = 123.0  # copies: the model must not change
    assert all(np.all(v != 123.0) for v in model.sensitivities().values())
    model.reset_state()
    assert np.all(model.y == 0) and np.array_equal(model.w, w_after)
    assert all(np.all(v == 0) for v in model.sensitivities().values())
    # after a reset with the same weights, it runs as a fresh model would
    fresh = make_model(algorithm, w_after, m, k, lr=0.1, activation="sigmoid")
    np.testing.assert_array_equal(model.run(x, d)["y"], fresh.run(x, d)["y"])
    stored = {"rtrl": n * n * L, "trtrl": (k + 2) * n * L, "snap1": n * L}[algorithm]
    assert model.stored_sensitivities() == stored
    assert sum(v.size for v in model.sensitivities().values()) == stored
    mult = model.multiplies_per_step()
    assert isinstance(mult, int) and mult > 0


def test_multiply_counts_scale_as_claimed() -> None:
    def mults(alg: str, n: int, k: int) -> int:
        return make_model(alg, np.zeros((n, 2 + n)), 1, k, 0.1).multiplies_per_step()

    # RTRL O(N^4); TRTRL O(K N^2) (fixed K: ~N^2); SnAp-1 O(N^2)
    assert 15 < mults("rtrl", 200, 1) / mults("rtrl", 100, 1) < 17
    assert 3.5 < mults("trtrl", 200, 2) / mults("trtrl", 100, 2) < 4.5
    assert 3.5 < mults("snap1", 200, 2) / mults("snap1", 100, 2) < 4.5
    assert mults("trtrl", 100, 10) < mults("rtrl", 100, 10) / 50
