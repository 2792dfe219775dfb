"""E3/E4's and E6/E7's rounding and saturation (rtl/folded.py: the rounding register,
_fit_flags beside it, _saturate_fit behind it), simulated on their own against
rshift_round and the clamp, at and around every bound."""

from __future__ import annotations

import random

import pytest
from myhdl import ResetSignal, Signal, always_seq, block, delay, instance, intbv

from trtrl.rtl.folded import _fit_flags, _saturate_fit


def _reference(x: int, shift: int, w: int) -> tuple[int, int, int]:
    r = (x >> shift) + ((x >> (shift - 1)) & 1) if shift > 0 else x
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    clamped = min(max(r, lo), hi)
    return r, clamped, int(clamped != r)


def _operands(sw: int, shift: int, w: int, seed: int) -> list[int]:
    smin, smax = -(1 << (sw - 1)), (1 << (sw - 1)) - 1
    xs = {smin, smax, 0, -1, 1}
    half = 1 << (shift - 1) if shift > 0 else 0
    for bound in (-(1 << (w - 1)), (1 << (w - 1)) - 1, 0, -1):
        for v in (bound - 2, bound - 1, bound, bound + 1, bound + 2):
            base = v << shift
            for d in (-half - 1, -half, -1, 0, 1, half - 1, half, half + 1):
                xs.add(base + d)
    rng = random.Random(seed)
    xs.update(rng.randint(smin, smax) for _ in range(300))
    xs.update(rng.randint(-(1 << (w + shift + 1)), 1 << (w + shift + 1)) for _ in range(300))
    return sorted(x for x in xs if smin <= x <= smax)


@pytest.mark.parametrize("sw,shift,w", [(34, 14, 18), (34, 0, 18), (20, 3, 8), (12, 1, 4)])
def test_round_then_saturate_matches_the_model(sw: int, shift: int, w: int) -> None:
    """Every operand (both bounds, exactly on them, one off, with and without the rounding
    carry, random) gives the model's rounded value, clamp and event."""
    xs = _operands(sw, shift, w, seed=sw * 100 + shift)
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    src = Signal(intbv(0, min=-(1 << (sw - 1)), max=1 << (sw - 1)))
    rounded = Signal(intbv(0, min=-(1 << (sw - 1)), max=1 << (sw - 1)))
    flags = [Signal(bool(0)) for _ in range(4)]
    dst = Signal(intbv(0, min=-(1 << (w - 1)), max=1 << (w - 1)))
    ev = Signal(bool(0))
    got: list[tuple[int, int, int]] = []

    @block
    def bench():
        e6 = _fit_flags(clk, rst, src, shift, *flags, w)

        @always_seq(clk.posedge, reset=rst)
        def rounding():  # as the core's E3 and E6 write it
            if shift > 0:
                rounded.next = (src >> shift) + src[shift - 1]
            else:
                rounded.next = src
        e7 = _saturate_fit(rounded, *flags, dst, ev, -(1 << (w - 1)), (1 << (w - 1)) - 1)

        @instance
        def drive():
            for x in xs:
                src.next = x
                yield delay(1)
                clk.next = 1
                yield delay(1)
                clk.next = 0
                yield delay(1)
                got.append((int(rounded), int(dst), int(ev)))

        return e6, rounding, e7, drive

    sim = bench()
    sim.run_sim(quiet=True)
    sim.quit_sim()
    want = [_reference(x, shift, w) for x in xs]
    bad = [(x, g, r) for x, g, r in zip(xs, got, want, strict=True) if g != r]
    assert not bad, f"{len(bad)} of {len(xs)} wrong, e.g. {bad[:3]}"
