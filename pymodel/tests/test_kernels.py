"""The numba kernels equal the NumPy reference paths exactly (pymodel/jit.py).

Fixed point: every output, error, weight, sensitivity and the saturation count, after
every step, are the same integers; with an observer, so is the clamp census it is shown
(where each clamp's values lay against its bounds: what the scoreboards' coverage
records). Float TRTRL: the same float64 bits (compared as bytes, so -0.0 and 0.0 differ
and NaN payloads would count). Why exactness, not a tolerance, is the right bar for
floats: the kernel performs the NumPy path's IEEE operations on the same operands in the
same order (pymodel/models/trtrl_kernel.py lists them), each correctly rounded, and
numba compiles without fastmath, so no FMA contraction or reassociation can change a
bit. Any difference is a bug.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.fixed import FixedConfig, FixedFormat, FixedTRTRL
from trtrl.pymodel.fixed.arith import SIDES
from trtrl.pymodel.fixed.model import CLAMPS, LR_SHIFT_MAX
from trtrl.pymodel.jit import KERNELS, jit
from trtrl.pymodel.models import TRTRLModel, make_model
from trtrl.pymodel.tests.test_fixed_model import CASES, _random_setup, _setup

# ---------------------------------------------------------------- fixed point


class _Census:
    """An observer that keeps the census of every step, and checks that its past-bound
    columns add up to the step's saturation events."""

    def __init__(self, model: FixedTRTRL) -> None:
        self.model = model
        self.steps: list[np.ndarray] = []
        self.sat = 0
        model.observer = self

    def __call__(self, census: np.ndarray) -> None:
        assert census.dtype == np.int64 and census.shape == (len(CLAMPS), len(SIDES))
        assert not any(census is kept for kept in self.steps[-1:])  # a new array each step
        before = self.sat if self.model.steps > 1 else 0  # the first step since a reset
        self.sat = self.model.sat_count
        assert int(census[:, :2].sum()) == self.sat - before
        self.steps.append(census)

    def total(self) -> np.ndarray:
        return np.sum(self.steps, axis=0, dtype=np.int64)


def _fixed_pair(w0: np.ndarray, m: int, k: int, cfg: FixedConfig, lr_shift: int,
                learn: bool, observed: bool = False) -> tuple[FixedTRTRL, FixedTRTRL]:
    """The NumPy reference and the kernel, each with a :class:`_Census` if ``observed``."""
    pair = (FixedTRTRL(w0, m, k, cfg, lr_shift, learn=learn, kernel="numpy"),
            FixedTRTRL(w0, m, k, cfg, lr_shift, learn=learn, kernel="numba"))
    if observed:
        for model in pair:
            _Census(model)
    return pair


def _assert_fixed_equal(ref: FixedTRTRL, fast: FixedTRTRL, got: tuple, want: tuple,
                        where: str) -> None:
    """The same outputs, state bytes and saturation count; with observers, the same census
    of every step so far (and each census's events are the step's saturation count)."""
    assert np.array_equal(got[0], want[0]), f"y {where}"
    assert np.array_equal(got[1], want[1]), f"e {where}"
    for name in ("w", "y", "p_out", "p_ing", "p_egr"):
        a, b = getattr(ref, name), getattr(fast, name)
        assert a.dtype == b.dtype == np.int64 and a.tobytes() == b.tobytes(), f"{name} {where}"
    assert ref.sat_count == fast.sat_count, f"saturation count {where}"
    assert ref.steps == fast.steps
    if isinstance(ref.observer, _Census) or isinstance(fast.observer, _Census):
        want_c, got_c = ref.observer.steps, fast.observer.steps
        assert len(want_c) == len(got_c), f"observed steps {where}"
        a, b = want_c[-1], got_c[-1]
        diff = {f"{CLAMPS[c]} {SIDES[s]}": (int(a[c, s]), int(b[c, s]))
                for c, s in zip(*np.nonzero(a != b), strict=True)}
        assert not diff, f"census (numpy, numba) {where}: {diff}"
        # what a coverage observer has summed so far (earlier censuses left as they were)
        assert np.array_equal(ref.observer.total(), fast.observer.total()), f"totals {where}"


@pytest.mark.parametrize("observed", [False, True], ids=["plain", "observed"])
@pytest.mark.parametrize("case", CASES, ids=[f"c{i}" for i in range(len(CASES))])
def test_fixed_kernel_equals_numpy(case: tuple, observed: bool) -> None:
    """test_fixed_model's configurations (K > 1, K = N, N = 1, M = 0, sigmoid, narrow
    saturating formats, learning off), 25 steps, then 25 more with every lr shift; with
    an observer on each model, also the same clamp census after every step."""
    cfg, x, d, w0, (n, m, k, lr_shift, learn) = _setup(case)
    ref, fast = _fixed_pair(w0, m, k, cfg, lr_shift, learn, observed)
    for t in range(len(x)):
        want, got = ref.step(x[t], d[t]), fast.step(x[t], d[t])
        _assert_fixed_equal(ref, fast, got, want, f"at step {t}")
    for t in range(len(x)):  # the lr-shift sweep of the core's testbench
        shift = (7 * t) % (LR_SHIFT_MAX + 1)
        ref.set_lr_shift(shift)
        fast.set_lr_shift(shift)
        want, got = ref.step(x[t], d[t]), fast.step(x[t], d[t])
        _assert_fixed_equal(ref, fast, got, want, f"at step {len(x) + t} (lr_shift {shift})")


