"""Bit-accurate fixed-point TRTRL: the golden reference the RTL is checked against.

:class:`FixedTRTRL` computes ``pymodel/FIXED_POINT.md`` exactly, with vectorised
int64 NumPy operations and no floats inside a step. Every kept sensitivity
``p^k_ij`` (``k`` in ``S_ij``) is computed *once* per step, from the state of the
previous step, and copied to each place of the ``p_out`` / ``p_ing`` / ``p_egr``
layout it belongs to; its two clamps (``inner`` and the new ``p``) are counted once.

Which quantity owns a kept sensitivity (and so where its clamps are counted):

- ``p_out[k, i, j]`` for every output ``k < K`` (``T = {i} U {n(j)}``);
- ``p_ing[i, j]`` for a non-output ``i >= K`` (``T = {n(j)}``);
- ``p_egr[i, j]`` for a recurrent column with ``n(j) >= K`` and ``n(j) != i``
  (``T = {i}``). Every other element of ``p_ing`` / ``p_egr`` is a copy.

The vectorised step here is the reference; :mod:`pymodel.fixed.kernel` computes the same
step as a compiled loop (the default, chosen with ``kernel``), bit for bit the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from trtrl.pymodel.errors import ConfigError
from trtrl.pymodel.fixed.arith import (
    INT_BITS,
    SIDES,
    bound_counts,
    quantize,
    rshift_round,
    saturate,
)
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat, default_config
from trtrl.pymodel.fixed.lut import build_lut, lut_index
from trtrl.pymodel.jit import DEFAULT_KERNEL, check_kernel
from trtrl.pymodel.models.base import kept_steps  # the spec's --weights-every rule, one copy
from trtrl.pymodel.network import Shape

__all__ = [
    "CLAMPS",
    "FixedTRTRL",
    "kept_steps",
    "quantize_case",
    "lr_shift_from_lr",
    "fixed_trace",
]

LR_SHIFT_MAX = 31  # the RTL's lr_shift port is 5 bits
# A step's clamps in step order: the rows of its clamp census (columns: arith.SIDES).
CLAMPS = ("fp", "p_inner", "p", "e", "w")


class FixedTRTRL:
    """The fixed-point TRTRL network of FIXED_POINT.md, one online step at a time.

    State (int64, raw integers): ``w`` (N, L), ``y`` (N,), ``p_out`` (K, N, L),
    ``p_ing`` (N, L), ``p_egr`` (N, L), plus the counters ``sat_count`` (saturation
    events since the last reset) and ``steps``. A step replaces the state arrays with
    new ones (a reference kept from before a step keeps its values).

    ``kernel`` (pymodel/jit.py) picks who computes a step: ``"numba"`` (the default,
    :mod:`pymodel.fixed.kernel`, ~10-20x faster) or ``"numpy"``, the vectorised
    reference below; both give the same bits and the same clamp census
    (pymodel/tests/test_kernels.py).
    """

    def __init__(
        self,
        w0_q: np.ndarray,
        m: int,
        k: int,
        cfg: FixedConfig,
        lr_shift: int,
        learn: bool = True,
        kernel: str = DEFAULT_KERNEL,
    ) -> None:
        w0 = np.asarray(w0_q)
        if w0.ndim != 2:
            raise ConfigError(f"w0_q: expected an (N, L) array, got shape {w0.shape}")
        if w0.dtype.kind not in "iu":
            raise ConfigError(f"w0_q: expected raw integers, got dtype {w0.dtype}")
        n = int(w0.shape[0])
        shape = Shape(n, int(m), int(k)).validate()
        if w0.shape[1] != shape.L:
            raise ConfigError(f"w0_q: has {w0.shape[1]} columns but L = M + 1 + N = {shape.L}")
        if not isinstance(cfg, FixedConfig):
            raise ConfigError(f"cfg: expected a FixedConfig, got {type(cfg).__name__}")
        cfg = cfg.sized_for(shape.L, shape.k)
        grad_shift = _grad_shift(cfg, lr_shift)
        if w0.min(initial=0) < cfg.weight.min or w0.max(initial=0) > cfg.weight.max:
            raise ConfigError(f"w0_q: values outside the weight format {cfg.weight}")
        self.shape = shape
        self.cfg = cfg
        self._kernel = check_kernel(kernel)
        self.lr_shift = int(lr_shift)
        self.learn = bool(learn)
        self.w0 = w0.astype(np.int64)
        # Functional coverage: called after each step with the step's clamp census, an
        # int64 (len(CLAMPS), len(SIDES)) array: census[c, s] is how many values clamp
        # CLAMPS[c] had on side SIDES[s] of its bounds before clamping (a new array each
        # step; a clamp the step skips, w when not learning, has a row of zeros).
        self.observer: Callable[[np.ndarray], None] | None = None
        self.lut = build_lut(cfg)
        self.lut.setflags(write=False)
        self._grad_shift = grad_shift
        self._layout()
        if self._kernel == "numba":
            # imported here, not with this module: numba takes ~0.2 s to import
            from trtrl.pymodel.fixed import kernel as numba_kernel

            self._fixed_step = numba_kernel.fixed_step
            self._params = numba_kernel.params(cfg)
            self._scratch = (np.empty(n, dtype=np.int64), np.empty((n, n), dtype=np.int64),
                             *(np.empty(shape.L, dtype=np.int64) for _ in range(4)))
        self.w = self.w0.copy()
        self.reset_state()

    # -- fixed index tables: built once, so a step is pure array arithmetic ----------
    def _layout(self) -> None:
        n, m, k, L = self.shape.n, self.shape.m, self.shape.k, self.shape.L
        cols = np.arange(L)
        nj = cols - (m + 1)  # neuron driving column j, negative for input/bias columns
        self._rec = nj >= 0  # (L,)
        self._njc = np.where(self._rec, nj, 0)  # clipped, safe as an index
        rows = np.arange(n)[:, None]
        same = self._rec[None, :] & (self._njc[None, :] == rows)  # (N, L): n(j) = i
        self._same = same
        # Output k: the egress term W[k, n(j)] p^{n(j)}_ij exists unless n(j) = i (set T).
        self._out_egr = self._rec[None, :] & ~same  # (N, L)
        # Quantities owned by p_egr: n(j) >= K and n(j) != i.
        self._egr_own = self._rec[None, :] & (self._njc[None, :] >= k) & ~same
        # p_egr copied from p_out: recurrent columns with n(j) < K.
        self._egr_from_out = np.broadcast_to(self._rec & (self._njc < k), (n, L))
        self._egr_from_ing = same & (self._njc[None, :] >= k)
        self._kk = np.arange(k)
        self._rows = np.arange(n)[:, None]
        self._cols = cols[None, :]
        self._njc_out = np.minimum(self._njc, k - 1)[None, :]  # index into p_out's k axis

    @property
    def kernel(self) -> str:
        """The step's implementation, chosen when the model is made."""
        return self._kernel

    def set_lr_shift(self, lr_shift: int) -> None:
        """A new learning-rate shift from the next step on (as a write of CONTROL.LR_SHIFT)."""
        self._grad_shift = _grad_shift(self.cfg, lr_shift)
        self.lr_shift = int(lr_shift)

    def reset_state(self) -> None:
        """``y = 0``, every sensitivity 0, counters 0; the weights are kept (as the RTL's clear)."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        self.y = np.zeros(n, dtype=np.int64)
        self.p_out = np.zeros((k, n, L), dtype=np.int64)
        self.p_ing = np.zeros((n, L), dtype=np.int64)
        self.p_egr = np.zeros((n, L), dtype=np.int64)
        self.sat_count = 0
        self.steps = 0

    def sensitivities(self) -> dict[str, np.ndarray]:
        """Copies of ``p_out``, ``p_ing``, ``p_egr`` (the read-back layout)."""
        return {"p_out": self.p_out.copy(), "p_ing": self.p_ing.copy(), "p_egr": self.p_egr.copy()}

    def _p_update(self, acc: np.ndarray, fp: np.ndarray,
                  census: np.ndarray | None) -> tuple[np.ndarray, int]:
        """``inner = sat_P(round(acc >> W.frac))``, ``p = sat_P(round(fp*inner >> A.frac))``."""
        cfg = self.cfg
        inner, n1 = _clamp("p_inner", rshift_round(acc, cfg.weight.frac), cfg.sens, census)
        p, n2 = _clamp("p", sens_product(fp, inner, cfg), cfg.sens, census)
        return p, n1 + n2

    def step(self, x_q: np.ndarray, d_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One online learning step (spec order); returns ``(y(t+1), e(t+1))`` as int64.

        Computed by the numba kernel (:mod:`pymodel.fixed.kernel`) or the NumPy
        reference, as :attr:`kernel` says; both give the same bits and the same census,
        shown to the :attr:`observer` (if any) once the step is done.
        """
        # counted only for an observer: it costs up to a third of a step on either path
        observer = self.observer
        census = None if observer is None else np.zeros((len(CLAMPS), len(SIDES)), np.int64)
        if self._kernel == "numba":
            out = self._step_numba(x_q, d_q, census)
        else:
            out = self._step_numpy(x_q, d_q, census)
        if observer is not None:
            observer(census)
        return out

    def _step_numba(self, x_q: np.ndarray, d_q: np.ndarray,
                    census: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step` by :func:`pymodel.fixed.kernel.fixed_step`, into new arrays; the
        step's clamp census into ``census`` unless it is None."""
        shape = self.shape
        x = np.ascontiguousarray(x_q, dtype=np.int64).reshape(shape.m)
        d = np.ascontiguousarray(d_q, dtype=np.int64).reshape(shape.k)
        w, p_out = self.w, self.p_out
        learn = bool(self.learn)
        y_new = np.empty_like(self.y)
        e = np.empty(shape.k, dtype=np.int64)
        w_new = np.empty_like(w) if learn else w
        p_out_n, p_ing_n, p_egr_n = (np.empty_like(p_out), np.empty_like(self.p_ing),
                                     np.empty_like(self.p_egr))
        self.sat_count += self._fixed_step(
            w, self.y, p_out, self.p_ing, self.p_egr, x, d, self.lut, self._params, learn,
            self._grad_shift, y_new, e, w_new, p_out_n, p_ing_n, p_egr_n, census,
            *self._scratch)
        self.w, self.y, self.p_out, self.p_ing, self.p_egr = w_new, y_new, p_out_n, p_ing_n, p_egr_n
        self.steps += 1
        return y_new.copy(), e

    def _step_numpy(self, x_q: np.ndarray, d_q: np.ndarray,
                    census: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step` in vectorised NumPy: the reference the kernel is tested against;
        the step's clamp census added to ``census`` unless it is None."""
        cfg = self.cfg
        a_fmt = cfg.act
        n, m, k = self.shape.n, self.shape.m, self.shape.k
        x = np.asarray(x_q, dtype=np.int64).reshape(m)
        d = np.asarray(d_q, dtype=np.int64).reshape(k)
        one = a_fmt.one
        sat = 0

        # 1. forward: exact sum, table, derivative from the new y.
        z = np.concatenate([x, np.array([one], dtype=np.int64), self.y])
        s = self.w @ z
        y_new = self.lut[lut_index(s, cfg)]
        fp, ev = _clamp("fp", derivative(y_new, cfg), a_fmt, census)
        sat += ev

        # 2. sensitivities, all from the old W, p and z.
        wr = self.w[:, m + 1 :]  # wr[k, l] = W[k, M+1+l]
        zs = z << np.int64(cfg.weight.frac + cfg.sens.frac - a_fmt.frac)
        p_i, p_e = self.p_ing, self.p_egr
        wk_nj = wr[:k][:, self._njc]  # (K, L): W[k, M+1+n(j)]
        acc_out = wr[:k, :, None] * p_i[None, :, :]  # W[k, M+1+i] p^i_ij
        acc_out += np.where(self._out_egr[None], wk_nj[:, None, :] * p_e[None], 0)
        acc_out[self._kk, self._kk, :] += zs  # delta_ik z_j
        p_out, ev = self._p_update(acc_out, fp[:k, None, None], census)
        sat += ev

        p_ing = np.empty_like(p_i)
        p_ing[:k] = p_out[self._kk, self._kk]
        if n > k:  # non-output ingress: T = {n(j)}
            w_nj = wr[k:][:, self._njc]  # (N-K, L): W[i, M+1+n(j)]
            acc_ing = np.where(self._rec[None, :], w_nj * p_e[k:], 0) + zs[None, :]
            p_ing[k:], ev = self._p_update(acc_ing, fp[k:, None], census)
            sat += ev

        p_egr = np.zeros_like(p_e)
        own = self._egr_own
        if own.any():  # egress of a non-output n(j) != i: T = {i}
            ii, jj = np.nonzero(own)
            nj = self._njc[jj]
            acc_egr = wr[nj, ii] * p_i[ii, jj]
            p_egr[ii, jj], ev = self._p_update(acc_egr, fp[nj], census)
            sat += ev
        from_out = p_out[self._njc_out, self._rows, self._cols]
        p_egr = np.where(self._egr_from_out, from_out, p_egr)
        p_egr = np.where(self._egr_from_ing, p_ing, p_egr)

        # 3. errors.
        e, ev = _clamp("e", d - y_new[:k], a_fmt, census)
        sat += ev

        # 4. weights.
        if self.learn:
            g = np.einsum("k,kij->ij", e, p_out)
            self.w, ev = _clamp("w", self.w + rshift_round(g, self._grad_shift), cfg.weight,
                                census)
            sat += ev

        self.y, self.p_out, self.p_ing, self.p_egr = y_new, p_out, p_ing, p_egr
        self.sat_count += sat
        self.steps += 1
        return y_new.copy(), e

    def run(
        self,
        x_q: np.ndarray,
        d_q: np.ndarray,
        weights_every: int = 1,
        progress: bool = False,
    ) -> dict[str, np.ndarray]:
        """Run every step of ``(x_q, d_q)`` from the current state; return the trace arrays.

        Keys: ``y`` (T, N), ``e`` (T, K), ``sat`` (T,) cumulative events, and at the kept
        steps ``w_step``: ``w``, ``p_out``, ``p_ing``, ``p_egr``; all int64.
        """
        n, m, k, L = self.shape.n, self.shape.m, self.shape.k, self.shape.L
        x = np.asarray(x_q, dtype=np.int64)
        d = np.asarray(d_q, dtype=np.int64)
        if x.ndim != 2 or x.shape[1] != m:
            raise ConfigError(f"x_q: expected shape (T, {m}), got {x.shape}")
        if d.ndim != 2 or d.shape != (x.shape[0], k):
            raise ConfigError(f"d_q: expected shape ({x.shape[0]}, {k}), got {d.shape}")
        steps = x.shape[0]
        kept = kept_steps(steps, weights_every)
        keep = np.zeros(steps, dtype=bool)
        keep[kept] = True
        out: dict[str, np.ndarray] = {
            "y": np.zeros((steps, n), dtype=np.int64),
            "e": np.zeros((steps, k), dtype=np.int64),
            "sat": np.zeros(steps, dtype=np.int64),
            "w_step": kept,
            "w": np.zeros((len(kept), n, L), dtype=np.int64),
            "p_out": np.zeros((len(kept), k, n, L), dtype=np.int64),
            "p_ing": np.zeros((len(kept), n, L), dtype=np.int64),
            "p_egr": np.zeros((len(kept), n, L), dtype=np.int64),
        }
        iterator: Any = range(steps)
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc="fixed-point TRTRL", unit="step", leave=False)
        slot = 0
        for t in iterator:
            out["y"][t], out["e"][t] = self.step(x[t], d[t])
            out["sat"][t] = self.sat_count
            if keep[t]:
                out["w"][slot] = self.w
                out["p_out"][slot] = self.p_out
                out["p_ing"][slot] = self.p_ing
                out["p_egr"][slot] = self.p_egr
                slot += 1
        return out


