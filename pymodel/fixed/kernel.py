"""The numba kernel of one fixed-point TRTRL step (``FixedTRTRL(kernel="numba")``).

:func:`fixed_step` computes FIXED_POINT.md's step in int64, exactly as the NumPy path of
:meth:`pymodel.fixed.model.FixedTRTRL.step` does: the same formulas for ``rshift_round``
(``(v + 2**(s-1)) >> s``, an arithmetic shift, ``v`` itself at ``s = 0``), the same
clamps (each counted once where it changes its value), the same table look-up and
derivative. Every intermediate value is the NumPy path's, so nothing depends on the
order of the loops: integer sums are exact (the config refuses formats whose sums could
pass :data:`~pymodel.fixed.formats.INT_BITS`), and the saturation count and the clamp
census are sums of counts. The loops go row by row (weight row ``i``: its
``p_out[k, i, :]`` for every output ``k``, its ``p_ing``, its ``p_egr``, its new
weights), so a row's work stays in the first-level cache.

Every clamp is :func:`_clamp`. Given a census array (a model with an ``observer``), it
also counts where each value lay against the bounds, the step's clamp census, as the
NumPy path does, so a model with an observer runs the kernel too; given None, numba
compiles a version that counts the saturation events only. The kernel reads the old
state and writes new arrays, as the NumPy path does.
"""

from __future__ import annotations

import numpy as np

from trtrl.pymodel.fixed.arith import SIDES
from trtrl.pymodel.fixed.formats import FixedConfig
from trtrl.pymodel.fixed.model import CLAMPS
from trtrl.pymodel.jit import jit

A = np.ndarray  # the kernel's arrays: int64, C-contiguous

# Indices into the kernel's integer parameter vector (see ``params``).
P_AFRAC, P_WFRAC, P_ZSHIFT, P_LUT_SHIFT, P_LUT_HALF, P_LUT_MAX = range(6)
P_AMIN, P_AMAX, P_PMIN, P_PMAX, P_WMIN, P_WMAX, P_SIGMOID = range(6, 13)
N_PARAMS = 13
# The census rows of the clamps and its columns (above max, below min, at max, at min):
# looked up by name, so a reordered CLAMPS or SIDES cannot shift the kernel's counts.
C_FP, C_INNER, C_P, C_E, C_W = (CLAMPS.index(q) for q in ("fp", "p_inner", "p", "e", "w"))
S_ABOVE, S_BELOW, S_AT_MAX, S_AT_MIN = (SIDES.index(s) for s in
                                        ("above max", "below min", "at max", "at min"))


def params(cfg: FixedConfig) -> np.ndarray:
    """The kernel's int64 parameter vector for a (sized) ``FixedConfig``."""
    a, w, p = cfg.act, cfg.weight, cfg.sens
    out = np.zeros(N_PARAMS, dtype=np.int64)
    out[P_AFRAC], out[P_WFRAC] = a.frac, w.frac
    out[P_ZSHIFT] = w.frac + p.frac - a.frac
    out[P_LUT_SHIFT] = cfg.lut_shift
    out[P_LUT_HALF] = 1 << (cfg.lut_bits - 1)
    out[P_LUT_MAX] = (1 << cfg.lut_bits) - 1
    out[P_AMIN], out[P_AMAX] = a.min, a.max
    out[P_PMIN], out[P_PMAX] = p.min, p.max
    out[P_WMIN], out[P_WMAX] = w.min, w.max
    out[P_SIGMOID] = cfg.activation == "sigmoid"
    return out


# Every inner loop runs over ``range(len)`` of 1-D slices: numba checks an index for
# negative values (wrap-around) unless it can prove it non-negative, and that check keeps
# LLVM from vectorising a loop such as ``for j in range(m1, L)``.


@jit
def _clamp(v, lo, hi, tally, census):
    """``(min(max(v, lo), hi), tally)`` with ``v`` counted in ``tally``, a 4-tuple in
    registers (an array would be a store per value, and keep LLVM from vectorising):
    with a ``census``, ``v``'s side of the bounds (above max, below min, at max, at min);
    with ``census`` None, whether the clamp changed ``v``, in ``tally[0]``. ``census`` is
    read for its type only: numba compiles each case apart and drops the other's branch,
    so a step with no observer does not pay for the census (a third of a step at N = 100,
    K = 10)."""
    c = min(max(v, lo), hi)
    if census is None:
        return c, (tally[0] + (c != v), tally[1], tally[2], tally[3])
    return c, (tally[0] + (v > hi), tally[1] + (v < lo), tally[2] + (v == hi),
               tally[3] + (v == lo))


