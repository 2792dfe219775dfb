"""The testbench is tested: a deliberately wrong design must fail the scoreboard.

Each fault (:mod:`testbenches.faults`) edits a copy of the generated Verilog; the same
cocotb test then has to fail with a scoreboard mismatch. The stimulus drives the array
into its clamps (targets near the edge of format A, weights near the edge of W, a large
learning rate), so saturation faults are exercised; the unmutated control must pass.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from trtrl.rtl.config import AXI_TOP
from trtrl.testbenches.configs import FAULT_CFG
from trtrl.testbenches.faults import FAULTS
from trtrl.testbenches.pytest_support import record
from trtrl.testbenches.runner import run_case
from trtrl.testbenches.scoreboard import MISMATCH_TAG


def test_fault_control_passes(request: pytest.FixtureRequest) -> None:
    """The unmutated design passes the same stimulus, and its clamps do fire (its
    functional coverage counts: the error and weight bounds are reached here)."""
    res = run_case(FAULT_CFG, "icarus")
    record(request, res)
    assert res.passed, res.message
    assert res.extra["sat_count"] > 0


@pytest.mark.parametrize("fault", sorted(FAULTS), ids=lambda f: f"{f}-icarus")
def test_fault_detected(fault: str) -> None:
    """The mutated design must fail with a scoreboard mismatch (not a crash or timeout)."""
    res = run_case(FAULT_CFG, "icarus", mutate=FAULTS[fault], tag=f"-{fault}",
                   rerun_with_waves=False)
    assert not res.passed, f"fault {fault!r} was not detected by the scoreboard"
    assert MISMATCH_TAG in res.message, f"fault {fault!r} failed without a mismatch:\n{res.message}"


@pytest.mark.parametrize("fault", sorted(FAULTS), ids=lambda f: f"{f}-axi-icarus")
def test_fault_detected_through_axi(fault: str) -> None:
    """The same faults in the core inside the AXI top, batched: the batch check
    (one comparison per batch) must still fail with the per-step mismatch message."""
    cfg = replace(FAULT_CFG, top=AXI_TOP, checkpoint_every=20)
    res = run_case(cfg, "icarus", mutate=FAULTS[fault], tag=f"-{fault}-axi", batched=True,
                   rerun_with_waves=False)
    assert not res.passed, f"fault {fault!r} was not detected through the AXI top"
    assert MISMATCH_TAG in res.message, f"fault {fault!r} failed without a mismatch:\n{res.message}"
