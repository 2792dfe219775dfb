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

    Speed: at the sizes of interest (N ~ 100, K = 1) one step is ~10 NumPy calls on
    ~N*L elements plus ~15 small ones, so every call counts. All views are built
    once (``_allocate`` for the sensitivity buffers, ``_weight_views`` for ``w``), no
    call allocates, and the (N, L) operations are arranged so that the large ones
    run on contiguous operands (a broadcast operand costs the iterator one inner loop
    per row, about twice the time of a flat loop).
    """

    algorithm = "trtrl"

    def _allocate(self) -> None:
        n, m, k, L = self.shape.n, self.shape.m, self.shape.k, self.shape.L
        f8 = np.dtype(np.float64).itemsize
        # p_out is updated in place: its old value is never read by any recursion.
        self._p_out = np.zeros((k, n, L))
        self._p_out_flat = self._p_out.reshape(k, n * L)
        # ingress/egress are double-buffered: their old values feed every recursion.
        # Egress input/bias columns are never written and stay 0.
        self._ing = [np.zeros((n, L)), np.zeros((n, L))]
        self._egr = [np.zeros((n, L)), np.zeros((n, L))]
        # per buffer: ingress (full, rows i >= K, diagonal rows i >= K, neuron columns
        # c >= K); egress (full, rows i >= K, neuron columns c >= K, c < K, diagonal)
        self._ing_v = [(a, a[k:], _diag_view(a, m)[k:], a[:, m + 1 + k :]) for a in self._ing]
        self._egr_v = [
            (a, a[k:], a[:, m + 1 + k :], a[:, m + 1 : m + 1 + k], _diag_view(a, m))
            for a in self._egr
        ]
        self._cur = 0
        self._tmp = np.empty((k, n, L))
        self._a = np.empty((k, L))  # f'-scaled weight rows of the outputs
        self._a_rows = self._a[:, m + 1 :, None]  # (K, N, 1): a[k, M+1+i] for row i
        self._a_cols = self._a[:, None, :]  # (K, 1, L): a[k, j] for column j
        self._fz = np.empty((k, L))  # f'_k z_j, the delta_ki term
        self._dtmp = np.empty(n - k)  # W[i, M+1+i] p_ing[i, M+1+i], i >= K
        # g[i, c-K] = f'_c W[c, M+1+i] (c >= K): the recurrent weights of the
        # non-outputs, transposed and f'-scaled, contiguous
        self._g = np.empty((n, n - k))
        self._grad = np.empty(n * L)
        self._grad2 = self._grad.reshape(n, L)
        # p_out[k, k, :] (K, L) and p_out[c, i, M+1+c] as (N, K): strided views
        flat = self._p_out.reshape(-1)
        self._out_diag = as_strided(flat, shape=(k, L), strides=((n * L + L) * f8, f8))
        self._out_cols = as_strided(
            flat[m + 1 :], shape=(n, k), strides=(L * f8, (n * L + 1) * f8), writeable=False
        )
        self._w_id: int | None = None

    def _weight_views(self) -> tuple[np.ndarray, ...]:
        """Views of ``self.w`` the step uses, rebuilt only if ``w`` was replaced."""
        w = self.w
        if self._w_id != id(w) or self._wv[0] is not w:
            m, k = self.shape.m, self.shape.k
            self._wv = (
                w,
                w[:k],  # output rows
                w[k:],  # non-output rows
                _diag_view(w, m)[k:],  # W[i, M+1+i], i >= K
                w[k:, m + 1 :].T,  # [i, c-K] = W[c, M+1+i], c >= K
                w.reshape(-1),
            )
            self._w_id = id(w)
        return self._wv

    def _zero_sensitivities(self) -> None:
        for a in (self._p_out, *self._ing, *self._egr):
            a.fill(0.0)

    def _update_sensitivities(self, z: np.ndarray, fp: np.ndarray) -> None:
        k = self.shape.k
        mul, add = np.multiply, np.add
        _, w_out, w_in, w_in_d, w_rec_t, _ = self._weight_views()
        cur, nxt = self._cur, 1 - self._cur
        ing, _, ing_d, ing_blk = self._ing_v[cur]
        egr, egr_in, _, _, _ = self._egr_v[cur]
        ing_n, ing_n_in, ing_n_d, _ = self._ing_v[nxt]
        _, _, egr_n_blk, egr_n_cols, egr_n_d = self._egr_v[nxt]
        fp_in = fp[k:]
        p_out, tmp = self._p_out, self._tmp

        # Outputs, T = {i} U {c}: f' folded into the K weight rows, then two K*N*L
        # products; egr is 0 where c = i, so that term is counted once.
        a = mul(w_out, fp[:k, None], out=self._a)
        mul(self._a_rows, ing, out=p_out)
        mul(self._a_cols, egr, out=tmp)
        add(p_out, tmp, out=p_out)
        out_diag = self._out_diag
        add(out_diag, mul(fp[:k, None], z, out=self._fz), out=out_diag)  # delta_ki z_j

        # Ingress, rows i >= K, T = {c}; at c = i the egress slot is p_ing itself.
        # Rows i < K are the output quantity p^i_ij.
        mul(w_in, egr_in, out=ing_n_in)
        add(ing_n_d, mul(w_in_d, ing_d, out=self._dtmp), out=ing_n_d)
        add(ing_n_in, z, out=ing_n_in)
        mul(ing_n_in, fp_in[:, None], out=ing_n_in)
        ing_n[:k] = out_diag

        # Egress, neuron columns: c >= K by the rule T = {i}; c < K is p_out[c];
        # c = i is left 0 here (it is the ingress quantity).
        # [i, c-K] = f'_c W[c, M+1+i] p_ing[i, M+1+c]: the one transpose of the step
        # is on the (N, N-K) weights, written contiguous.
        g = mul(w_rec_t, fp_in, out=self._g)
        mul(g, ing_blk, out=egr_n_blk)
        egr_n_cols[:] = self._out_cols
        egr_n_d[:] = 0.0
        del a

        self._cur = nxt

    def _update_weights(self, e: np.ndarray) -> None:
        # only output sensitivities carry gradient: sum_{k<K} e_k p^k_ij
        w_flat = self._weight_views()[5]
        if self.shape.k == 1:
            # (lr e_0) p^0_ij: the same single product per entry as the einsum below
            np.multiply(self._p_out_flat[0], self.lr * e[0], out=self._grad)
        else:
            # einsum, not np.dot: a BLAS gemv this long goes multi-threaded, and thread
            # wake-ups under load cost milliseconds, far more than the work itself.
            np.einsum("k,kn->n", self.lr * e, self._p_out_flat, out=self._grad)
        np.add(w_flat, self._grad, out=w_flat)

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
