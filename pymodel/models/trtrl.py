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

from pymodel.models.base import OnlineModel


class TRTRLModel(OnlineModel):
    """Float64 TRTRL with sensitivities ``p_out`` (K,N,L), ``p_ing`` (N,L), ``p_egr`` (N,L)."""

    algorithm = "trtrl"

    def _allocate(self) -> None:
        n, m, k, L = self.shape.n, self.shape.m, self.shape.k, self.shape.L
        self._p_out = np.zeros((k, n, L))  # updated in place: its old value is never read
        # ingress/egress: double-buffered, their old values feed every recursion
        self._p_ing = np.zeros((n, L))
        self._p_egr = np.zeros((n, L))
        self._ing_next = np.zeros((n, L))
        self._egr_next = np.zeros((n, L))  # input/bias columns are never written: stay 0
        self._egr_od = np.empty((n, L))  # p_egr with the c == i entries zeroed
        self._tmp = np.empty((k, n, L))
        self._a = np.empty((k, L))  # f'-scaled weight rows of the outputs
        self._grad = np.empty(n * L)
        self._ar_n = np.arange(n)
        self._ar_k = np.arange(k)
        self._diag_col = m + 1 + self._ar_n  # column j with n(j) = i, for row i
        self._out_col = m + 1 + self._ar_k  # columns driven by the outputs

    def _zero_sensitivities(self) -> None:
        for a in (self._p_out, self._p_ing, self._p_egr, self._ing_next, self._egr_next):
            a.fill(0.0)

    def _update_sensitivities(self, z: np.ndarray, fp: np.ndarray) -> None:
        m, k = self.shape.m, self.shape.k
        w = self.w
        ing, egr = self._p_ing, self._p_egr
        ing_n, egr_n = self._ing_next, self._egr_next
        ar_n, ar_k, diag_col = self._ar_n, self._ar_k, self._diag_col

        # Outputs: f' folded into the K weight rows, then two K*N*L products.
        a = np.multiply(w[:k], fp[:k, None], out=self._a)
        p_out = np.multiply(a[:, m + 1 :, None], ing[None, :, :], out=self._p_out)
        egr_od = self._egr_od
        np.copyto(egr_od, egr)
        egr_od[ar_n, diag_col] = 0.0  # T is a set: l = i = c counted once (already above)
        p_out += np.multiply(a[:, None, :], egr_od[None, :, :], out=self._tmp)
        p_out[ar_k, ar_k, :] += fp[:k, None] * z[None, :]

        # Ingress: rows i >= K by their own rule, rows i < K are the output p^i_ij.
        np.multiply(w[k:], egr[k:], out=ing_n[k:])
        ing_n[k:] += z
        ing_n[k:] *= fp[k:, None]
        ing_n[:k] = p_out[ar_k, ar_k, :]

        # Egress (neuron columns only): c >= K by the rule; c < K is p_out[c];
        # c == i is the ingress value.
        wr_t = w[k:, m + 1 :].T  # wr_t[i, c-K] = W[c, M+1+i]
        ev = egr_n[:, m + 1 + k :]
        np.multiply(wr_t, fp[None, k:], out=ev)
        ev *= ing[:, m + 1 + k :]
        egr_n[:, self._out_col] = p_out[ar_k, :, self._out_col].T
        egr_n[ar_n, diag_col] = ing_n[ar_n, diag_col]

        self._p_ing, self._ing_next = ing_n, ing
        self._p_egr, self._egr_next = egr_n, egr

    def _update_weights(self, e: np.ndarray) -> None:
        # only output sensitivities carry gradient: sum_{k<K} e_k p^k_ij
        k = self.shape.k
        np.dot(e, self._p_out.reshape(k, -1), out=self._grad)
        self._grad *= self.lr
        self.w += self._grad.reshape(self.w.shape)

    def sensitivities(self) -> dict[str, np.ndarray]:
        """``p_out`` (K,N,L), ``p_ing`` (N,L), ``p_egr`` (N,L) per FIXED_POINT.md."""
        return {
            "p_out": self._p_out.copy(),
            "p_ing": self._p_ing.copy(),
            "p_egr": self._p_egr.copy(),
        }

    def multiplies_per_step(self) -> int:
        """Forward (N*L + N for f'); outputs: K*L to scale W rows by f', 2*K*N*L
        products, K*L for f'*z; ingress rows i >= K: 2*(N-K)*L; egress columns c >= K:
        2*N*(N-K); weight update: K*N*L for e.p and N*L for lr. Copies of coinciding
        quantities cost no multiply."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        sens = k * L + 2 * k * n * L + k * L + 2 * (n - k) * L + 2 * n * (n - k)
        weights = k * n * L + n * L
        return self._forward_multiplies() + sens + weights

    def stored_sensitivities(self) -> int:
        """``(K + 2) * N * L``: the three arrays as kept (the spec's storage figure).

        Coinciding quantities are stored in each place they belong, so this counts
        words, not distinct values; scratch buffers are not counted."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        return (k + 2) * n * L