def _clamp(name: str, raw: np.ndarray, fmt: FixedFormat,
           census: np.ndarray | None) -> tuple[np.ndarray, int]:
    """``saturate(raw, fmt)``; ``raw``'s :func:`bound_counts` added to ``census``'s row
    of clamp ``name`` unless ``census`` is None."""
    if census is not None:
        census[CLAMPS.index(name)] += bound_counts(raw, fmt)
    return saturate(raw, fmt)


def derivative(y: np.ndarray, cfg: FixedConfig) -> np.ndarray:
    """f'(y) in format A before its clamp, from y = f(s) (a table value)."""
    one = cfg.act.one
    if cfg.activation == "tanh":
        return one - rshift_round(y * y, cfg.act.frac)
    return rshift_round(y * (one - y), cfg.act.frac)


def sens_product(fp: np.ndarray, inner: np.ndarray, cfg: FixedConfig) -> np.ndarray:
    """A sensitivity before its clamp: f'(y) times its clamped inner sum, in format P."""
    return rshift_round(fp * inner, cfg.act.frac)


def _grad_shift(cfg: FixedConfig, lr_shift: int) -> int:
    """The gradient's right shift at ``lr_shift``; a shift the datapath cannot take is a
    ConfigError."""
    if isinstance(lr_shift, bool) or int(lr_shift) != lr_shift:
        raise ConfigError(f"lr_shift: expected an integer, got {lr_shift!r}")
    if not 0 <= int(lr_shift) <= LR_SHIFT_MAX:
        raise ConfigError(f"lr_shift: {lr_shift} outside [0, {LR_SHIFT_MAX}]")
    grad_shift = cfg.act.frac + cfg.sens.frac - cfg.weight.frac + int(lr_shift)
    if not 0 <= grad_shift <= INT_BITS:
        raise ConfigError(
            f"lr_shift: A.frac + P.frac - W.frac + lr_shift = {grad_shift} "
            f"outside [0, {INT_BITS}]"
        )
    return grad_shift


