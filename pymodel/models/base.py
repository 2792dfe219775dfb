"""The online-learning skeleton every float64 reference model shares.

``OnlineModel.step`` fixes the order of one learning step of ``docs/spec.md`` (forward
pass, sensitivities from ``W(t)``, error, weight update); a subclass only supplies the
sensitivity recursion and the weight-update gradient. Keeping the order in one
place makes RTRL, TRTRL and SnAp-1 differ only where the algorithms differ.
"""

from __future__ import annotations

import numpy as np

from trtrl.pymodel.activations import activate, check_activation, derivative_from_y
from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.jit import check_kernel
from trtrl.pymodel.network import Shape


def _as_weights(w0: np.ndarray, m: int, k: int) -> tuple[np.ndarray, Shape]:
    """Own float64 copy of ``w0`` and the validated shape; errors name ``w0``."""
    w = np.array(w0, dtype=np.float64, order="C", copy=True)
    if w.ndim != 2:
        raise ConfigError(f"w0: must be 2-D (N, L), got shape {w.shape}")
    shape = Shape(n=w.shape[0], m=int(m), k=int(k)).validate()
    if w.shape[1] != shape.L:
        raise ConfigError(
            f"w0: has {w.shape[1]} columns, expected L = M + 1 + N = {shape.L} "
            f"(M={shape.m}, N={shape.n})"
        )
    if not np.all(np.isfinite(w)):
        raise ConfigError("w0: contains a non-finite number")
    return w, shape


def kept_steps(T: int, weights_every: int) -> np.ndarray:
    """Step indices whose weights a trace keeps (spec's ``--weights-every S``).

    ``S = 1``: every step; ``S > 1``: ``S-1, 2S-1, ...`` plus the final step (listed
    once); ``S = 0``: the final step only. An empty run keeps nothing.
    """
    if isinstance(weights_every, bool) or not isinstance(weights_every, (int, np.integer)):
        raise ConfigError(f"weights_every: must be an integer >= 0, got {weights_every!r}")
    if weights_every < 0:
        raise ConfigError(f"weights_every: must be >= 0, got {weights_every}")
    if T <= 0:
        return np.zeros(0, dtype=np.int64)
    if weights_every == 0:
        return np.array([T - 1], dtype=np.int64)
    steps = np.arange(weights_every - 1, T, weights_every, dtype=np.int64)
    if steps.size == 0 or steps[-1] != T - 1:
        steps = np.append(steps, np.int64(T - 1))
    return steps


