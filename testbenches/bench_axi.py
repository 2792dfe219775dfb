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

import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import AXI_TOP
from trtrl.rtl.manifest import Manifest
from trtrl.testbenches.batch import LEARN_HEX, SAMPLES_HEX, write_batch_harness, write_hex
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


def plain_rate(man_path: Path, verilog: Path, stim_path: Path, sim: str,
               work: Path) -> tuple[float, int]:
    """(steps/s, steps) of the stand-alone harness: the design with no Python attached."""
    import numpy as np

    from trtrl.rtl.regmap import RegisterMap
    from trtrl.rtl.toolchain import verilator_env

    man = Manifest.read(man_path)
    stim = np.load(stim_path)
    x_q, d_q, w0_q = stim["x_q"], stim["d_q"], stim["w0_q"]
    steps = int(x_q.shape[0])
    rmap = RegisterMap.from_json(man.details["registers"])
    control = rmap.encode("CONTROL", LEARN_FROM_TUSER=1, LR_SHIFT=int(stim["lr_shift"]))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tw = int(man.details["streams"]["tdata_bits"])
    harness = write_batch_harness(man, work / "plain.v", steps, plain=(steps, control))
    write_hex(work / SAMPLES_HEX, [int(v) for t in range(steps) for v in (*x_q[t], *d_q[t])],
              tw)
    learn = stim["learn_steps"] if "learn_steps" in stim.files else [1] * steps
    write_hex(work / LEARN_HEX, [int(v) for v in learn], 1)
    write_hex(work / "weights.hex", [int(v) for v in np.asarray(w0_q).ravel()], 32)
    if sim == "icarus":
        build = ["iverilog", "-g2005", "-o", "plain.vvp", str(harness), str(verilog)]
        run = ["vvp", "-n", "plain.vvp"]
    else:
        verilator_env()
        build = ["verilator", "--binary", "--timing", "-CFLAGS", "-std=c++20 -fcoroutines",
                 "-O3", "-Wno-fatal", "-Wno-lint",
                 "-Wno-style", "--top-module", "trtrl_axi_batch", "-Mdir", "obj",
                 str(harness), str(verilog)]
        run = ["obj/Vtrtrl_axi_batch"]
    proc = subprocess.run(build, cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TrtrlError(f"plain harness: build failed: {proc.stderr[-800:]}")

    def timed(n: int) -> float:
        t0 = time.perf_counter()
        proc = subprocess.run([*run, f"+steps={n}"], cwd=work, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or f"TRTRL_PLAIN steps={n} proto_errors=0" not in proc.stdout:
            raise TrtrlError(f"plain harness on {sim}: {proc.stdout[-400:]}{proc.stderr[-400:]}")
        return wall

    # the streaming alone: a one-step run times the process start and the weight load.
    # Best of three on Verilator, whose runs take a fraction of a second (one run would
    # measure the machine's other load as much as the design); Icarus runs take seconds.
    repeats = 3 if sim == "verilator" else 1

    def best(n: int) -> float:
        return min(timed(n) for _ in range(repeats))

    wall = best(steps) - best(1) if steps > 1 else best(steps)
    return (steps - 1 if steps > 1 else steps) / max(wall, 1e-9), steps


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


__all__ = ["AxiBenchRow", "GOAL", "bench", "format_rows", "plain_rate"]
