"""`trtrl demo -o DIR`: the project's main job end to end, ending in a one-line verdict.

The hardware stage generates the Verilog of the default configuration (N = 15, M = 1,
K = 1) in its AXI shell (trtrl_axi), co-simulates it learning the frequency doubler
through its streams (the HDL batch harness, Verilator by default) against the
bit-accurate fixed-point model, and writes into DIR the Verilog, the manifest, the C
register header, learning curves of hardware vs fixed-point vs float model, a waveform
dump of a short per-cycle run (+ GTKWave save file and picture) and summary.json /
summary.md. The quick paper experiment (float
models, ~20 s) goes into DIR/paper. DIR is written under a temporary name and renamed
into place at the end, so a failure leaves no half-written folder.

The demo is a list of stages (:data:`STAGES`); each takes the output folder and the
parsed options and returns a :class:`StageResult` (a verdict line and whether it
passed). The last line printed is the overall verdict; the exit code is 1 on a failure.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trtrl.pymodel.paths import user_path


@dataclass
class StageResult:
    """Outcome of one demo stage."""

    name: str
    ok: bool
    verdict: str
    output: Path


Stage = Callable[[Path, argparse.Namespace], StageResult]


def stage_paper(out: Path, args: argparse.Namespace) -> StageResult:
    """The quick paper experiment (tuned RTRL/TRTRL/SnAp-1 comparison over seeds, timing,
    resources) into ``out/paper``; passes when the paper's "similar performance" of TRTRL
    and RTRL holds on both tasks (``--seed`` shifts its tuning and evaluation seeds)."""
    from trtrl.experiments.paper import Settings, run

    folder = out / "paper"
    summary = run(Settings.quick_defaults(seed=args.seed), folder)
    return StageResult("paper", bool(summary["similar_performance_all_tasks"]),
                       summary["verdict"], folder / "report.md")


def stage_hardware(out: Path, args: argparse.Namespace) -> StageResult:
    """Generate, co-simulate the frequency doubler, compare with the models, report."""
    from trtrl.testbenches.demo import run_hardware

    summary = run_hardware(out, steps=args.steps, sim=args.sim, seed=args.seed)
    return StageResult("hardware", bool(summary["passed"]), summary["verdict"],
                       out / "summary.md")


# Stages in run order.
STAGES: list[tuple[str, Stage]] = [("paper", stage_paper), ("hardware", stage_hardware)]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run the quick end-to-end demo and print a verdict",
                            description=__doc__)
    parser.add_argument("-o", "--output", default="out/demo", type=user_path, metavar="DIR",
                        help="folder for the demo's reports (default out/demo)")
    parser.add_argument("--seed", type=int, default=0, help="seed of tasks and weights")
    parser.add_argument("--steps", type=int, default=4000,
                        help="learning steps of the hardware co-simulation (default 4000)")
    parser.add_argument("--sim", choices=("verilator", "icarus"), default="verilator",
                        help="simulator of the learning run (default verilator; icarus is "
                        "much slower, give fewer --steps)")
    parser.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run every stage into a temporary folder renamed to DIR; end with the verdict line."""
    from trtrl.pymodel.errors import TrtrlError
    from trtrl.pymodel.report import atomic_folder

    if args.steps < 1:
        raise TrtrlError(f"--steps: must be >= 1, got {args.steps}")
    out = Path(args.output)
    results = []
    t_all = time.perf_counter()
    with atomic_folder(out) as tmp:
        for name, stage in STAGES:
            print(f"[demo] stage {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            res = stage(tmp, args)
            res.output = out / res.output.relative_to(tmp)
            results.append(res)
            print(f"[{'PASS' if res.ok else 'FAIL'}] {res.name}: {res.verdict} ({res.output}, "
                  f"{time.perf_counter() - t0:.1f} s)", flush=True)
    ok = all(r.ok for r in results)
    print(f"demo: {'PASS' if ok else 'FAIL'} ({len(results)} stage(s), "
          f"{time.perf_counter() - t_all:.1f} s), reports in {out}", flush=True)
    hw = next((r for r in results if r.name == "hardware"), None)
    last = hw.verdict if hw is not None else f"{'PASS' if ok else 'FAIL'}: demo"
    if not ok and last.startswith("PASS"):
        failed = ", ".join(r.name for r in results if not r.ok)
        last = f"FAIL ({failed}): " + last[len("PASS: "):]
    print(last, flush=True)
    return 0 if ok else 1
