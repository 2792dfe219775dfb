"""Full RTRL (Williams & Zipser 1989): every ``p^k_ij``, the exact online gradient.

The recursion ``p^k(t+1) = f'_k [sum_l W[k, M+1+l] p^l(t) + delta_ik z]`` is one
``(N x N) @ (N x N*L)`` matrix product. ``f'`` is folded into the (small) weight
matrix before the product, ``(f' * W_r) @ p``, so the big array is touched once by
BLAS and once more only on its ``k = i`` diagonal: no full-size temporaries.
"""

from __future__ import annotations

import numpy as np

from trtrl.pymodel.models.base import OnlineModel


class RTRLModel(OnlineModel):
    """Float64 RTRL; ``sensitivities()["p"]`` is ``(N, N, L)`` indexed ``[k, i, j]``."""

    algorithm = "rtrl"

    def _allocate(self) -> None:
        n, L = self.shape.n, self.shape.L
        # Two buffers, swapped each step: the product cannot be written in place.
        self._p = np.zeros((n, n * L))
        self._p_next = np.zeros((n, n * L))
        self._ws = np.empty((n, n))  # f'-scaled recurrent weights
        self._ar = np.arange(n)
        self._grad = np.empty(n * L)

    def _zero_sensitivities(self) -> None:
        self._p.fill(0.0)
        self._p_next.fill(0.0)

    def _update_sensitivities(self, z: np.ndarray, fp: np.ndarray) -> None:
        n, L = self.shape.n, self.shape.L
        np.multiply(self.w[:, self.shape.m + 1 :], fp[:, None], out=self._ws)
        np.matmul(self._ws, self._p, out=self._p_next)
        # delta_ik z_j term, scaled by f'_k: only the N*L entries with k == i.
        p3 = self._p_next.reshape(n, n, L)
        p3[self._ar, self._ar, :] += fp[:, None] * z[None, :]
        self._p, self._p_next = self._p_next, self._p

    def _update_weights(self, e: np.ndarray) -> None:
        k = self.shape.k
        # einsum, not np.dot: same contraction as TRTRL's (bitwise equal at N = 1), and
        # no BLAS thread wake-ups for a long, thin gemv.
        np.einsum("k,kn->n", self.lr * e, self._p[:k], out=self._grad)
        self.w += self._grad.reshape(self.w.shape)

    def sensitivities(self) -> dict[str, np.ndarray]:
        """``{"p": (N, N, L)}``, ``p[k, i, j] = p^k_ij(t)`` = dy_k(t)/dW[i, j]."""
        n, L = self.shape.n, self.shape.L
        return {"p": self._p.reshape(n, n, L).copy()}

    def multiplies_per_step(self) -> int:
        """Forward (N*L + N for f'), sensitivities (N*N to scale W_r by f', N^3*L in the
        product, N*L for f'*z), weight update (K for lr*e, K*N*L for (lr e).p)."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        sens = n * n + n**3 * L + n * L
        weights = k + k * n * L
        return self._forward_multiplies() + sens + weights

    def stored_sensitivities(self) -> int:
        """``N * N * L``: every ``p^k_ij`` (the second, scratch buffer not counted)."""
        n, L = self.shape.n, self.shape.L
        return n * n * L
