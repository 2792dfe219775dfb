"""A plain-Python transcription of ``pymodel/FIXED_POINT.md``, loop by loop.

Deliberately independent of ``pymodel/fixed/model.py``: Python ints (no NumPy in a
step, no overflow possible), explicit loops over ``i``, ``j`` and ``k in S_ij``, and
the sets ``S_ij`` and ``T`` built as Python sets, so a neuron in a set for two reasons
is one entry. Each kept ``p^k_ij`` lives once in a dict keyed by ``(k, i, j)``, so its
clamps are counted once, exactly as the page says. Only the LUT table itself is
shared (it is data, checked separately against the float function).
"""

from __future__ import annotations

from collections import Counter


def _rshift_round(v: int, s: int) -> int:
    return v if s == 0 else (v + (1 << (s - 1))) >> s  # Python >> floors: arithmetic shift


class LoopTRTRL:
    """Slow reference; same constructor idea as FixedTRTRL but with plain ints."""

    def __init__(self, w0_q, m: int, k: int, cfg, lr_shift: int, learn: bool, lut) -> None:
        self.n = len(w0_q)
        self.m, self.k = m, k
        self.L = m + 1 + self.n
        self.cfg = cfg
        self.lr_shift = lr_shift
        self.learn = learn
        self.lut = [int(v) for v in lut]
        self.w = [[int(v) for v in row] for row in w0_q]
        self.y = [0] * self.n
        self.p: dict[tuple[int, int, int], int] = {}
        for i in range(self.n):
            for j in range(self.L):
                for kk in self.kept(i, j):
                    self.p[(kk, i, j)] = 0
        self.sat = 0
        self.sat_kinds: Counter[str] = Counter()  # events per clamp kind, for the tests

    def nj(self, j: int) -> int | None:
        return j - (self.m + 1) if j >= self.m + 1 else None

    def kept(self, i: int, j: int) -> set[int]:
        s = {i} | set(range(self.k))
        if self.nj(j) is not None:
            s.add(self.nj(j))
        return s

    def T(self, kk: int, i: int, j: int) -> set[int]:  # the spec's name
        nj = self.nj(j)
        if kk < self.k:
            return {i} | ({nj} if nj is not None else set())
        if kk == i:
            return {nj} if nj is not None else set()
        assert kk == nj and kk != i
        return {i}

    def _sat(self, v: int, fmt, kind: str) -> int:
        lo, hi = -(1 << (fmt.total - 1)), (1 << (fmt.total - 1)) - 1
        if v < lo or v > hi:
            self.sat += 1
            self.sat_kinds[kind] += 1
            return lo if v < lo else hi
        return v

    def step(self, x, d) -> tuple[list[int], list[int]]:
        cfg = self.cfg
        A, W, P = cfg.act, cfg.weight, cfg.sens
        one = 1 << A.frac
        z = [int(v) for v in x] + [one] + list(self.y)
        # 1. forward
        y_new, fp = [], []
        half = 1 << (cfg.lut_bits - 1)
        for i in range(self.n):
            s = 0
            for j in range(self.L):
                s += self.w[i][j] * z[j]
            assert abs(s) < (1 << (cfg.acc_bits - 1)) or s == -(1 << (cfg.acc_bits - 1))
            idx = min(max((s >> cfg.lut_shift) + half, 0), (1 << cfg.lut_bits) - 1)
            y_new.append(self.lut[idx])
        for i in range(self.n):
            yi = y_new[i]
            if cfg.activation == "tanh":
                fp.append(self._sat(one - _rshift_round(yi * yi, A.frac), A, "fp"))
            else:
                fp.append(self._sat(_rshift_round(yi * (one - yi), A.frac), A, "fp"))
        # 2. sensitivities from the old state
        new_p: dict[tuple[int, int, int], int] = {}
        for i in range(self.n):
            for j in range(self.L):
                for kk in sorted(self.kept(i, j)):
                    acc = 0
                    for lj in self.T(kk, i, j):
                        acc += self.w[kk][self.m + 1 + lj] * self.p[(lj, i, j)]
                    if kk == i:
                        acc += z[j] << (W.frac + P.frac - A.frac)
                    inner = self._sat(_rshift_round(acc, W.frac), P, "inner")
                    new_p[(kk, i, j)] = self._sat(
                        _rshift_round(fp[kk] * inner, A.frac), P, "p"
                    )
        # 3. errors
        e = [self._sat(int(d[kk]) - y_new[kk], A, "e") for kk in range(self.k)]
        # 4. weights
        if self.learn:
            sh = A.frac + P.frac - W.frac + self.lr_shift
            for i in range(self.n):
                for j in range(self.L):
                    g = sum(e[kk] * new_p[(kk, i, j)] for kk in range(self.k))
                    self.w[i][j] = self._sat(self.w[i][j] + _rshift_round(g, sh), W, "w")
        self.p = new_p
        self.y = y_new
        return list(y_new), e

    def layout(self) -> tuple[list, list, list]:
        """``p_out`` (K, N, L), ``p_ing`` (N, L), ``p_egr`` (N, L) as nested lists."""
        p_out = [
            [[self.p[(kk, i, j)] for j in range(self.L)] for i in range(self.n)]
            for kk in range(self.k)
        ]
        p_ing = [[self.p[(i, i, j)] for j in range(self.L)] for i in range(self.n)]
        p_egr = [
            [self.p[(self.nj(j), i, j)] if self.nj(j) is not None else 0 for j in range(self.L)]
            for i in range(self.n)
        ]
        return p_out, p_ing, p_egr
