"""Scoreboarded streaming against the simulator's own rate, on the AXI top, in one run.

``trtrl bench axi`` takes one configuration (default the N=15 frequency doubler) through
each simulator three ways, one after the other:

- **plain**: the HDL batch harness alone (:mod:`trtrl.testbenches.batch`, stand-alone
  variant): weights and ``CONTROL`` written over AXI4-Lite by HDL, the samples streamed,
  ``$finish``; no Python process attached (Icarus's ``vvp``, Verilator's ``--binary``).
  Its steps/s is the rate of the design under a plain testbench: the run of all the
  steps less a run of one step (the process start and the weight load), so it times the
  streaming alone, as the scoreboarded figure does;
- **batched**: the same harness under cocotb with the scoreboard: every output of every
  step compared bit for bit with the fixed-point model (its trace computed ahead, per
  batch), the state read back before the first and after the last step, 20% idle cycles
  and 30% backpressure from the harness's LFSRs;
- **per-cycle**: ``learn_through_axi``, cocotbext-axi's stream drivers woken every cycle.

Steps/s are steps over the wall time of the streaming (excluding builds, the weight load
and the read-back; for batched, also excluding the model's precomputed trace, which
``model s`` reports). Each scoreboarded run must pass, or its figure is not a speed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import AXI_TOP
from trtrl.testbenches.configs import TbConfig
from trtrl.testbenches.dut import BUILD_ROOT

GOAL = 0.5  # batched scoreboarded steps/s over the plain rate, Verilator (the goal)


@dataclass
class AxiBenchRow:
    sim: str
    plain_steps_per_s: float | None
    batched_steps_per_s: float | None
    per_cycle_steps_per_s: float | None
    steps: int
    per_cycle_steps: int
    model_s: float | None
    message: str = ""

    @property
    def ratio(self) -> float | None:
        if self.plain_steps_per_s and self.batched_steps_per_s:
            return self.batched_steps_per_s / self.plain_steps_per_s
        return None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def bench(cfg: TbConfig, sims: tuple[str, ...], per_cycle_steps: int,
          root: Path | None = None) -> list[AxiBenchRow]:
    """The three rates of ``cfg`` (an AXI configuration) on each simulator."""
    from trtrl.testbenches.runner import run_case

    root = root or BUILD_ROOT / "bench_axi"
    cfg = replace(cfg, top=AXI_TOP, checkpoint_every=cfg.steps)
    rows = []
    for sim in sims:
        row = AxiBenchRow(sim, None, None, None, cfg.steps, per_cycle_steps, None)
        try:
            res = run_case(cfg, sim, batched=True, build_root=root, tag="-batched",
                           rerun_with_waves=False, plain=True)
            if not res.passed:
                raise TrtrlError(f"batched run failed: {res.message}")
            row.plain_steps_per_s = res.extra.get("plain_steps_per_s")
            row.batched_steps_per_s = res.extra.get("stream_steps_per_s")
            row.model_s = res.extra.get("model_wall_s")
            short = replace(cfg, steps=per_cycle_steps, checkpoint_every=per_cycle_steps)
            res = run_case(short, sim, build_root=root, tag="-per-cycle",
                           testcase=("learn_through_axi",), rerun_with_waves=False)
            if not res.passed:
                raise TrtrlError(f"per-cycle run failed: {res.message}")
            row.per_cycle_steps_per_s = res.extra.get("stream_steps_per_s")
        except TrtrlError as exc:
            row.message = str(exc)
        rows.append(row)
    return rows


def format_rows(rows: list[AxiBenchRow]) -> str:
    def f(v: float | None, spec: str = ".0f") -> str:
        return "-" if v is None else format(v, spec)

    lines = [f"{'sim':<10} {'plain steps/s':>13} {'batched':>9} {'ratio':>6} "
             f"{'per-cycle':>9} {'ratio':>6} {'model s':>8}"]
    for r in rows:
        pc = (r.per_cycle_steps_per_s / r.plain_steps_per_s
              if r.per_cycle_steps_per_s and r.plain_steps_per_s else None)
        lines.append(f"{r.sim:<10} {f(r.plain_steps_per_s):>13} {f(r.batched_steps_per_s):>9} "
                     f"{f(r.ratio, '.0%'):>6} {f(r.per_cycle_steps_per_s, '.1f'):>9} "
                     f"{f(pc, '.1%'):>6} {f(r.model_s, '.2f'):>8}"
                     + (f"  FAILED: {r.message}" if r.message else ""))
    return "\n".join(lines)


__all__ = ["AxiBenchRow", "GOAL", "bench", "format_rows"]
