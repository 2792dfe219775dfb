"""A reset in the middle of a run (``TbConfig.reset_at``): the core's testbench starts the
step, pulses ``rst`` half-way through it, reloads the core as at the start of a run and
goes on from that step's sample against a fresh model.

At power-up Icarus starts every register at X, so a register that lost its reset and
matters fails the plain run on an X already: of the 550 reset assignments of the fault
configuration's core, removed one at a time (when this test was written), none failed the
mid-run reset and passed the plain run. What only a reset in the middle of a run sees is
a register whose power-up value is right but which does not return to it: here the
controller's state register, initialised to its reset value (as an FPGA bitstream would)
with its reset removed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import AXI_TOP
from trtrl.rtl.folded import F_CLEAR
from trtrl.testbenches.configs import FAULT_CFG
from trtrl.testbenches.runner import run_case
from trtrl.testbenches.scoreboard import MISMATCH_TAG

RESET_CFG = replace(FAULT_CFG, name="fault_reset", reset_at=FAULT_CFG.steps // 2)

# the controller's state register (rtl/folded.py, ``ctrl``): its declaration, and the first
# assignment of its reset branch (the register goes to F_CLEAR, the clear sweep)
ST_DECL = "reg [2:0] st;"
ST_RESET = f"    if (rst) begin\n        st <= {F_CLEAR};\n"


def _state_without_reset(text: str) -> str:
    """``st`` keeps its value through ``rst`` and starts at F_CLEAR at power-up."""
    assert text.count(ST_DECL) == 1 and text.count(ST_RESET) == 1
    text = text.replace(ST_DECL, f"reg [2:0] st = {F_CLEAR};")
    return text.replace(ST_RESET, "    if (rst) begin\n")


def test_the_core_passes_a_reset_in_the_middle_of_a_step(tmp_path: Path) -> None:
    """The unmutated core: every step after the reset matches a fresh model, and the state
    read back right after the reload (a checkpoint more than the plain run)."""
    res = run_case(RESET_CFG, "icarus", build_root=tmp_path, rerun_with_waves=False)
    assert res.passed, res.message
    assert res.steps == RESET_CFG.steps and res.extra["reset_at"] == RESET_CFG.reset_at
    assert res.extra["checkpoints"] == RESET_CFG.steps + 2


def test_a_state_register_without_reset_fails_only_the_mid_run_reset(tmp_path: Path) -> None:
    """The controller's state without its reset (right at power-up) passes the plain run;
    reset in the middle of a step it goes on with the step instead of clearing, and the
    state read back after the reload differs from the fresh model's."""
    kw = {"mutate": _state_without_reset, "build_root": tmp_path, "rerun_with_waves": False,
          "tag": "-st"}
    plain = run_case(FAULT_CFG, "icarus", **kw)
    assert plain.passed, plain.message
    res = run_case(RESET_CFG, "icarus", **kw)
    assert not res.passed and MISMATCH_TAG in res.message, res.message


def test_reset_at_is_refused_for_the_axi_top_and_outside_the_run(tmp_path: Path) -> None:
    """Only the core's testbench drives it; a step the run does not have is an error
    (both before anything is simulated)."""
    with pytest.raises(TrtrlError, match=r"reset_at\) is driven by the core's testbench only"):
        run_case(replace(RESET_CFG, top=AXI_TOP), "icarus", build_root=tmp_path)
    with pytest.raises(TrtrlError, match="reset_at: step 40 is not one of the run's 40 steps"):
        run_case(replace(RESET_CFG, reset_at=FAULT_CFG.steps), "icarus", build_root=tmp_path)
