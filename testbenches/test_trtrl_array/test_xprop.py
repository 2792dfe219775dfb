"""No X or Z in the array after reset and the weight load, and the testbench catches one.

Icarus is 4-state: a register or memory word read before anything was written is X there
and propagates, while Verilator (2-state) reads 0 or a random value. So these tests run
on Icarus only:

- ``test_no_x_after_weight_load``: the generated array, a few learning steps with waves,
  and every signal of the dump (internal ones too) must be 0/1 from the end of the weight
  load on (rtl/README.md), for the configurations of the matrix (K = 1, K = N, M = 0,
  N = 1, narrow and wide formats, sigmoid, N = 15).
- ``test_x_fault_detected``: a design that reads an unwritten memory word must fail with
  the testbench's X/Z message naming the output and the step, not with a scoreboard
  mismatch; the dump scan sees the X too.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from trtrl.testbenches.configs import CONFIGS, FAULT_CFG, TbConfig
from trtrl.testbenches.faults import X_FAULTS
from trtrl.testbenches.runner import run_case
from trtrl.testbenches.scoreboard import MISMATCH_TAG, XPROP_TAG
from trtrl.testbenches.xprop import unresolved_signals

STEPS = 4  # enough for every phase, both read-back paths and a learning update
N1 = TbConfig("n1", n=1, m=0, k=1, steps=STEPS)


def _scan_cases() -> list[object]:
    fast = {"tiny", "k_eq_n"}
    out = [pytest.param(N1, id="n1")]
    for name in ("tiny", "k_eq_n", "m0", "narrow", "wide", "sigmoid", "freq15"):
        cfg = replace(CONFIGS[name], steps=STEPS, checkpoint_every=2, sims=("icarus",))
        marks = [] if name in fast else [pytest.mark.slow]
        out.append(pytest.param(cfg, id=name, marks=marks))
    return out


def _listing(found: dict[str, float], limit: int = 12) -> str:
    first = sorted(found.items(), key=lambda kv: kv[1])[:limit]
    return ", ".join(f"{name} at {t:.0f} ns" for name, t in first)


@pytest.mark.parametrize("cfg", _scan_cases())
def test_no_x_after_weight_load(cfg: TbConfig) -> None:
    """Every signal of the dump is 0/1 from the end of the weight load to the end."""
    res = run_case(cfg, "icarus", waves=True, tag="-xscan", rerun_with_waves=False)
    assert res.passed, res.message
    assert res.waves, "no waveform dump"
    loaded = res.extra["weights_loaded_ns"]
    found = unresolved_signals(res.waves, loaded)
    assert not found, (f"{len(found)} signals X/Z after the weight load at {loaded:.0f} ns "
                       f"(first ones: {_listing(found)}); dump {res.waves}")


# The output that shows each X fault first and the step the message must name.
X_EXPECTED = {
    # the update multiplies the unwritten e_k word: X weights in the read-back after step 0
    "e_file_unwritten": ("m_rdata (read-back of w[", "during the read-back after step 0 "),
    # r_e copies the never-written error register at the end of step 0
    "error_register_unwritten": ("r_e is", "during step 0 "),
}


@pytest.mark.parametrize("fault", sorted(X_FAULTS))
def test_x_fault_detected(fault: str) -> None:
    """A design that reads an unwritten word fails with an X/Z message naming output and step.

    (A value mismatch would not do: the forward path hides X, the activation table's
    ``case`` maps an X index to its default entry.)
    """
    signal, step = X_EXPECTED[fault]
    cfg = replace(FAULT_CFG, name="xfault", steps=6)
    res = run_case(cfg, "icarus", mutate=X_FAULTS[fault], tag=f"-{fault}", waves=True,
                   rerun_with_waves=False)
    assert not res.passed, f"X fault {fault!r} was not detected"
    assert XPROP_TAG in res.message and MISMATCH_TAG not in res.message, res.message
    assert signal in res.message and step in res.message, res.message
    # and the whole-dump scan of test_no_x_after_weight_load fails on this design too
    found = unresolved_signals(res.waves, res.extra["weights_loaded_ns"])
    assert found, "the dump scan found no X in a design with an X on an output"
