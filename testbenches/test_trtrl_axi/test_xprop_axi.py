"""No X or Z in the AXI top (shell and core) after reset and the weight load (Icarus).

The same whole-dump scan as the core's ``test_no_x_after_weight_load``
(``testbenches/xprop.py``), on the per-cycle AXI testbench's dump: every signal of the
shell and of the core below it must be 0/1 from the end of the weight load on, through
streaming with idle cycles and backpressure and the read-backs over AXI4-Lite.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from trtrl.rtl.config import AXI_TOP
from trtrl.testbenches.configs import CONFIGS
from trtrl.testbenches.runner import run_case
from trtrl.testbenches.xprop import unresolved_signals


@pytest.mark.parametrize("name", ["tiny", pytest.param("m0", marks=pytest.mark.slow)])
def test_no_x_after_weight_load_axi(name: str) -> None:
    cfg = replace(CONFIGS[name], top=AXI_TOP, steps=6, checkpoint_every=3, sims=("icarus",))
    res = run_case(cfg, "icarus", waves=True, tag="-axi-xscan", rerun_with_waves=False,
                   testcase=("learn_through_axi",))
    assert res.passed, res.message
    assert res.waves, "no waveform dump"
    loaded = res.extra["weights_loaded_ns"]
    found = unresolved_signals(res.waves, loaded)
    first = ", ".join(f"{k} at {t:.0f} ns" for k, t in sorted(found.items(),
                                                              key=lambda kv: kv[1])[:12])
    assert not found, (f"{len(found)} signals X/Z after the weight load at {loaded:.0f} ns "
                       f"(first ones: {first}); dump {res.waves}")