class OnlineModel:
    """A recurrent network that learns online, one spec step per ``step`` call.

    Attributes: ``shape`` (sizes), ``w`` (N, L) weights (own copy), ``y`` (N,) the
    current state ``y(t)``, ``lr``, ``activation``, ``kernel`` (which implementation
    of the step runs, one of the class's ``kernels``) and the class attribute
    ``algorithm``. Subclasses implement ``_update_sensitivities``,
    ``_update_weights``, ``_zero_sensitivities``, ``sensitivities``,
    ``multiplies_per_step`` and ``stored_sensitivities``.
    """

    algorithm: str = ""
    # The step's implementations (pymodel/jit.py), the default first; "numpy" is the
    # reference every other one is tested against.
    kernels: tuple[str, ...] = ("numpy",)

    def __init__(self, w0: np.ndarray, m: int, k: int, lr: float, activation: str = "tanh",
                 kernel: str | None = None) -> None:
        self._kernel = self.kernels[0] if kernel is None else check_kernel(kernel)
        if self._kernel not in self.kernels:
            raise ConfigError(f"kernel: {self.algorithm} has no {kernel!r} kernel, only "
                              f"{', '.join(self.kernels)}")
        self.w, self.shape = _as_weights(w0, m, k)
        self.activation = check_activation(activation)
        self.lr = float(lr)
        if not np.isfinite(self.lr):
            raise ConfigError(f"lr: must be finite, got {lr!r}")
        n, L = self.shape.n, self.shape.L
        self.y = np.zeros(n)
        # z(t) is kept between the forward pass and the sensitivity update (step 2
        # needs z(t)); the bias entry is written once here.
        self._z = np.zeros(L)
        self._z[self.shape.m] = 1.0
        self._s = np.empty(n)
        self._tanh = self.activation == "tanh"
        self._allocate()

    @property
    def kernel(self) -> str:
        """The step's implementation, chosen when the model is made."""
        return self._kernel

    # -- subclass hooks -------------------------------------------------------
    def _allocate(self) -> None:
        """Allocate sensitivity arrays and scratch buffers (called by __init__)."""
        raise NotImplementedError

    def _zero_sensitivities(self) -> None:
        raise NotImplementedError

    def _update_sensitivities(self, z: np.ndarray, fp: np.ndarray) -> None:
        """Step 2: p(t+1) from W(t) (= self.w, not yet updated), p(t), z(t), f'(s(t))."""
        raise NotImplementedError

    def _update_weights(self, e: np.ndarray) -> None:
        """Step 4: W += lr * sum_{k<K} e_k p^k(t+1)."""
        raise NotImplementedError

    def _learn(self, z: np.ndarray, y_new: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Steps 1 to 4 after the forward sums: ``f'`` from ``y(t+1)``, the sensitivities
        from ``W(t)``, the error ``e`` (returned, a fresh array), the weight update. A
        kernel may do all of it in one call."""
        if self._tanh:  # inlined: the most common case, and per-call overhead matters
            fp = 1.0 - y_new * y_new
        else:
            fp = derivative_from_y(self.activation, y_new)
        self._update_sensitivities(z, fp)
        e = d - y_new[: self.shape.k]
        if self.lr != 0.0:  # lr = 0 keeps W bit-exact (no "+ 0.0" rounding of -0.0)
            self._update_weights(e)
        return e

    def sensitivities(self) -> dict[str, np.ndarray]:
        """Copies of the kept sensitivity arrays (layout per algorithm)."""
        raise NotImplementedError

    def multiplies_per_step(self) -> int:
        """Multiplies one step performs (forward, sensitivities, weight update)."""
        raise NotImplementedError

    def stored_sensitivities(self) -> int:
        """Number of sensitivity words kept between steps (scratch not counted)."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------
    def _forward_multiplies(self) -> int:
        """``W z`` (N*L) plus one multiply per neuron for ``f'`` from ``y``."""
        n, L = self.shape.n, self.shape.L
        return n * L + n

    def reset_state(self) -> None:
        """Back to ``y = 0`` and zero sensitivities; the weights are kept."""
        self.y = np.zeros(self.shape.n)
        self._zero_sensitivities()

    def _step(self, x: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One spec step without argument checks; returns (y(t+1), e) (fresh arrays)."""
        m = self.shape.m
        z = self._z
        z[:m] = x
        z[m + 1 :] = self.y
        # 1. forward pass with W(t); then f', 2. sensitivities, 3. error, 4. weights
        s = np.dot(self.w, z, out=self._s)
        y_new = np.tanh(s) if self._tanh else activate(self.activation, s)
        e = self._learn(z, y_new, d)
        self.y = y_new
        return y_new, e

    def step(self, x: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One online learning step in the spec's order.

        ``x`` (M,) is the input ``x(t)`` and ``d`` (K,) the target that comes with it.
        Returns ``y(t+1)`` (N,) and ``e(t+1) = d - y_{<K}(t+1)`` (K,), both fresh arrays.
        """
        x = np.asarray(x, dtype=np.float64)
        d = np.asarray(d, dtype=np.float64)
        if x.shape != (self.shape.m,):
            raise ConfigError(f"x: expected shape ({self.shape.m},), got {x.shape}")
        if d.shape != (self.shape.k,):
            raise ConfigError(f"d: expected shape ({self.shape.k},), got {d.shape}")
        y_new, e = self._step(x, d)
        return y_new.copy(), e

    def run(
        self,
        x: np.ndarray,
        d: np.ndarray,
        weights_every: int = 1,
        progress: bool = False,
    ) -> dict[str, np.ndarray]:
        """Run ``T`` steps from the current state and return the trace arrays.

        Returns ``y`` (T, N), ``e`` (T, K), ``w`` (len(w_step), N, L) and ``w_step``
        (int64): the weights after the steps the spec's ``--weights-every`` rule keeps
        (see ``kept_steps``), so long runs do not hold T copies of W.
        """
        x = np.asarray(x, dtype=np.float64)
        d = np.asarray(d, dtype=np.float64)
        n, m, k, L = self.shape.n, self.shape.m, self.shape.k, self.shape.L
        if x.ndim != 2 or x.shape[1] != m:
            raise ConfigError(f"x: expected shape (T, {m}), got {x.shape}")
        T = x.shape[0]
        if d.shape != (T, k):
            raise ConfigError(f"d: expected shape ({T}, {k}), got {d.shape}")
        w_step = kept_steps(T, weights_every)
        keep = np.zeros(T, dtype=bool)
        keep[w_step] = True
        ys = np.empty((T, n))
        es = np.empty((T, k))
        ws = np.empty((w_step.size, n, L))
        steps = range(T)
        if progress:
            from tqdm import tqdm

            steps = tqdm(steps, desc=f"{self.algorithm} N={n}", unit="step")
        kept = 0
        for t in steps:
            ys[t], es[t] = self._step(x[t], d[t])
            if keep[t]:
                ws[kept] = self.w
                kept += 1
        return {"y": ys, "e": es, "w": ws, "w_step": w_step}
