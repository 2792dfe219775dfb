"""TRTRL (Budik & Elhanany 2006): per weight keep only ingress, egress and outputs.

For ``W[i, j]`` with ``c = n(j)`` the kept set is ``S_ij = {i} U {c} U {0..K-1}``,
stored as the three arrays of FIXED_POINT.md's "Sensitivity layout":
``p_out[k, i, j]`` (k < K), ``p_ing[i, j] = p^i_ij`` and ``p_egr[i, j] = p^c_ij``
(0 for input and bias columns). A quantity that is in the set for two reasons is
one value and appears in every place it belongs. All three recursions use only
``p_ing`` and ``p_egr`` of the previous step:

- output ``k < K``, ``T = {i} U {c}`` (``c`` counted once when ``c = i``)::

      p_out[k,i,j] = f'_k [W[k, M+1+i] p_ing[i,j] + W[k, j] p_egr[i,j] [c != i] + delta_ki z_j]

  (for a neuron column ``W[k, M+1+c] = W[k, j]``; for input/bias columns p_egr = 0);
- ingress ``i >= K``, ``T = {c}``: ``p_ing[i,j] = f'_i [W[i, j] p_egr[i,j] + z_j]``
  (with ``c = i`` the egress slot holds ``p^i_ij`` itself, so this is still right);
- egress ``c >= K``, ``c != i``, ``T = {i}``: ``p_egr[i,j] = f'_c W[c, M+1+i] p_ing[i,j]``.

Everything else is a copy of a coinciding quantity. The work is ``O(K N L)``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from trtrl.pymodel.jit import KERNELS
from trtrl.pymodel.models.base import OnlineModel


def _diag_view(a: np.ndarray, m: int) -> np.ndarray:
    """View of the entries ``a[i, M+1+i]`` (weight from neuron i to itself) of an (N, L)
    C-contiguous array: a strided slice, so no fancy indexing inside a step."""
    n, L = a.shape
    return a.reshape(-1)[m + 1 :: L + 1][:n]


class TRTRLModel(OnlineModel):
    """Float64 TRTRL with sensitivities ``p_out`` (K,N,L), ``p_ing`` (N,L), ``p_egr`` (N,L).

    Internally ``p_egr``'s input and bias columns may hold ``-0.0`` (a product with
    0); ``sensitivities()`` returns them as ``0``.

    ``kernel="numba"`` (the default) runs everything after the forward sums as one
    compiled call (:mod:`pymodel.models.trtrl_kernel`), bit for bit what the NumPy code
    below computes; ``kernel="numpy"`` runs that code, the reference.

    Speed of the NumPy path: at the sizes of interest (N ~ 100, K = 1) one step is ~10
    NumPy calls on ~N*L elements plus ~10 small ones, so every call counts. All views are built
    once (``_allocate`` for the sensitivity buffers, ``_weight_views`` for ``w``), no
    call allocates, the large operations run on whole contiguous (N, L) arrays (a
    strided or broadcast operand costs the iterator one inner loop per row) and the
    scratch arrays are reused so that the working set stays small.
    """

    algorithm = "trtrl"
    kernels = KERNELS  # numba first: a compiled step (pymodel/models/trtrl_kernel.py)

    def _allocate(self) -> None:
        n, m, k, L = self.shape.n, self.shape.m, self.shape.k, self.shape.L
        f8 = np.dtype(np.float64).itemsize
        # p_out and p_ing are updated in place: the rules that read their old values
        # run before they are overwritten. p_egr is double-buffered.
        self._p_out = np.zeros((k, n, L))
        self._p_out_flat = self._p_out.reshape(k, n * L)
        self._ing = np.zeros((n, L))
        self._ing_in = self._ing[k:]  # rows i >= K
        self._ing_d = _diag_view(self._ing, m)  # p^i_ij at c = i
        self._egr = [np.zeros((n, L)), np.zeros((n, L))]
        self._cur = 0
        # scratch: f'-scaled output weight rows and the egress coefficients
        self._a = np.empty((k, L))
        self._a_rows = self._a[:, m + 1 :, None]  # (K, N, 1): a[k, M+1+i] for row i
        self._a_cols = self._a[:, None, :]  # (K, 1, L): a[k, j] for column j
        self._a_rec = self._a[:, m + 1 :]  # (K, N)
        self._fz = np.empty((k, L))  # f'_k z_j, the delta_ki term
        # g[i, M+1+c] = W[c, M+1+i] for c >= K, 0 elsewhere (input, bias and output
        # columns are never written); fp_cols[M+1+c] = f'_c for c >= K (1 elsewhere)
        self._g = np.zeros((n, L))
        self._g_rec = self._g[:, m + 1 + k :]
        self._fp_cols = np.ones(L)
        self._fp_cols_rec = self._fp_cols[m + 1 + k :]
        # the (K, N, L) product of the output rule needs scratch; with K = 1 that is
        # the next p_egr buffer, which the egress rule then overwrites whole
        self._tmp = (
            [nx[None] for nx in (self._egr[1], self._egr[0])]
            if k == 1
            else [np.empty((k, n, L))] * 2
        )
        flat = self._p_out.reshape(-1)
        # p_out[k, k, :] (K, L); p_out[c, i, M+1+c] as (N, K); p_out[k, i, M+1+i] (K, N)
        self._out_diag = as_strided(flat, shape=(k, L), strides=((n * L + L) * f8, f8))
        self._out_cols = as_strided(
            flat[m + 1 :], shape=(n, k), strides=(L * f8, (n * L + 1) * f8), writeable=False
        )
        self._out_same = as_strided(flat[m + 1 :], shape=(k, n), strides=(n * L * f8, (L + 1) * f8))
        # per parity of the step: (p_egr now, its rows i >= K, p_egr next, its neuron
        # columns c < K, its diagonal c = i)
        self._egr_v = [
            (e, e[k:], nx, nx[:, m + 1 : m + 1 + k], _diag_view(nx, m))
            for e, nx in ((self._egr[0], self._egr[1]), (self._egr[1], self._egr[0]))
        ]
        self._wv_of: np.ndarray | None = None
        # the numba kernel (imported here, not with this module: numba takes ~0.2 s to
        # import) and its scratch: f', lr * e, a gradient row
        self._fp, self._le, self._grad_row = np.empty(n), np.empty(k), np.empty(L)
        if self.kernel == "numba":
            from trtrl.pymodel.models.trtrl_kernel import trtrl_learn

            self._trtrl_learn = trtrl_learn

    def _weight_views(self) -> None:
        """Views of ``self.w`` the step uses; rebuilt only if ``w`` was replaced."""
        w = self.w
        m, k = self.shape.m, self.shape.k
        # output rows; non-output rows; [i, c-K] = W[c, M+1+i] for c >= K
        self._wv = (w[:k], w[k:], w[k:, m + 1 :].T)
        self._wv_of = w

    def _zero_sensitivities(self) -> None:
        for a in (self._p_out, self._ing, *self._egr):
            a.fill(0.0)

    def _learn(self, z: np.ndarray, y_new: np.ndarray, d: np.ndarray) -> np.ndarray:
        if self.kernel == "numpy":
            return super()._learn(z, y_new, d)
        e = np.empty(self.shape.k)
        self._trtrl_learn(self.w, z, y_new, d, self.lr, self._tanh, e, self._fp, self._le,
                          self._p_out, self._ing, self._egr[self._cur],
                          self._egr[1 - self._cur], self._a, self._grad_row)
        self._cur = 1 - self._cur
        return e

    def _update_sensitivities(self, z: np.ndarray, fp: np.ndarray) -> None:
        k = self.shape.k
        mul, add = np.multiply, np.add
        if self.w is not self._wv_of:
            self._weight_views()
        w_out, w_in, w_rec_t = self._wv
        egr, egr_in, egr_n, egr_n_cols, egr_n_d = self._egr_v[self._cur]
        ing, ing_in = self._ing, self._ing_in
        fp_out, fp_in = fp[:k, None], fp[k:]
        p_out, out_diag = self._p_out, self._out_diag

        # Outputs, T = {i} U {c}, from the old p_ing and p_egr: f' folded into the K
        # weight rows, then two K*N*L products. At c = i both products are the same
        # term, so that entry is then set to the single one.
        mul(w_out, fp_out, out=self._a)
        tmp = self._tmp[self._cur]
        mul(self._a_cols, egr, out=tmp)
        mul(self._a_rows, ing, out=p_out)
        add(p_out, tmp, out=p_out)
        mul(self._a_rec, self._ing_d, out=self._out_same)
        add(out_diag, mul(fp_out, z, out=self._fz), out=out_diag)  # delta_ki z_j

        # Egress, T = {i}, from the old p_ing: [i, M+1+c] = f'_c (W[c, M+1+i]
        # p_ing[i, M+1+c]) for c >= K as products of whole rows (g is 0 on the other
        # columns). The one transpose of the step is a plain copy of the (N, N-K)
        # weights (a strided operand would slow the multiply down threefold).
        np.copyto(self._g_rec, w_rec_t)
        self._fp_cols_rec[:] = fp_in
        mul(self._g, ing, out=egr_n)
        mul(egr_n, self._fp_cols, out=egr_n)
        egr_n_cols[:] = self._out_cols  # c < K: the output quantity p^c_ij

        # Ingress rows i >= K, T = {c}, in place from the old p_egr (whose c = i slot
        # holds p^i_ij itself); rows i < K are the output quantity p^i_ij.
        mul(w_in, egr_in, out=ing_in)
        add(ing_in, z, out=ing_in)
        mul(ing_in, fp_in[:, None], out=ing_in)
        ing[:k] = out_diag
        egr_n_d[:] = self._ing_d  # c = i: the ingress quantity

        self._cur = 1 - self._cur

    def _update_weights(self, e: np.ndarray) -> None:
        # only output sensitivities carry gradient: sum_{k<K} e_k p^k_ij. The gradient
        # goes to the p_egr buffer of the previous step, free until the next step.
        grad = self._egr[1 - self._cur]
        if self.shape.k == 1:
            # (lr e_0) p^0_ij: the same single product per entry as the einsum below
            np.multiply(self._p_out[0], self.lr * e[0], out=grad)
        else:
            # einsum, not np.dot: a BLAS gemv this long goes multi-threaded, and thread
            # wake-ups under load cost milliseconds, far more than the work itself.
            np.einsum("k,kn->n", self.lr * e, self._p_out_flat, out=grad.reshape(-1))
        np.add(self.w, grad, out=self.w)

    def sensitivities(self) -> dict[str, np.ndarray]:
        """``p_out`` (K,N,L), ``p_ing`` (N,L), ``p_egr`` (N,L) per FIXED_POINT.md."""
        p_egr = self._egr[self._cur].copy()
        p_egr[:, : self.shape.m + 1] = 0.0  # input and bias columns (no -0.0)
        return {"p_out": self._p_out.copy(), "p_ing": self._ing.copy(), "p_egr": p_egr}

    def multiplies_per_step(self) -> int:
        """Forward (N*L + N for f'); outputs: K*L to scale W rows by f', 2*K*N*L
        products, K*N to redo the c = i entries, K*L for f'*z; egress: 2*N*L for the
        row products and the f' scaling (g is 0 on the other columns); ingress rows
        i >= K: 2*(N-K)*L; weight update: K for lr*e and K*N*L for (lr e).p. Copies
        of coinciding quantities cost no multiply."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        out = k * L + 2 * k * n * L + k * n + k * L
        sens = out + 2 * n * L + 2 * (n - k) * L
        weights = k + k * n * L
        return self._forward_multiplies() + sens + weights

    def stored_sensitivities(self) -> int:
        """``(K + 2) * N * L``: the three arrays of the layout (the spec's figure).

        Coinciding quantities count in each place they belong, so this counts words,
        not distinct values; the second egress buffer and the scratch arrays are not
        counted."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        return (k + 2) * n * L