def quantize_case(case: Any, cfg: FixedConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x_q, d_q, w0_q)``: the stimulus in formats A, A and W, as the hardware is given it."""
    x_q = quantize(np.asarray(case.x, dtype=np.float64), cfg.act)
    d_q = quantize(np.asarray(case.d, dtype=np.float64), cfg.act)
    w0_q = quantize(np.asarray(case.w0, dtype=np.float64), cfg.weight)
    return x_q, d_q, w0_q


def lr_shift_from_lr(lr: float, learn: bool = True) -> int:
    """``round(-log2 lr)``: the hardware learns at ``2**-lr_shift``.

    ``lr <= 0`` is refused while learning (no shift means it); with learning off the
    shift is irrelevant and 0 is returned.
    """
    lr = float(lr)
    if not math.isfinite(lr) or lr <= 0:
        if learn:
            raise ConfigError(f"lr: {lr} has no power-of-two shift (need lr > 0)")
        return 0
    shift = round(-math.log2(lr))
    if not 0 <= shift <= LR_SHIFT_MAX:
        raise ConfigError(f"lr: {lr} gives lr_shift {shift} outside [0, {LR_SHIFT_MAX}]")
    return int(shift)


def fixed_trace(
    case: Any,
    cfg: FixedConfig | None = None,
    lr_shift: int | None = None,
    weights_every: int = 1,
    progress: bool = False,
    learn: bool | None = None,
) -> dict[str, Any]:
    """The full fixed-point trace of a case (keys of FIXED_POINT.md's trace file).

    ``cfg = None`` takes the default formats for the case's activation; a config whose
    activation differs from the case's is refused. ``lr_shift = None`` derives it from
    ``case.lr``; ``learn = None`` learns unless ``case.lr == 0``.
    """
    if str(case.algorithm) != "trtrl":
        raise ConfigError(
            f"algorithm: the fixed-point model computes trtrl only, not {case.algorithm!r}"
        )
    activation = str(case.activation)
    if cfg is None:
        cfg = default_config(activation)
    if cfg.activation != activation:
        raise ConfigError(
            f"activation: the case uses {activation!r} but the fixed config {cfg.activation!r}"
        )
    if learn is None:
        learn = float(case.lr) != 0.0
    if lr_shift is None:
        lr_shift = lr_shift_from_lr(float(case.lr), learn=learn)
    x_q, d_q, w0_q = quantize_case(case, cfg)
    m, k = x_q.shape[1], d_q.shape[1]
    model = FixedTRTRL(w0_q, m=m, k=k, cfg=cfg, lr_shift=lr_shift, learn=learn)
    cfg = model.cfg  # sized for the case: the trace records the accumulator it used
    trace: dict[str, Any] = model.run(x_q, d_q, weights_every=weights_every, progress=progress)
    trace.update(
        x_q=x_q,
        d_q=d_q,
        w0_q=w0_q,
        lut=model.lut.copy(),
        fmt_A=np.array(str(cfg.act)),
        fmt_W=np.array(str(cfg.weight)),
        fmt_P=np.array(str(cfg.sens)),
        acc_bits=np.array(cfg.acc_bits, dtype=np.int64),
        lut_bits=np.array(cfg.lut_bits, dtype=np.int64),
        lut_range=np.array(cfg.lut_range, dtype=np.int64),
        lr_shift=np.array(lr_shift, dtype=np.int64),
        learn=np.array(bool(learn)),
        activation=np.array(activation),
        algorithm=np.array("trtrl"),
        fixed=np.array(True),
    )
    return trace
