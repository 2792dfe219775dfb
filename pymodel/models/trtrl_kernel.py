"""The numba kernel of the float TRTRL step (``TRTRLModel(kernel="numba")``).

:func:`trtrl_learn` does what the NumPy path does after the forward sums
(:meth:`OnlineModel._learn` with :meth:`TRTRLModel._update_sensitivities` and
:meth:`TRTRLModel._update_weights`), on the same buffers, with the same floating-point
operations on the same operands in the same order, so every result is the same float64,
bit for bit (signed zeros included). That holds because IEEE 754 rounds each ``+`` and
``*`` correctly, so an operation's result depends only on its operands, and numba
compiles without ``fastmath``: LLVM neither fuses a multiply and an add into an FMA nor
reorders a sum. The operations mirrored, per entry:

- ``f' = 1 - y*y`` (tanh) or ``y * (1 - y)``; ``e = d - y``; ``lr * e``;
- outputs: ``a = W[k, :] * f'_k``; ``p_out[k,i,j] = a[k, M+1+i] * p_ing[i,j] +
  a[k, j] * p_egr[i,j]`` (also on input and bias columns, where ``p_egr`` may be -0.0);
  at ``j = M+1+i`` only the first product; then ``+ f'_k * z_j`` where ``k = i``;
- egress: ``(W[c, M+1+i] * p_ing[i,j]) * f'_c`` on the recurrent columns ``j = M+1+c``,
  ``c >= K`` (the NumPy path's ``(g * p_ing) * fp_cols``), ``(0 * p_ing[i,j]) * 1`` on
  the others (its ``g`` is 0 and ``fp_cols`` 1 there), then the copies;
- ingress rows ``i >= K``: ``((W[i,j] * p_egr[i,j]) + z_j) * f'_i``, then the copies;
- weights: ``W + p_out[0] * (lr e_0)`` for ``K = 1``; for ``K > 1`` einsum's sum
  ``((0 + (lr e_0) p^0) + (lr e_1) p^1) + ...`` (it starts from +0.0 and adds in order of
  ``k``; pymodel/tests/test_kernels.py checks einsum still does), then ``W + grad``.

The sums of the forward pass stay with NumPy (``np.dot`` is BLAS, whose summation
order a loop would not reproduce), as does ``tanh``.

Two passes. The egress rule multiplies ``p_ing`` by the transpose of W's recurrent
block, so it reads a column of W per row (a strided gather): it runs first, over all
rows, while W and ``p_ing`` are still the old ones. Then the rows ``i``: every other
quantity of row ``i`` reads only row ``i`` of the old ``p_ing`` / ``p_egr`` and of W, so
``p_ing`` is updated in place as NumPy does, and row ``i``'s weights in the same pass,
once its quantities are computed (the output weights, which every row reads, are
copied first, into ``a``).

Inner loops run over ``range(len)`` of 1-D slices so that LLVM vectorises them (numba's
check for negative indices blocks it on a loop such as ``range(m1, L)``).
"""

from __future__ import annotations

import numpy as np

from trtrl.pymodel.jit import jit

A = np.ndarray  # the kernel's arrays: float64, C-contiguous


@jit
def trtrl_learn(w: A, z: A, y: A, d: A, lr: float, tanh: bool, e: A, fp: A, le: A, p_out: A,
                ing: A, egr: A, egr_n: A, a: A, grad: A) -> None:
    """The step after the forward sums: ``f'`` from the new ``y`` (tanh ``1 - y*y``, else
    sigmoid ``y * (1 - y)``), the error ``e = d - y[:K]``, the sensitivities (into
    ``p_out``, ``ing`` in place and ``egr_n``, from the old ``ing`` and ``egr``) and, if
    ``lr != 0``, the weight update ``W += sum_k (lr e_k) p^k`` in place.

    Scratch: ``fp`` (N,), ``le`` (K,), ``a`` (K, L), ``grad`` (L,).
    """
    k, n, L = p_out.shape
    m1 = L - n
    mk = m1 + k  # first column of a neuron c >= K
    for i in range(n):
        fp[i] = 1.0 - y[i] * y[i] if tanh else y[i] * (1.0 - y[i])
    learn = lr != 0.0
    for kk in range(k):
        e[kk] = d[kk] - y[kk]
        le[kk] = lr * e[kk]
    # a[k] = W[k] f'_k: what the output rule of every row reads of W, copied before the
    # row pass updates W
    for kk in range(k):
        fk, ak, wk = fp[kk], a[kk], w[kk]
        for j in range(L):
            ak[j] = wk[j] * fk
    # Egress, from the old p_ing and the old W: p_egr[i, M+1+c] = (W[c, M+1+i]
    # p_ing[i, M+1+c]) f'_c for c >= K. Reading W's column in place costs less than
    # copying its transpose first and reading that (N = 100, K = 1: 20.4 against
    # 21.5 us a step, measured side by side).
    fp_rec = fp[k:]
    for i in range(n):
        ing_i, egr_n_i = ing[i], egr_n[i]
        lo, lo_n = ing_i[:mk], egr_n_i[:mk]
        for j in range(mk):
            lo_n[j] = (0.0 * lo[j]) * 1.0  # NumPy's (g = 0) * p_ing * (fp_cols = 1)
        hi, hi_n, w_col = ing_i[mk:], egr_n_i[mk:], w[k:, m1 + i]
        for c in range(n - k):
            hi_n[c] = (w_col[c] * hi[c]) * fp_rec[c]
    for i in range(n):
        ci = m1 + i
        ing_i, egr_i, egr_n_i, w_i = ing[i], egr[i], egr_n[i], w[i]
        ing_d = ing_i[ci]
        # outputs, from the old p_ing and p_egr
        for kk in range(k):
            ak, out = a[kk], p_out[kk, i]
            ar = ak[ci]
            for j in range(L):
                out[j] = ar * ing_i[j] + ak[j] * egr_i[j]
            out[ci] = ar * ing_d
            if kk == i:
                fk = fp[kk]
                for j in range(L):
                    out[j] = out[j] + fk * z[j]
        # ingress (rows i >= K) in place from the old p_egr and the old W[i]; with K = 1
        # the weights of row i in the same loop (two stores: LLVM vectorises a loop only
        # if it can check at run time that its stores overlap none of its loads, and gives
        # up past a few such checks; three stores in one loop ran scalar)
        if i >= k:
            f_i = fp[i]
            if learn and k == 1:
                s, p0 = le[0], p_out[0, i]
                for j in range(L):
                    w_ij = w_i[j]
                    ing_i[j] = ((w_ij * egr_i[j]) + z[j]) * f_i
                    w_i[j] = w_ij + p0[j] * s
            else:
                for j in range(L):
                    ing_i[j] = ((w_i[j] * egr_i[j]) + z[j]) * f_i
        else:
            ing_i[:] = p_out[i, i]
            if learn and k == 1:
                s, p0 = le[0], p_out[0, i]
                for j in range(L):
                    w_i[j] = w_i[j] + p0[j] * s
        for c_ in range(k):
            egr_n_i[m1 + c_] = p_out[c_, i, m1 + c_]
        egr_n_i[ci] = ing_i[ci]
        if learn and k > 1:
            grad[:] = 0.0
            for kk in range(k):
                lk, p = le[kk], p_out[kk, i]
                for j in range(L):
                    grad[j] = grad[j] + lk * p[j]
            for j in range(L):
                w_i[j] = w_i[j] + grad[j]
