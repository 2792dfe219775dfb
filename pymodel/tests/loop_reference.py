"""Loop-by-loop transcription of ``docs/spec.md``, the yardstick for the vectorised models.

Deliberately naive: scalars in Python lists, sensitivities in a dict keyed by
``(k, i, j)`` holding exactly the set ``S_ij`` (so a neuron that is in the set for
two reasons is one entry), and the sum over ``T`` written as a loop over a Python
set. Nothing here is shared with ``pymodel.models`` except the sizes.
"""

from __future__ import annotations

import math

import numpy as np


class LoopModel:
    """RTRL, TRTRL or SnAp-1, one scalar at a time, straight from the spec."""

    def __init__(
        self, algorithm: str, w0: np.ndarray, m: int, k: int, lr: float, activation: str = "tanh"
    ) -> None:
        self.algorithm = algorithm
        self.N = w0.shape[0]
        self.M = m
        self.K = k
        self.L = m + 1 + self.N
        assert w0.shape == (self.N, self.L)
        self.W = [[float(v) for v in row] for row in w0]
        self.lr = float(lr)
        self.activation = activation
        self.y = [0.0] * self.N
        # every kept sensitivity starts at 0
        self.p: dict[tuple[int, int, int], float] = {}
        for i in range(self.N):
            for j in range(self.L):
                for kk in self.kept(i, j):
                    self.p[(kk, i, j)] = 0.0

    # -- the spec's sets -----------------------------------------------------
    def n_of(self, j: int) -> int | None:
        """The neuron driving column j, or None for input and bias columns."""
        return j - (self.M + 1) if j >= self.M + 1 else None

    def kept(self, i: int, j: int) -> set[int]:
        """S_ij: the k for which p^k_ij is kept."""
        if self.algorithm == "rtrl":
            return set(range(self.N))
        if self.algorithm == "snap1":
            return {i}
        s = {i} | set(range(self.K))
        if self.n_of(j) is not None:
            s.add(self.n_of(j))
        return s

    def T(self, k: int, i: int, j: int) -> set[int]:
        """The set T summed over in the update of p^k_ij."""
        c = self.n_of(j)
        if self.algorithm == "rtrl":
            return set(range(self.N))
        if self.algorithm == "snap1":
            return {i}
        if k < self.K:  # output sensitivity
            return {i} | ({c} if c is not None else set())
        if k == i:  # ingress
            return {c} if c is not None else set()
        assert k == c and k != i  # egress
        return {i}

    # -- one step -------------------------------------------------------------
    def f(self, s: float) -> float:
        if self.activation == "tanh":
            return math.tanh(s)
        return 1.0 / (1.0 + math.exp(-s))

    def fprime_from_y(self, y: float) -> float:
        if self.activation == "tanh":
            return 1.0 - y * y
        return y * (1.0 - y)

    def step(self, x: list[float], d: list[float]) -> tuple[list[float], list[float]]:
        N, M, K, L, W = self.N, self.M, self.K, self.L, self.W
        # 1. forward with W(t)
        z = list(x) + [1.0] + list(self.y)
        s = [sum(W[i][j] * z[j] for j in range(L)) for i in range(N)]
        y_new = [self.f(si) for si in s]
        fp = [self.fprime_from_y(yi) for yi in y_new]
        # 2. sensitivities from W(t), p(t), z(t), f'
        new_p: dict[tuple[int, int, int], float] = {}
        for i in range(N):
            for j in range(L):
                for k in self.kept(i, j):
                    acc = 0.0
                    for l in self.T(k, i, j):  # noqa: E741 -- the spec's index name
                        acc += W[k][M + 1 + l] * self.p[(l, i, j)]
                    if k == i:
                        acc += z[j]
                    new_p[(k, i, j)] = fp[k] * acc
        self.p = new_p
        # 3. error
        e = [float(d[k]) - y_new[k] for k in range(K)]
        # 4. weights: p^k_ij = 0 for k not kept (SnAp-1's k != i)
        for i in range(N):
            for j in range(L):
                g = 0.0
                for k in range(K):
                    g += e[k] * self.p.get((k, i, j), 0.0)
                W[i][j] = W[i][j] + self.lr * g
        self.y = y_new
        return list(y_new), e

    # -- the vectorised models' layouts ---------------------------------------
    def weights(self) -> np.ndarray:
        return np.array(self.W)

    def sensitivities(self) -> dict[str, np.ndarray]:
        """Same keys and layouts as the vectorised model of this algorithm."""
        N, K, L = self.N, self.K, self.L
        if self.algorithm == "rtrl":
            p = np.zeros((N, N, L))
            for (k, i, j), v in self.p.items():
                p[k, i, j] = v
            return {"p": p}
        p_ing = np.array([[self.p[(i, i, j)] for j in range(L)] for i in range(N)])
        if self.algorithm == "snap1":
            return {"p_ing": p_ing}
        p_out = np.array(
            [[[self.p[(k, i, j)] for j in range(L)] for i in range(N)] for k in range(K)]
        )
        p_egr = np.zeros((N, L))
        for i in range(N):
            for j in range(L):
                c = self.n_of(j)
                if c is not None:
                    p_egr[i, j] = self.p[(c, i, j)]
        return {"p_out": p_out, "p_ing": p_ing, "p_egr": p_egr}