@jit
def _count(census, row, tally):
    """Add a loop's ``tally`` (see :func:`_clamp`) to ``census[row]`` (if a census is
    kept); return the loop's saturation events."""
    if census is not None:
        census[row, S_ABOVE] += tally[0]
        census[row, S_BELOW] += tally[1]
        census[row, S_AT_MAX] += tally[2]
        census[row, S_AT_MIN] += tally[3]
    return tally[0] + tally[1]


@jit
def _sens(acc, fp, out, whalf, wfrac, ahalf, afrac, lo, hi, census):
    """``out[j] = sat_P(rshift_round(fp * sat_P(rshift_round(acc[j], W.frac)), A.frac))``
    for every ``j`` (``fp`` one value); returns how many clamps changed their value."""
    t_in = t_p = (0, 0, 0, 0)
    for j in range(acc.shape[0]):
        inner, t_in = _clamp((acc[j] + whalf) >> wfrac, lo, hi, t_in, census)
        out[j], t_p = _clamp((fp * inner + ahalf) >> afrac, lo, hi, t_p, census)
    return _count(census, C_INNER, t_in) + _count(census, C_P, t_p)


@jit
def _sens_each(wcol, ing, fp, out, whalf, wfrac, ahalf, afrac, lo, hi, census):
    """:func:`_sens` of ``acc[j] = wcol[j] * ing[j]``, with one ``fp[j]`` per entry."""
    t_in = t_p = (0, 0, 0, 0)
    for j in range(out.shape[0]):
        inner, t_in = _clamp((wcol[j] * ing[j] + whalf) >> wfrac, lo, hi, t_in, census)
        out[j], t_p = _clamp((fp[j] * inner + ahalf) >> afrac, lo, hi, t_p, census)
    return _count(census, C_INNER, t_in) + _count(census, C_P, t_p)


