"""MyHDL building blocks of rtl/blocks.py, simulated on their own."""

from __future__ import annotations

import pytest
from myhdl import Signal, block, delay, instance, intbv

from trtrl.rtl.blocks import rotate


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 8, 20])
def test_rotate_every_amount(n: int, sign: int) -> None:
    """``dsts[p] == srcs[(p + sign * x) mod n]`` for every amount ``x < n`` (powers of two
    and not: the stages rotate by ``2**k mod n``)."""
    srcs = [Signal(intbv(100 + p, min=-512, max=512)) for p in range(n)]
    dsts = [Signal(intbv(0, min=-512, max=512)) for _ in range(n)]
    amount = Signal(intbv(0)[6:])
    seen: list[list[int]] = []

    @block
    def bench():
        dut = rotate(srcs, dsts, amount, sign)

        @instance
        def drive():
            for x in range(n):
                amount.next = x
                yield delay(1)
                seen.append([int(d) for d in dsts])

        return dut, drive

    sim = bench()
    sim.run_sim(quiet=True)
    sim.quit_sim()
    assert seen == [[100 + (p + sign * x) % n for p in range(n)] for x in range(n)]