@pytest.mark.parametrize("observed", [False, True], ids=["plain", "observed"])
def test_fixed_kernel_equals_numpy_long_runs(observed: bool) -> None:
    """Longer runs: default formats at N = 12, K = 3 and a narrow one that saturates every
    kind of clamp it can (inner, e, W); learning switched off and on, every lr shift
    0..31 (both stepped and the largest, where the update rounds to 0), reset in between;
    with observers, the same census after every step."""
    configs = [
        (12, 2, 3, FixedConfig(), 0.6, False),
        (9, 1, 2, FixedConfig(act=FixedFormat(8, 5), weight=FixedFormat(8, 5),
                              sens=FixedFormat(6, 4), acc_bits=48, lut_bits=6, lut_range=2),
         1.0, True),
        (7, 0, 3, FixedConfig(act=FixedFormat(10, 7), weight=FixedFormat(9, 4),
                              sens=FixedFormat(8, 5), acc_bits=48, lut_bits=7, lut_range=2,
                              activation="sigmoid"), 3.0, True),
    ]
    rng = np.random.default_rng(77)
    total_sat = 0
    for n, m, k, cfg, w_scale, full in configs:
        x, d, w0 = _random_setup(rng, n, m, k, cfg, 200, w_scale, full=full)
        ref, fast = _fixed_pair(w0, m, k, cfg, 0, True, observed)
        for t in range(len(x)):
            if t == 120:
                ref.reset_state()
                fast.reset_state()
            learn = t % 50 < 35
            ref.learn = fast.learn = learn
            shift = t % (LR_SHIFT_MAX + 1) if t < 150 else LR_SHIFT_MAX
            ref.set_lr_shift(shift)
            fast.set_lr_shift(shift)
            want, got = ref.step(x[t], d[t]), fast.step(x[t], d[t])
            _assert_fixed_equal(ref, fast, got, want, f"at step {t} (N={n})")
        total_sat += fast.sat_count
    assert total_sat > 0  # the narrow formats did saturate