@jit
def fixed_step(w: A, y: A, p_out: A, p_ing: A, p_egr: A, x: A, d: A, lut: A, prm: A,
               learn: bool, grad_shift: int, y_new: A, e: A, w_new: A, p_out_n: A, p_ing_n: A,
               p_egr_n: A, census: A | None, fp: A, wt: A, z: A, zs: A, acc: A, g: A) -> int:
    """One step from the old state (``w``, ``y``, ``p_*``) into the new arrays (``y_new``,
    ``e``, ``w_new`` if ``learn``, ``p_*_n``) and, unless None, its clamp ``census``
    (``(len(CLAMPS), len(SIDES))``, overwritten); returns the step's saturation events.

    Scratch: ``fp`` (N,), ``wt`` (N, N), ``z``, ``zs``, ``acc``, ``g`` (L,).
    """
    k, n, L = p_out.shape
    m = x.shape[0]
    m1 = m + 1
    afrac, wfrac, zshift = prm[P_AFRAC], prm[P_WFRAC], prm[P_ZSHIFT]
    one = np.int64(1) << afrac
    ahalf, whalf = one >> 1, (np.int64(1) << wfrac) >> 1
    amin, amax = prm[P_AMIN], prm[P_AMAX]
    pmin, pmax = prm[P_PMIN], prm[P_PMAX]
    wmin, wmax = prm[P_WMIN], prm[P_WMAX]
    lut_shift, lut_half, lut_max = prm[P_LUT_SHIFT], prm[P_LUT_HALF], prm[P_LUT_MAX]
    sigmoid = prm[P_SIGMOID] != 0
    events = 0
    if census is not None:
        census[:] = 0

    # 1. forward: z, the exact sums, the table, f' from the new y.
    z[:m] = x
    z[m] = one
    z[m1:] = y
    for j in range(L):
        zs[j] = z[j] << zshift
    tally = (0, 0, 0, 0)
    for i in range(n):
        wi = w[i]
        s = np.int64(0)
        for j in range(L):
            s += wi[j] * z[j]
        idx = min(max((s >> lut_shift) + lut_half, 0), lut_max)
        yi = lut[idx]
        y_new[i] = yi
        if sigmoid:
            v = (yi * (one - yi) + ahalf) >> afrac
        else:
            v = one - ((yi * yi + ahalf) >> afrac)
        fp[i], tally = _clamp(v, amin, amax, tally, census)
    events += _count(census, C_FP, tally)

    # 3. errors (no clamp of step 2 depends on them; counted here, the sums are the same).
    tally = (0, 0, 0, 0)
    for kk in range(k):
        e[kk], tally = _clamp(d[kk] - y_new[kk], amin, amax, tally, census)
    events += _count(census, C_E, tally)

    # wt[i, c] = W[c, M+1+i]: the egress weights of row i, contiguous.
    for c_ in range(n):
        wc = w[c_, m1:]
        for i in range(n):
            wt[i, c_] = wc[i]
    gshift = np.int64(grad_shift)
    ghalf = (np.int64(1) << gshift) >> 1
    acc_rec, zs_rec = acc[m1:], zs[m1:]
    for i in range(n):
        ci = m1 + i
        ing, egr = p_ing[i], p_egr[i]  # old state of row i
        ing_rec, egr_rec = ing[m1:], egr[m1:]
        ing_n, egr_n = p_ing_n[i], p_egr_n[i]
        # 2a. outputs k < K, T = {i} U {n(j)}: W[k, M+1+i] p_ing + W[k, j] p_egr (n(j) != i)
        for kk in range(k):
            wk = w[kk]
            wk_rec = wk[m1:]
            wki = wk[ci]
            for j in range(m1):
                acc[j] = wki * ing[j]
            for j in range(n):
                acc_rec[j] = wki * ing_rec[j] + wk_rec[j] * egr_rec[j]
            acc[ci] = wki * ing[ci]
            if kk == i:
                for j in range(L):
                    acc[j] += zs[j]
            events += _sens(acc, fp[kk], p_out_n[kk, i], whalf, wfrac, ahalf, afrac, pmin,
                            pmax, census)
        # 2b. ingress: rows i < K are the output quantity; others T = {n(j)}.
        if i < k:
            ing_n[:] = p_out_n[i, i]
        else:
            wi_rec = w[i, m1:]
            acc[:m1] = zs[:m1]
            for j in range(n):
                acc_rec[j] = wi_rec[j] * egr_rec[j] + zs_rec[j]
            events += _sens(acc, fp[i], ing_n, whalf, wfrac, ahalf, afrac, pmin, pmax,
                            census)
        # 2c. egress: 0 on input and bias columns; T = {i} (W[n(j), M+1+i] p_ing) where
        # n(j) >= K and n(j) != i; copies where n(j) < K (output) or n(j) = i (ingress).
        egr_n[:m1] = 0
        wti, egr_n_rec = wt[i], egr_n[m1:]
        c0, c1 = k, max(k, i)  # neurons K .. i-1, then i+1 .. N-1
        events += _sens_each(wti[c0:c1], ing_rec[c0:c1], fp[c0:c1], egr_n_rec[c0:c1],
                             whalf, wfrac, ahalf, afrac, pmin, pmax, census)
        c0 = max(k, i + 1)
        events += _sens_each(wti[c0:], ing_rec[c0:], fp[c0:], egr_n_rec[c0:],
                             whalf, wfrac, ahalf, afrac, pmin, pmax, census)
        if i >= k:
            egr_n[ci] = ing_n[ci]
        for c_ in range(k):
            egr_n_rec[c_] = p_out_n[c_, i, m1 + c_]
        # 4. weights of row i (the old w stays readable: the new ones go to w_new).
        if learn:
            wi, wn = w[i], w_new[i]
            g[:] = 0
            for kk in range(k):
                ek, out = e[kk], p_out_n[kk, i]
                for j in range(L):
                    g[j] += ek * out[j]
            tally = (0, 0, 0, 0)
            for j in range(L):
                wn[j], tally = _clamp(wi[j] + ((g[j] + ghalf) >> gshift), wmin, wmax,
                                      tally, census)
            events += _count(census, C_W, tally)
    return events
