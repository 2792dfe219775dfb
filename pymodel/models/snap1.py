"""SnAp-1 (Menick et al. 2021): keep only ``p^i_ij``, updated with ``T = {i}``.

``p^i_ij(t+1) = f'_i [W[i, M+1+i] p^i_ij(t) + z_j]``: every entry depends only on
itself, so the update is done in place. Since ``p^k_ij = 0`` for ``k != i`` only the
rows ``k < K`` of ``W`` (weights into outputs) ever change.
"""

from __future__ import annotations

import numpy as np

from trtrl.pymodel.models.base import OnlineModel


class SnAp1Model(OnlineModel):
    """Float64 SnAp-1; ``sensitivities()["p_ing"]`` is ``(N, L)``, ``p^i_ij``."""

    algorithm = "snap1"

    def _allocate(self) -> None:
        n, L = self.shape.n, self.shape.L
        self._p = np.zeros((n, L))
        ar = np.arange(n)
        self._self_idx = (ar, self.shape.m + 1 + ar)  # W[i, M+1+i], self-recurrence
        self._upd = np.empty((self.shape.k, L))

    def _zero_sensitivities(self) -> None:
        self._p.fill(0.0)

    def _update_sensitivities(self, z: np.ndarray, fp: np.ndarray) -> None:
        p = self._p
        p *= self.w[self._self_idx][:, None]
        p += z
        p *= fp[:, None]

    def _update_weights(self, e: np.ndarray) -> None:
        k = self.shape.k
        np.multiply(self._p[:k], (self.lr * e)[:, None], out=self._upd)
        self.w[:k] += self._upd

    def sensitivities(self) -> dict[str, np.ndarray]:
        """``{"p_ing": (N, L)}`` with ``p_ing[i, j] = p^i_ij``."""
        return {"p_ing": self._p.copy()}

    def multiplies_per_step(self) -> int:
        """Forward (N*L + N for f'), sensitivities 2*N*L, weight update K (lr*e) +
        K*L (rows k < K only)."""
        n, k, L = self.shape.n, self.shape.k, self.shape.L
        return self._forward_multiplies() + 2 * n * L + k + k * L

    def stored_sensitivities(self) -> int:
        """``N * L``: one sensitivity per weight."""
        return self.shape.n * self.shape.L
