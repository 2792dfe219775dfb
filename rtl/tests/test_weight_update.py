"""W2/W3's weight update (rtl/folded.py: _weight_update), simulated on its own against
``sat_W(W + dW)``: the narrow sum, and the branch for a gradient too large for it, which
the co-simulations do not reach (their gradients stay within twice W's range)."""

from __future__ import annotations

import itertools
import random

import pytest
from myhdl import ResetSignal, Signal, always, block, delay, instance, intbv

from trtrl.rtl.folded import _weight_update


def _cases(dp: int, wt: int, seed: int) -> list[tuple[int, int]]:
    wmin, wmax = -(1 << (wt - 1)), (1 << (wt - 1)) - 1
    dmin, dmax = -(1 << (dp - 1)), (1 << (dp - 1)) - 1
    olds = {wmin, wmin + 1, -1, 0, 1, wmax - 1, wmax}
    deltas = {dmin, dmax, 0, 1, -1}
    for edge in (1 << wt, -(1 << wt), 1 << (wt + 1), -(1 << (wt + 1))):
        deltas.update(edge + d for d in (-2, -1, 0, 1, 2))  # where w2_big switches
    cases = set(itertools.product(olds, deltas))
    for w in olds:  # exactly on, one inside and one beyond each clamp
        for bound in (wmin, wmax):
            cases.update((w, bound - w + d) for d in (-1, 0, 1))
    rng = random.Random(seed)
    for _ in range(400):
        w = rng.randint(wmin, wmax)
        span = rng.choice((wt - 1, wt, wt + 1, wt + 2, dp - 1))
        cases.add((w, rng.randint(-(1 << span), (1 << span) - 1)))
    return sorted((w, d) for w, d in cases if dmin <= d <= dmax)


@pytest.mark.parametrize("dp,wt", [(49, 18), (40, 16), (12, 4)])
def test_weight_update_matches_the_clamp(dp: int, wt: int) -> None:
    """Every (W, dW) pair (both clamps, exactly on them, one off, dW around the narrow
    sum's limits, dW as wide as the gradient sum) gives ``sat_W(W + dW)`` and its event."""
    wmin, wmax = -(1 << (wt - 1)), (1 << (wt - 1)) - 1
    cases = _cases(dp, wt, seed=dp * 100 + wt)
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    dw = Signal(intbv(0, min=-(1 << (dp - 1)), max=1 << (dp - 1)))
    wold = Signal(intbv(0, min=-(1 << (wt + 1)), max=1 << (wt + 1)))
    w_new = Signal(intbv(0, min=wmin, max=wmax + 1))
    ev = Signal(bool(0))
    got: list[tuple[int, int]] = []

    @block
    def bench():
        dut = _weight_update(clk, rst, dw, wold, w_new, ev, wmin, wmax)

        @always(delay(5))
        def clock():
            clk.next = not clk

        @instance
        def drive():
            for w, d in cases:
                wold.next = w
                dw.next = d
                yield clk.posedge  # W2 takes them
                yield delay(1)  # W3's value, settled behind the W2 register
                got.append((int(w_new.val), int(ev.val)))

        return dut, clock, drive

    inst = bench()
    inst.run_sim(duration=10 * len(cases) + 20, quiet=True)
    inst.quit_sim()
    want = [(min(max(w + d, wmin), wmax), int(not wmin <= w + d <= wmax)) for w, d in cases]
    assert len(got) == len(cases)
    bad = [(c, g, e) for c, g, e in zip(cases, got, want, strict=True) if g != e]
    assert not bad, f"{len(bad)} of {len(cases)} wrong, first (W, dW), got, want: {bad[:3]}"
    big = [(w, d) for w, d in cases if not -(1 << wt) <= d < (1 << wt)]
    assert big, "no case reaches the 'too large for the narrow sum' branch"
