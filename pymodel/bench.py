"""Per-step time of the learning models, and the project's speed targets.

Timing is best-of-R: after warm-up steps (which also load or compile a numba kernel),
each of R repeats times a run of consecutive ``model.step`` calls (enough of them to
last a few tens of milliseconds) and the fastest repeat, divided by its step count, is
the step time. Best-of filters out interference from other processes; it is the usual
figure for a CPU-bound kernel.

RTRL's step grows as N^4 (at N = 400 one step moves ~0.5 GB of sensitivities), so
above ``rtrl_full_max`` it is timed on a single step after two warm-up steps, and
above ``rtrl_max`` it is skipped with an N^4 estimate from the largest size timed.

The targets (:func:`check_targets`), each measured at its own size whatever sizes the
table has (``n_ref`` = 100, ``n_small`` = 15, ``k_many`` = 10 unless changed):

1. the float RTRL step at N = 100, K = 1 costs at most 1.5x one ``(N x N) @ (N x N*L)``
   float64 matmul timed the same way (RTRL is one such product plus cheap element-wise
   work; the product is the part it cannot avoid);
2. the float TRTRL step at N = 100, K = 1 is at least 200x faster than RTRL's (the
   work ratio is ~1,400x);
3. the float TRTRL step at N = 100, K = 10 is at least 50x faster than RTRL's at the
   same N and K;
4. the bit-accurate fixed-point model runs at least 30,000 steps/s at N = 15, K = 1
   (the size of the generated array's regressions);
5. and at least 5,000 steps/s at N = 100, K = 10;
6. the float TRTRL step time grows no faster than N^2.2 from N = 100 to N = 400
   (least-squares slope of log time against log N over the table's sizes in that range).

With the targets comes a figure with no goal: the fixed-point model at ``n_small``,
K = 1, with an observer (as the cocotb scoreboards run it, counting each step's clamp
census), on each kernel side by side.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from trtrl.pymodel.errors import ConfigError

DEFAULT_SIZES: tuple[int, ...] = (10, 25, 50, 100, 200, 400)
DEFAULT_ALGORITHMS: tuple[str, ...] = ("rtrl", "trtrl", "snap1", "fixed")
N_REF, N_SMALL, K_MANY = 100, 15, 10  # where the targets are measured
TARGET_MATMUL_RATIO = 1.5
TARGET_SPEEDUP = 200.0
TARGET_SPEEDUP_MANY = 50.0
TARGET_FIXED_SMALL = 30_000.0  # steps/s
TARGET_FIXED_LARGE = 5_000.0  # steps/s
TARGET_EXPONENT = 2.2


@dataclass
class Timing:
    """Time per learning step of one algorithm (``"fixed"``: the fixed-point model) at one
    size."""

    algorithm: str
    n: int
    seconds: float | None  # best per-step time; None if skipped
    steps: int = 0  # steps per repeat
    repeats: int = 0
    note: str = ""  # e.g. "1 step" or "skipped (est. 12 s)"
    estimate: float | None = None  # N^4 extrapolation when skipped
    k: int = 1  # outputs
    kernel: str = ""  # the step's kernel, where recorded (the fixed-point model)

    @property
    def measured(self) -> bool:
        """Whether the step was actually timed."""
        return self.seconds is not None


@dataclass
class Target:
    """One pass/fail speed target with the figure measured."""

    name: str
    passed: bool | None  # None: could not be evaluated (size not timed)
    measured: str  # the figure, e.g. "1.05x" or "12,300 steps/s" ("-" if not measured)
    goal: str  # e.g. "<= 1.5x"
    figure: str = ""  # what is measured, e.g. "float TRTRL speed-up over RTRL, N=100 K=1"
    detail: str = ""  # the times behind the figure
    value: float | None = None  # the figure as a number (ratio, steps/s or exponent)

    @property
    def verdict(self) -> str:
        """``PASS``, ``FAIL`` or ``N/A``."""
        return {True: "PASS", False: "FAIL", None: "N/A"}[self.passed]


@dataclass
class BenchResult:
    """Everything a bench run measured."""

    sizes: list[int]
    m: int
    k: int
    repeats: int
    timings: list[Timing] = field(default_factory=list)  # the table (K = k)
    matmul: dict[int, float] = field(default_factory=dict)  # N -> seconds
    targets: list[Target] = field(default_factory=list)
    exponents: dict[str, float] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)  # 1-min load average, start and end
    cpus: int = 0
    blas_threads: int | None = None  # OpenBLAS threads during the run (None: unknown)
    kernel: str = "numba"  # of the models that have one (float TRTRL, fixed point)
    target_timings: list[Timing] = field(default_factory=list)  # measured for the targets
    observed: list[Timing] = field(default_factory=list)  # fixed point with an observer
    n_ref: int = N_REF
    n_small: int = N_SMALL
    k_many: int = K_MANY

    def time_of(self, algorithm: str, n: int, k: int | None = None) -> float | None:
        """The measured step time of ``algorithm`` at ``n`` and ``k`` outputs (default: the
        table's K), from the table or the targets' timings (None if not timed)."""
        k = self.k if k is None else k
        for t in (*self.timings, *self.target_timings):
            if t.algorithm == algorithm and t.n == n and t.k == min(k, n):
                return t.seconds
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON."""
        out = asdict(self)
        out["targets"] = [dict(asdict(t), verdict=t.verdict) for t in self.targets]
        return out


def _openblas() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """(get, set) of the OpenBLAS thread count numpy is linked with, or None if unknown.

    Found the way threadpoolctl does it: the OpenBLAS library mapped into this process
    and its ``*_get/set_num_threads`` entry points (plain and scipy-openblas names).
    """
    import ctypes
    import re

    try:
        with open("/proc/self/maps") as fh:
            maps = fh.read()
    except OSError:
        return None
    for path in sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"),
                               ("scipy_openblas", ""), ("openblas", "")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype = ctypes.c_int
                set_.argtypes = [ctypes.c_int]
                return (lambda g=get: int(g())), (lambda n, s=set_: s(int(n)))
    return None


def blas_thread_count() -> int | None:
    """Threads numpy's OpenBLAS uses now (None if it cannot be found)."""
    api = _openblas()
    return api[0]() if api else None


@contextmanager
def blas_threads(n: int | None) -> Iterator[int | None]:
    """Run the block with OpenBLAS limited to ``n`` threads (None or 0: unchanged).

    Yields the thread count in effect (None if OpenBLAS could not be found). On a
    machine busier than its cores, a BLAS call that fans out to threads waits for
    a scheduler slice (~10 ms), which swamps a sub-millisecond TRTRL step; one
    thread gives per-core timings that survive other load.
    """
    api = _openblas()
    if api is None or not n:
        yield api[0]() if api else None
        return
    get, set_ = api
    old = get()
    set_(n)
    try:
        yield get()
    finally:
        set_(old)


def parse_sizes(text: str, what: str = "sizes") -> list[int]:
    """Parse ``"10,25,50"`` into sorted unique integers >= 1; ConfigError naming ``what``."""
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError as exc:
        raise ConfigError(f"{what}: expected comma-separated integers, got {text!r}") from exc
    if not sizes or sizes[0] < 1:
        raise ConfigError(f"{what}: need integers >= 1, got {text!r}")
    return sizes


def random_problem(n: int, m: int = 1, k: int = 1, steps: int = 64,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random ``w0`` (N, M+1+N), inputs ``x`` (steps, M) and targets ``d`` (steps, K).

    Weights are N(0, 1/L) so that the pre-activations stay O(1) (no saturation and no
    denormals that would distort timings).
    """
    rng = np.random.default_rng(seed)
    L = m + 1 + n  # the spec's name
    w0 = rng.normal(0.0, 1.0 / math.sqrt(L), size=(n, L))
    x = rng.uniform(-1.0, 1.0, size=(steps, m))
    d = rng.uniform(-0.5, 0.5, size=(steps, k))
    return w0, x, d


def best_of(fn: Callable[[], Any], repeats: int, inner: int = 1, warmup: int = 1) -> float:
    """Best (smallest) time of ``inner`` calls of ``fn`` over ``repeats``, per call."""
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def time_model_step(algorithm: str, n: int, m: int = 1, k: int = 1, repeats: int = 5,
                    min_repeat_seconds: float = 0.03, max_seconds: float = 10.0,
                    single_step: bool = False, seed: int = 0,
                    activation: str = "tanh", kernel: str | None = None) -> Timing:
    """Best-of-``repeats`` time of one ``model.step`` of ``algorithm`` with ``n`` neurons.

    Each repeat runs enough consecutive steps to last ``min_repeat_seconds``; the
    repeats are cut so the whole measurement stays near ``max_seconds``.
    ``single_step`` times exactly one step after two warm-up steps (for huge RTRL nets).
    ``algorithm = "fixed"`` times :func:`time_fixed_step`; ``kernel`` as in
    :func:`pymodel.models.make_model` (None: the model's default; a model with the numpy
    kernel only ignores it).
    """
    from trtrl.pymodel.models import kernels_of, make_model

    if algorithm == "fixed":
        return time_fixed_step(n, m, k, repeats=repeats, min_repeat_seconds=min_repeat_seconds,
                               max_seconds=max_seconds, seed=seed, kernel=kernel)
    k = min(k, n)
    w0, x, d = random_problem(n, m, k, steps=64, seed=seed)
    use = kernel if kernel in kernels_of(algorithm) else None
    model = make_model(algorithm, w0, m, k, 1e-4, activation=activation, kernel=use)
    timing = time_steps(algorithm, n, model.step, x, d, repeats, min_repeat_seconds,
                        max_seconds, single_step)
    timing.k = k
    return timing


def time_fixed_step(n: int, m: int = 1, k: int = 1, cfg: Any = None, repeats: int = 5,
                    min_repeat_seconds: float = 0.03, max_seconds: float = 10.0,
                    seed: int = 0, kernel: str | None = None,
                    observed: bool = False) -> Timing:
    """:func:`time_model_step` for the bit-accurate fixed-point TRTRL
    (:class:`pymodel.fixed.model.FixedTRTRL`, the RTL's reference), on the same random
    problem quantised to ``cfg`` (default formats if None); algorithm ``"fixed"``.
    ``kernel`` None: the model's default (numba). ``observed``: with an observer that
    sums the clamp census (the model's part of what a coverage observer costs)."""
    from trtrl.pymodel.fixed.arith import SIDES, quantize
    from trtrl.pymodel.fixed.formats import FixedConfig
    from trtrl.pymodel.fixed.model import CLAMPS, FixedTRTRL, lr_shift_from_lr

    k = min(k, n)
    fixed = (cfg or FixedConfig()).sized_for(m + 1 + n, k)
    w0, x, d = random_problem(n, m, k, steps=64, seed=seed)
    extra = {} if kernel is None else {"kernel": kernel}
    model = FixedTRTRL(quantize(w0, fixed.weight), m, k, fixed, lr_shift_from_lr(1e-4), **extra)
    if observed:
        total = np.zeros((len(CLAMPS), len(SIDES)), dtype=np.int64)
        model.observer = lambda census: np.add(total, census, out=total)
    timing = time_steps("fixed", n, model.step, quantize(x, fixed.act), quantize(d, fixed.act),
                        repeats, min_repeat_seconds, max_seconds)
    timing.k, timing.kernel = k, model.kernel
    if observed:
        timing.note = "; ".join(filter(None, (f"with an observer, kernel {model.kernel}",
                                              timing.note)))
    return timing


def time_steps(algorithm: str, n: int, step_fn: Callable[[Any, Any], Any], x: np.ndarray,
               d: np.ndarray, repeats: int = 5, min_repeat_seconds: float = 0.03,
               max_seconds: float = 10.0, single_step: bool = False) -> Timing:
    """Best-of-``repeats`` time of ``step_fn(x[t], d[t])`` over consecutive samples (the
    timing of :func:`time_model_step`, for any model's step)."""
    t_idx = [0]

    def step() -> None:
        i = t_idx[0] % len(x)
        t_idx[0] += 1
        step_fn(x[i], d[i])

    # Warm-up: two steps, so both buffers of a double-buffered model have been written
    # (np.zeros memory is only mapped on first write: page faults, not arithmetic), and
    # the BLAS threads are started. Then a first estimate of the step time.
    step()
    step()
    first = math.inf
    for _ in range(1 if single_step else 3):
        t0 = time.perf_counter()
        step()
        first = min(first, time.perf_counter() - t0)
    if single_step:
        return Timing(algorithm, n, first, steps=1, repeats=1, note="1 step")
    inner = max(1, min(1000, math.ceil(min_repeat_seconds / max(first, 1e-7))))
    budget_repeats = max(1, int(max_seconds / max(first * inner, 1e-9)))
    reps = max(1, min(repeats, budget_repeats))
    seconds = best_of(step, reps, inner=inner, warmup=0)
    note = "" if reps == repeats else f"{reps} repeats (time budget)"
    return Timing(algorithm, n, seconds, steps=inner, repeats=reps, note=note)


def time_matmul(n: int, m: int = 1, repeats: int = 5, seed: int = 0) -> float:
    """Best-of-``repeats`` time of one float64 ``(N x N) @ (N x N*L)`` product.

    This is the core of an RTRL step (recurrent weights times every neuron's
    sensitivity matrix), timed like :func:`time_model_step` (warm-up, best-of).
    """
    rng = np.random.default_rng(seed)
    L = m + 1 + n
    a = rng.normal(size=(n, n))
    b = rng.normal(size=(n, n * L))
    first_t0 = time.perf_counter()
    _ = a @ b
    first = time.perf_counter() - first_t0
    inner = max(1, min(1000, math.ceil(0.03 / max(first, 1e-7))))
    return best_of(lambda: a @ b, repeats, inner=inner, warmup=1)


def fit_exponent(ns: Sequence[float], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(seconds) against log(n): the growth exponent."""
    if len(ns) < 2:
        raise ValueError("need at least two sizes to fit an exponent")
    slope, _ = np.polyfit(np.log(np.asarray(ns, float)), np.log(np.asarray(seconds, float)), 1)
    return float(slope)


def run_bench(sizes: Sequence[int] = DEFAULT_SIZES, repeats: int = 5, m: int = 1, k: int = 1,
              algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
              rtrl_full_max: int = 100, rtrl_max: int = 200, max_seconds: float = 10.0,
              matmul_sizes: Sequence[int] | None = None,
              on_timing: Callable[[Timing], None] | None = None,
              threads: int | None = None, kernel: str = "numba", targets: bool = True,
              n_ref: int = N_REF, n_small: int = N_SMALL, k_many: int = K_MANY) -> BenchResult:
    """Time every algorithm at every size (RTRL within its limits), then what the targets
    need that the table lacks (at ``n_ref``, ``n_small`` and ``k_many``; skipped with
    ``targets=False``), and check the targets.

    ``on_timing`` is called after each measurement (progress output); ``threads``
    limits OpenBLAS for the whole run (None: as configured), see :func:`blas_threads`;
    ``kernel`` is the kernel of the models that have a choice (pymodel/jit.py).
    """
    from trtrl.pymodel.jit import check_kernel

    check_kernel(kernel)
    if repeats < 1:
        raise ConfigError(f"repeats: need at least 1, got {repeats}")
    for name, value in (("n_ref", n_ref), ("n_small", n_small), ("k_many", k_many)):
        if value < 1:
            raise ConfigError(f"{name}: need at least 1, got {value}")
    with blas_threads(threads) as used:
        result = BenchResult(sizes=sorted(set(int(s) for s in sizes)), m=m, k=k,
                             repeats=repeats, cpus=os.cpu_count() or 0, kernel=kernel,
                             n_ref=n_ref, n_small=n_small, k_many=k_many)
        _run_bench(result, algorithms, rtrl_full_max, rtrl_max, max_seconds, matmul_sizes,
                   on_timing, targets)
    result.blas_threads = used
    return result


def target_points(result: BenchResult) -> list[tuple[str, int, int]]:
    """``(algorithm, N, K)`` of every step time the targets read."""
    n_ref, k_many = result.n_ref, result.k_many
    return [("rtrl", n_ref, 1), ("trtrl", n_ref, 1), ("rtrl", n_ref, k_many),
            ("trtrl", n_ref, k_many), ("fixed", result.n_small, 1), ("fixed", n_ref, k_many)]


def _run_bench(result: BenchResult, algorithms: Sequence[str], rtrl_full_max: int,
               rtrl_max: int, max_seconds: float, matmul_sizes: Sequence[int] | None,
               on_timing: Callable[[Timing], None] | None, targets: bool) -> None:
    """The body of :func:`run_bench` (BLAS threads already set): fills ``result``."""
    m, k, repeats = result.m, result.k, result.repeats
    result.load.append(_load())

    def timed(alg: str, n: int, kk: int, single: bool = False) -> Timing:
        timing = time_model_step(alg, n, m, kk, repeats=repeats, single_step=single,
                                 max_seconds=max_seconds, kernel=result.kernel)
        if on_timing is not None:
            on_timing(timing)
        return timing

    for alg in algorithms:
        last: Timing | None = None
        for n in result.sizes:
            if alg == "rtrl" and n > rtrl_max:
                est = None
                if last is not None and last.seconds is not None:
                    est = last.seconds * (n / last.n) ** 4
                note = "skipped" + (f" (N^4 estimate {est:.3g} s)" if est else "")
                timing = Timing(alg, n, None, note=note, estimate=est, k=min(k, n))
                if on_timing is not None:
                    on_timing(timing)
            else:
                timing = last = timed(alg, n, k, single=alg == "rtrl" and n > rtrl_full_max)
            result.timings.append(timing)
    if targets:
        for alg, n, kk in target_points(result):
            have = [t for t in (*result.timings, *result.target_timings)
                    if (t.algorithm, t.n, t.k) == (alg, n, min(kk, n)) and t.measured
                    and t.note != "1 step"]
            if not have:
                result.target_timings.append(timed(alg, n, kk))
        if "fixed" in algorithms:
            from trtrl.pymodel.jit import KERNELS

            for kernel in KERNELS:
                timing = time_fixed_step(result.n_small, m, 1, repeats=repeats,
                                         max_seconds=max_seconds, kernel=kernel, observed=True)
                if on_timing is not None:
                    on_timing(timing)
                result.observed.append(timing)
    if matmul_sizes is None:
        matmul_sizes = sorted({s for s in result.sizes if s == N_REF}
                              | ({result.n_ref} if targets else set()))
    for n in matmul_sizes:
        result.matmul[n] = time_matmul(n, m, repeats)
    result.load.append(_load())
    result.targets = check_targets(result) if targets else []


def _load() -> float:
    """The 1-minute load average (0.0 where the OS does not report one)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def _ratio_target(name: str, figure: str, slow: float | None, fast: float | None,
                  goal: float, speedup: bool, labels: tuple[str, str]) -> Target:
    """A ``slow / fast`` ratio against ``goal``: at least ``goal`` if ``speedup``, else at
    most (``labels`` name the two times in the detail)."""
    goal_text = f"{'>=' if speedup else '<='} {goal:g}x"
    if slow is None or fast is None:
        return Target(name, None, "-", goal_text, figure, "not timed")
    ratio = slow / fast
    passed = ratio >= goal if speedup else ratio <= goal
    shown = f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.2f}x"
    detail = f"{labels[0]} {format_ms(slow)}, {labels[1]} {format_ms(fast)}"
    return Target(name, passed, shown, goal_text, figure, detail, ratio)


def _rate_target(name: str, figure: str, seconds: float | None, goal: float) -> Target:
    """Steps per second (``1 / seconds``) of at least ``goal``."""
    goal_text = f">= {goal:,.0f}"
    if seconds is None:
        return Target(name, None, "-", goal_text, figure, "not timed")
    rate = 1.0 / seconds
    return Target(name, rate >= goal, f"{rate:,.0f}", goal_text, figure,
                  f"{format_ms(seconds)} per step", rate)


def check_targets(result: BenchResult, n_lo: int = N_REF, n_hi: int = 400) -> list[Target]:
    """Evaluate the speed targets on ``result`` (N/A where a figure was not timed); the
    growth exponent is fitted over the table's sizes from ``n_lo`` to ``n_hi``."""
    n_ref, n_small, k_many = result.n_ref, result.n_small, result.k_many
    k_ref = min(k_many, n_ref)
    time_of = result.time_of
    targets = [
        _ratio_target("rtrl_vs_matmul",
                      f"float RTRL step / NxN by NxNL matmul, N={n_ref} K=1",
                      time_of("rtrl", n_ref, 1), result.matmul.get(n_ref),
                      TARGET_MATMUL_RATIO, False, ("RTRL", "matmul")),
        _ratio_target("trtrl_speedup", f"float TRTRL speed-up over RTRL, N={n_ref} K=1",
                      time_of("rtrl", n_ref, 1), time_of("trtrl", n_ref, 1), TARGET_SPEEDUP,
                      True, ("RTRL", "TRTRL")),
        _ratio_target("trtrl_speedup_k", f"float TRTRL speed-up over RTRL, N={n_ref} K={k_ref}",
                      time_of("rtrl", n_ref, k_many), time_of("trtrl", n_ref, k_many),
                      TARGET_SPEEDUP_MANY, True, ("RTRL", "TRTRL")),
        _rate_target("fixed_small", f"fixed-point steps/s, N={n_small} K=1",
                     time_of("fixed", n_small, 1), TARGET_FIXED_SMALL),
        _rate_target("fixed_large", f"fixed-point steps/s, N={n_ref} K={k_ref}",
                     time_of("fixed", n_ref, k_many), TARGET_FIXED_LARGE),
    ]
    figure = f"float TRTRL time growth, N={n_lo}..{n_hi} K={result.k}"
    goal = f"<= N^{TARGET_EXPONENT}"
    pts = [(t.n, t.seconds) for t in result.timings
           if t.algorithm == "trtrl" and t.seconds is not None and n_lo <= t.n <= n_hi]
    if len(pts) >= 2 and pts[0][0] == n_lo and pts[-1][0] == n_hi:
        expo = fit_exponent([p[0] for p in pts], [p[1] for p in pts])
        result.exponents["trtrl"] = expo
        targets.append(Target("trtrl_scaling", expo <= TARGET_EXPONENT, f"N^{expo:.2f}", goal,
                              figure, f"fitted over N={[p[0] for p in pts]}", expo))
    else:
        targets.append(Target("trtrl_scaling", None, "-", goal, figure,
                              f"needs TRTRL in the table at N={n_lo} and N={n_hi}"))
    return targets


def format_ms(seconds: float | None) -> str:
    """Seconds as a right-sized string (us below 0.1 ms, else ms; ``-`` for None)."""
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    if ms < 0.1:
        return f"{seconds * 1e6:.3g} us"
    return f"{ms:.4g} ms" if ms < 1e4 else f"{seconds:.4g} s"


def format_targets(targets: Sequence[Target]) -> list[str]:
    """The targets as aligned lines: verdict, figure, measured, goal, the times behind."""
    if not targets:
        return []
    wf = max(len(t.figure) for t in targets)
    wm = max(len(t.measured) for t in targets)
    wg = max(len(t.goal) for t in targets)
    lines = [f"  {'':6} {'figure':<{wf}}  {'measured':>{wm}}  goal"]
    for t in targets:
        lines.append(f"  {'[' + t.verdict + ']':6} {t.figure:<{wf}}  {t.measured:>{wm}}  "
                     f"{t.goal:<{wg}}  {t.detail}".rstrip())
    return lines


def format_result(result: BenchResult) -> str:
    """Human-readable bench report: per-size table, then the targets."""
    algs: list[str] = []
    for t in result.timings:
        if t.algorithm not in algs:
            algs.append(t.algorithm)
    threads = "unknown" if result.blas_threads is None else str(result.blas_threads)
    lines = [f"Per-step time (best of {result.repeats}, M={result.m}, K={result.k}, "
             f"kernel {result.kernel}, OpenBLAS threads {threads}; fixed = the bit-accurate "
             "fixed-point model, the others float64):"]
    header = f"{'N':>6}" + "".join(f"{a:>14}" for a in algs) + f"{'RTRL/TRTRL':>12}"
    lines.append(header)
    notes: list[str] = []
    for n in result.sizes:
        row = f"{n:>6}"
        for a in algs:
            t = next((t for t in result.timings if t.algorithm == a and t.n == n), None)
            cell = format_ms(t.seconds) if t is not None else "-"
            if t is not None and t.note:
                cell += "*"
                notes.append(f"  * {a} N={n}: {t.note}")
            row += f"{cell:>14}"
        r, tr = result.time_of("rtrl", n), result.time_of("trtrl", n)
        row += f"{(f'{r / tr:.1f}x' if r and tr else '-'):>12}"
        lines.append(row)
    lines.extend(notes)
    if result.observed:
        n = result.observed[0].n
        lines.append(f"Fixed point with an observer (as the scoreboards run it), N={n} K=1: "
                     + ", ".join(f"{t.kernel} {format_ms(t.seconds)} "
                                 f"({1 / t.seconds:,.0f} steps/s)"
                                 for t in result.observed if t.seconds))
    for n, s in sorted(result.matmul.items()):
        lines.append(f"Reference matmul ({n}x{n}) @ ({n}x{n * (result.m + 1 + n)}): "
                     f"{format_ms(s)}")
    if result.load:
        busy = max(result.load) > 0.75 * max(result.cpus, 1)
        lines.append(f"Machine load (1-min average) {max(result.load):.2f} on {result.cpus} CPUs"
                     + (": other work competes for the CPUs, timings are inflated" if busy
                        else ""))
    if result.targets:
        lines += ["", f"Targets (M={result.m}, kernel {result.kernel}):",
                  *format_targets(result.targets)]
    return "\n".join(lines)
