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

from pymodel.models.base import OnlineModel


def _diag_view(a: np.ndarray, m: int) -> np.ndarray:
    """View of the entries ``a[i, M+1+i]`` (weight from neuron i to itself) of an (N, L)
    C-contiguous array: a strided slice, so no fancy indexing inside a step."""
    n, L = a.shape
    return a.reshape(-1)[m + 1 :: L + 1][:n]


class TRTRLModel(OnlineModel):
    """Float64 TRTRL with sensitivities ``p_out`` (K,N,L), ``p_ing`` (N,L), ``p_egr`` (N,L).

    Internally the egress array keeps 0 where ``c = i`` (that quantity is ``p_ing``'s),
    which is exactly what the output rule needs to count ``c = i`` once; the public
    ``p_egr`` is filled in from ``p_ing`` by ``sensitivities()``.
    """

    algorithm = "trtrl"

    def _allocate(self) -> None:
        n, m, k, L = self.shape.n, self.shape.m, self.shape.k, self.shape.L
        f8 = np.dtype(np.float64).itemsize
        # p_out is updated in place: its old value is never read by any recursion.
        self._p_out = np.zeros((k, n, L))
        # ingress/egress are double-buffered: their old values feed every recursion.
        # Egress input/bias columns are never written and stay 0.
        self._ing = [np.zeros((n, L)), np.zeros((n, L))]
        self._egr = [np.zeros((n, L)), np.zeros((n, L))]
        self._ing_d = [_diag_view(a, m) for a in self._ing]
        self._egr_d = [_diag_view(a, m) for a in self._egr]
        self._cur = 0
        self._tmp = np.empty((k, n, L))
        self._a = np.empty((k, L))  # f'-scaled weight rows of the outputs
        self._fw = np.empty((n - k, n))  # f'-scaled recurrent weights of non-outputs
        self._grad = np.empty(n * L)
        # p_out[k, k, :] (K, L) and p_out[c, i, M+1+c] as (K, N): strided views
        flat = self._p_out.reshape(-1)
        self._out_diag = as_strided(flat, shape=(k, L), strides=((n * L + L) * f8, f8))
        self._out_cols = as_strided(
            flat[m + 1 :], shape=(k, n), strides=((n * L + 1) * f8, L * f8), writeable=False
        )

    def _zero_sensitivities(self) -> None:
        for a in (self._p_out, *self._ing, *self._egr):
            a.fill(0.0)

    def _update_sensitivities(self, z: np.ndarray, fp: np.ndarray) -> None:
        m, k = self.shape.m, self.shape.k
        w = self.w
        cur, nxt = self._cur, 1 - self._cur
        ing, egr, ing_n, egr_n = self._ing[cur], self._egr[cur], self._ing[nxt], self._egr[nxt]
        ing_d, ing_n_d = self._ing_d[cur], self._ing_d[nxt]

        # Outputs, T = {i} U {c}: f' folded into the K weight rows, then two K*N*L
        # products; egr is 0 where c = i, so that term is counted once.
        a = np.multiply(w[:k], fp[:k, None], out=self._a)
        p_out = np.multiply(a[:, m + 1 :, None], ing, out=self._p_out)
        p_out += np.multiply(a[:, None, :], egr, out=self._tmp)
        self._out_diag += fp[:k, None] * z  # delta_ki z_j

        # Ingress, rows i >= K, T = {c}; at c = i the egress slot is p_ing itself.
        # Rows i < K are the output quantity p^i_ij.
        np.multiply(w[k:], egr[k:], out=ing_n[k:])
        ing_n_d[k:] += _diag_view(w, m)[k:] * ing_d[k:]
        ing_n[k:] += z
        ing_n[k:] *= fp[k:, None]
        ing_n[:k] = self._out_diag

        # Egress, neuron columns: c >= K by the rule T = {i}; c < K is p_out[c];
        # c = i is left 0 here (it is the ingress quantity).
        # [i, c-K] = f'_c W[c, M+1+i] p_ing[i, M+1+c]: the one transpose of the step,
        # done once on a contiguous product (strided ufunc operands are slow).
        fw = np.multiply(w[k:, m + 1 :], fp[k:, None], out=self._fw)
        np.multiply(fw.T, ing[:, m + 1 + k :], out=egr_n[:, m + 1 + k :])
        egr_n[:, m + 1 : m + 1 + k] = self._out_cols.T
        self._egr_d[nxt][:] = 0.0

        self._cur = nxt

    def _update_weights(self, e: np.ndarray) -> None:
        # only output sensitivities carry gradient: sum_{k<K} e_k p^k_ij
        k = self.shape.k
        # einsum, not np.dot: a BLAS gemv this long goes multi-threaded, and thread
        # wake-ups under load cost milliseconds, far more than the work itself.
        np.einsum("k,kn->n", self.lr * e, self._p_out.reshape(k, -1), out=self._grad)
        self.w += self._grad.reshape(self.w.shape)

    def sensitivities(self) -> dict[str, np.ndarray]:
        """``p_out`` (K,N,L), ``p_ing`` (N,L), ``p_egr`` (N,L) per FIXED_POINT.md."""
        m = self.shape.m
        p_ing = self._ing[self._cur].copy()
        p_egr = self._egr[self._cur].copy()
        _diag_view(p_egr, m)[:] = _diag_view(p_ing, m)  # c = i: the ingress value
        return {"p_out": self._p_out.copy(), "p_ing": p_ing, "p_egr": p_egr}

    def multiplies_per_step(self) -> int:
        """Forward (N*L + N for f'); outputs: K*L to scale W rows by f', 2*K*N*L
        products, K*L for f'*z; ingress rows i >= K: 2*(N-K)*L + (N-K) for the c = i
        term; egress columns c >= K: 2*N*(N-K); weight update: K for lr*e and K*N*L
        for (lr e).p. Copies of coinciding quantities cost no multiply."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        sens = k * L + 2 * k * n * L + k * L + 2 * (n - k) * L + (n - k) + 2 * n * (n - k)
        weights = k + k * n * L
        return self._forward_multiplies() + sens + weights

    def stored_sensitivities(self) -> int:
        """``(K + 2) * N * L``: the three arrays of the layout (the spec's figure).

        Coinciding quantities count in each place they belong, so this counts words,
        not distinct values; the second (scratch) buffers are not counted."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        return (k + 2) * n * L