def _on_the_bounds(cfg: FixedConfig, n: int, m: int, k: int,
                   steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stimulus whose first steps put each clamp's values exactly on its bounds (where a
    clamp changes nothing, and a comparison written one off would count), then saturates.

    Needs tanh, M >= 2 and P = A (so an input is a sensitivity's inner sum bit for bit).
    Step 0, from the cleared state: input and bias weights 0, so every s = 0 and
    f'(y) = 1; the inputs A.max and A.min are then the inner sums of their columns and the
    sensitivities, on P's bounds; each target is its output (e = 0, so no update) and the
    recurrent weights on W's bounds stay there. Steps 1-4: each target is y + A.min
    (y >= 0) or y + A.max (y < 0), so e lands on A's bounds. Random full-range stimulus
    on large weights follows (past every bound but the sensitivity's).
    """
    a, w = cfg.act, cfg.weight
    assert cfg.activation == "tanh" and m >= 2 and cfg.sens == a
    x, d, w0 = _random_setup(np.random.default_rng(5), n, m, k, cfg, steps, 4.0, full=True)
    w0[:, : m + 1] = 0
    w0[:, m + 1 :: 2], w0[:, m + 2 :: 2] = w.max, w.min
    x[0, :2] = a.max, a.min
    peek = FixedTRTRL(w0, m, k, cfg, 0, kernel="numpy")
    for t in range(5):
        y = copy.deepcopy(peek).step(x[t], d[t])[0][:k]  # y(t+1) does not depend on d(t)
        d[t] = y if t == 0 else np.where(y >= 0, a.min + y, a.max + y)
        peek.step(x[t], d[t])
    return x, d, w0


BOUNDS_CFG = FixedConfig(act=FixedFormat(8, 5), weight=FixedFormat(8, 5),
                         sens=FixedFormat(8, 5), acc_bits=48, lut_bits=6, lut_range=2)


def test_fixed_kernel_equals_numpy_on_the_bounds() -> None:
    """Every clamp on both of its bounds and past them (the directed start of
    :func:`_on_the_bounds`): the same census after every step, with and without learning,
    across a reset; and the census reaches every side a clamp can reach."""
    n, m, k = 5, 2, 2
    x, d, w0 = _on_the_bounds(BOUNDS_CFG, n, m, k, 60)
    ref, fast = _fixed_pair(w0, m, k, BOUNDS_CFG, 0, True, observed=True)
    for t in range(len(x)):
        if t == 40:
            ref.reset_state()
            fast.reset_state()
        ref.learn = fast.learn = t % 10 != 7
        want, got = ref.step(x[t], d[t]), fast.step(x[t], d[t])
        _assert_fixed_equal(ref, fast, got, want, f"at step {t}")
    total = dict(zip((f"{c} {s}" for c in CLAMPS for s in SIDES),
                     fast.observer.total().ravel().tolist(), strict=True))
    # f'(y) is in [0, 1], strictly inside A; f'(y) times an inner sum in P stays in P
    unreachable = {*(f"fp {s}" for s in SIDES), "p above max", "p below min"}
    assert [name for name, count in total.items() if (count > 0) == (name in unreachable)] \
        == [], total


def test_fixed_run_with_and_without_an_observer_uses_the_same_bits() -> None:
    """``run`` goes through the kernel, with an observer too, and gives the NumPy trace
    and census."""
    cfg, x, d, w0, (n, m, k, lr_shift, learn) = _setup(CASES[6])
    ref_model = FixedTRTRL(w0, m, k, cfg, lr_shift, learn=learn, kernel="numpy")
    ref_seen = _Census(ref_model)
    ref = ref_model.run(x, d)
    fast = FixedTRTRL(w0, m, k, cfg, lr_shift, learn=learn).run(x, d)
    watched = FixedTRTRL(w0, m, k, cfg, lr_shift, learn=learn)
    seen = _Census(watched)
    obs = watched.run(x, d)
    assert len(seen.steps) == len(x) and np.array_equal(seen.steps, ref_seen.steps)
    assert seen.total()[CLAMPS.index("p_inner")].sum() > 0
    for key in ref:
        assert np.array_equal(ref[key], fast[key]) and np.array_equal(ref[key], obs[key]), key


def test_fixed_kernel_keeps_old_state_arrays() -> None:
    """As on the NumPy path, a step makes new state arrays: a reference taken before a
    step still holds the state of that time (the scoreboard keeps such references)."""
    cfg, x, d, w0, (n, m, k, lr_shift, learn) = _setup(CASES[1])
    model = FixedTRTRL(w0, m, k, cfg, lr_shift)
    model.step(x[0], d[0])
    before = {name: getattr(model, name) for name in ("w", "y", "p_out", "p_ing", "p_egr")}
    copies = {name: a.copy() for name, a in before.items()}
    model.step(x[1], d[1])
    for name, a in before.items():
        assert a is not getattr(model, name) and np.array_equal(a, copies[name]), name


# ---------------------------------------------------------------- float TRTRL

# (N, M, K, activation, lr, weight scale): K = 1, K > 1, K = N, N = 1, M = 0, both
# activations, lr = 0 (no update), and a large scale and lr that drive tanh to +-1
# (f' = 0: zero products of either sign, the case where -0.0 would show), and N = 100.
FLOAT_CONFIGS = [
    (5, 2, 1, "tanh", 0.1, 0.7),
    (6, 1, 3, "sigmoid", 0.2, 0.7),
    (4, 0, 2, "tanh", 0.3, 0.7),
    (1, 1, 1, "tanh", 0.5, 0.7),
    (3, 2, 3, "tanh", 0.1, 0.7),
    (7, 1, 1, "tanh", 0.0, 0.7),
    (30, 2, 4, "tanh", 0.05, 0.4),
    (12, 1, 1, "sigmoid", 1.0, 0.7),
    (8, 1, 2, "tanh", 3.0, 40.0),
    (100, 1, 1, "tanh", 0.05, 0.4),  # the benchmark's size: the vector loops' full width
]


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=np.float64).tobytes()


@pytest.mark.parametrize("cfg", FLOAT_CONFIGS, ids=[f"f{i}" for i in range(len(FLOAT_CONFIGS))])
def test_float_trtrl_kernel_equals_numpy_bit_for_bit(cfg: tuple) -> None:
    n, m, k, act, lr, scale = cfg
    rng = np.random.default_rng(n * 31 + k)
    L = m + 1 + n
    w0 = rng.normal(0.0, scale / np.sqrt(L), (n, L))
    x = rng.uniform(-1.0, 1.0, (150, m))
    d = rng.uniform(-0.9, 0.9, (150, k))
    ref = make_model("trtrl", w0, m, k, lr, act, kernel="numpy")
    fast = make_model("trtrl", w0, m, k, lr, act)
    assert fast.kernel == "numba"
    for t in range(len(x)):
        if t == 100:
            ref.reset_state()
            fast.reset_state()
        y_ref, e_ref = ref.step(x[t], d[t])
        y, e = fast.step(x[t], d[t])
        assert _bits(y) == _bits(y_ref) and _bits(e) == _bits(e_ref), f"y/e at step {t}"
        assert _bits(fast.w) == _bits(ref.w), f"w at step {t}"
        s_ref, s = ref.sensitivities(), fast.sensitivities()
        for name in s_ref:
            assert _bits(s[name]) == _bits(s_ref[name]), f"{name} at step {t}"
        # the raw egress buffer too: its input and bias columns may hold -0.0
        assert _bits(fast._egr[fast._cur]) == _bits(ref._egr[ref._cur]), f"p_egr at {t}"


def test_float_trtrl_run_traces_are_equal() -> None:
    w0 = np.random.default_rng(3).normal(0.0, 0.5, (6, 8))
    x = np.random.default_rng(4).normal(size=(40, 1))
    d = np.random.default_rng(5).uniform(-0.5, 0.5, (40, 2))
    ref = make_model("trtrl", w0, 1, 2, 0.2, kernel="numpy").run(x, d)
    fast = make_model("trtrl", w0, 1, 2, 0.2, kernel="numba").run(x, d)
    for key in ref:
        assert ref[key].tobytes() == fast[key].tobytes(), key


def test_einsum_sums_in_order_from_plus_zero() -> None:
    """The float kernel's K > 1 gradient copies np.einsum("k,kn->n"): a sum from +0.0 in
    order of k, each product rounded (no FMA). Should a NumPy release change that, this
    test names the cause of a kernel mismatch."""
    rng = np.random.default_rng(8)
    for k in (2, 3, 7, 10):
        a = rng.normal(size=k)
        b = rng.normal(size=(k, 257))
        b[:, :3] = -0.0
        want = np.zeros(257)
        for kk in range(k):
            want = want + a[kk] * b[kk]
        got = np.empty(257)
        np.einsum("k,kn->n", a, b, out=got)
        assert got.tobytes() == want.tobytes()


# ---------------------------------------------------------------- the switch


def test_kernel_choice() -> None:
    w0 = np.zeros((3, 5))
    assert TRTRLModel.kernels == KERNELS and KERNELS[0] == "numba"
    assert make_model("trtrl", w0, 1, 1, 0.1).kernel == "numba"
    assert make_model("trtrl", w0, 1, 1, 0.1, kernel="numpy").kernel == "numpy"
    assert make_model("rtrl", w0, 1, 1, 0.1).kernel == "numpy"
    assert make_model("snap1", w0, 1, 1, 0.1).kernel == "numpy"
    with pytest.raises(ConfigError, match="kernel: rtrl has no 'numba'"):
        make_model("rtrl", w0, 1, 1, 0.1, kernel="numba")
    with pytest.raises(ConfigError, match="kernel: unknown 'cuda'"):
        make_model("trtrl", w0, 1, 1, 0.1, kernel="cuda")
    with pytest.raises(AttributeError):  # chosen when the model is made
        make_model("trtrl", w0, 1, 1, 0.1).kernel = "numpy"
    w0q = np.zeros((3, 5), dtype=np.int64)
    assert FixedTRTRL(w0q, 1, 1, FixedConfig(), 3).kernel == "numba"
    assert FixedTRTRL(w0q, 1, 1, FixedConfig(), 3, kernel="numpy").kernel == "numpy"
    with pytest.raises(ConfigError, match="kernel: unknown 'fast'"):
        FixedTRTRL(w0q, 1, 1, FixedConfig(), 3, kernel="fast")


def test_numba_is_imported_only_for_a_numba_model() -> None:
    """Importing the models costs no numba import (~0.2 s, paid by every `trtrl` command);
    making a model with the numba kernel does it."""
    code = (
        "import sys, numpy as np\n"
        "import trtrl.pymodel.fixed as F, trtrl.pymodel.models as M\n"
        "assert 'numba' not in sys.modules\n"
        "M.make_model('trtrl', np.zeros((2, 4)), 1, 1, 0.1, kernel='numpy')\n"
        "F.FixedTRTRL(np.zeros((2, 4), dtype=np.int64), 1, 1, F.FixedConfig(), 3,"
        " kernel='numpy')\n"
        "assert 'numba' not in sys.modules\n"
        "M.make_model('trtrl', np.zeros((2, 4)), 1, 1, 0.1)\n"
        "assert 'numba' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_jit_without_a_cache_location_compiles_uncached() -> None:
    """numba caches beside the module or per user; where it finds no place at all (here:
    a function with no source file), ``jit`` compiles without a cache instead of failing."""
    namespace: dict = {}
    exec("def twice(a):\n    return 2 * a\n", namespace)
    fn = jit(namespace["twice"])
    assert fn(21) == 42
    assert fn._cache.__class__.__name__ == "NullCache"
