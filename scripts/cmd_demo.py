"""`trtrl demo -o DIR`: a short end-to-end tour that ends in a one-line verdict.

The demo is a list of stages (:data:`STAGES`); each takes the output folder and the
parsed options and returns a :class:`StageResult` (a verdict line and whether it
passed). Today the only stage is the quick paper experiment (float models); the
hardware co-simulation is meant to be added as further stages.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class StageResult:
    """Outcome of one demo stage."""

    name: str
    ok: bool
    verdict: str
    output: Path


Stage = Callable[[Path, argparse.Namespace], StageResult]


def stage_paper(out: Path, args: argparse.Namespace) -> StageResult:
    """The quick paper experiment (learning curves, timing, resources) into ``out/paper``."""
    from pymodel.experiments.paper import Settings, run

    folder = out / "paper"
    summary = run(Settings.quick_defaults(seed=args.seed), folder)
    return StageResult("paper", bool(summary["trtrl_within_2x_of_rtrl"]), summary["verdict"],
                       folder / "report.md")


# Stages in run order; the hardware co-simulation stage is appended here when it exists.
STAGES: list[tuple[str, Stage]] = [("paper", stage_paper)]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run the quick end-to-end demo and print a verdict",
                            description=__doc__)
    parser.add_argument("-o", "--output", default="out/demo", metavar="DIR",
                        help="folder for the demo's reports (default out/demo)")
    parser.add_argument("--seed", type=int, default=0, help="seed of tasks and weights")
    parser.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run every stage; print one verdict line each and an overall line. Exit 1 on a failure."""
    out = Path(args.output)
    results = []
    for _name, stage in STAGES:
        res = stage(out, args)
        results.append(res)
        print(f"[{'PASS' if res.ok else 'FAIL'}] {res.name}: {res.verdict} ({res.output})")
    ok = all(r.ok for r in results)
    print(f"demo: {'PASS' if ok else 'FAIL'} ({len(results)} stage(s)), reports in {out}")
    return 0 if ok else 1
