"""`trtrl mutate`: a mutation campaign against the quick scoreboard (testbenches/mutation.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.paths import parse_jobs, user_path

DEFAULT_MUTANTS = 100  # testbenches.mutation.DEFAULT_MUTANTS (a test checks)
DEFAULT_FORMAL_TIMEOUT = 600.0  # testbenches.mutation.DEFAULT_FORMAL_TIMEOUT


def every_shift(steps: int) -> tuple[int, ...]:
    """The second run's learning-rate shift per step: 0, 1, ..., 31, 0, ... (every bit of
    the shift both ways, and every shift's rounding constant)."""
    from trtrl.pymodel.fixed.model import LR_SHIFT_MAX

    return tuple(t % (LR_SHIFT_MAX + 1) for t in range(steps))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mutate",
        help="mutation campaign: how many single-bit design errors the scoreboard catches",
        description="Draw mutants of a Verilog design with Yosys (`mutate -list`: a bit of "
        "a cell's port inverted, tied to 0 or 1, or XORed with another bit) and every comparison "
        "of a signal with a constant moved onto its bound (x > MAX to x >= MAX), run each through "
        "the quick scoreboard on Icarus (and, if it passes, once more with the learning-rate "
        "shift stepping through 0..31); check the ones it does not kill against the core's "
        "safety properties (`trtrl rtl prove`: every clamp exact, every saturation event "
        "counted; a failing property kills the mutant, counted apart), "
        "and prove the rest equivalent to the "
        "original with Yosys's equiv_* passes (every state), or else equal for two learning "
        "steps after reset (sat over the unproven signals' cones: 'bounded'), or leave them "
        "survivors (with a counterexample VCD where sat finds one). Writes mutation.json "
        "(every mutant and its verdict), mutation.md (the score killed / non-equivalent, the "
        "survivors by source line) and mutants.txt (Yosys's list) into the output folder. "
        "Without --rtl the design is the core (trtrl_array) of the fault configuration: "
        "N=2, M=1, K=1, weights 16.14, sensitivities 16.13, 40 steps at learning rate 2**-1 "
        "of the bounds stimulus (values exactly on the weight and error bounds, then "
        "saturating targets).",
    )
    p.add_argument("--rtl", type=user_path, default=None, metavar="FILE.v",
                   help="mutate this Verilog (its manifest beside it) instead of the "
                        "generated fault configuration")
    p.add_argument("--manifest", type=user_path, default=None,
                   help="manifest of --rtl (default: the .json of the same name beside it)")
    p.add_argument("--top", default=None, help="top module of --rtl (default from the manifest)")
    p.add_argument("--mutants", type=int, default=DEFAULT_MUTANTS,
                   help=f"how many mutants Yosys draws (default {DEFAULT_MUTANTS})")
    p.add_argument("--seed", type=int, default=1, help="Yosys's seed for the draw (default 1)")
    p.add_argument("--steps", type=int, default=None,
                   help="learning steps of the scoreboard run (default 40)")
    p.add_argument("-j", "--jobs", default="auto",
                   help="mutants judged in parallel (N, or auto: one per core)")
    p.add_argument("--no-formal", action="store_true",
                   help="skip the equivalence proofs (survivors are then all counted)")
    p.add_argument("--no-properties", action="store_true",
                   help="do not check the core's safety properties on the mutants the "
                        "scoreboard leaves (they are checked by default when the design is "
                        "the core, not its AXI top)")
    p.add_argument("--no-boundary", action="store_true",
                   help="only Yosys's mutants, not the boundary class (every comparison of a "
                        "signal with a constant moved onto its bound, e.g. x > MAX to x >= MAX)")
    p.add_argument("--formal-timeout", type=float, default=DEFAULT_FORMAL_TIMEOUT,
                   help="seconds of Yosys per surviving mutant before it stays a survivor "
                        f"(default {DEFAULT_FORMAL_TIMEOUT:g})")
    p.add_argument("-o", "--out", type=user_path, default="out/mutate",
                   help="output folder (default out/mutate), replaced atomically")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from trtrl.rtl.manifest import AXI_TOP, Manifest
    from trtrl.testbenches.configs import FAULT_CFG, TbConfig
    from trtrl.testbenches.mutation import Campaign, percent, run_campaign

    jobs = parse_jobs(args.jobs)
    if args.mutants < 1:
        raise TrtrlError(f"--mutants: must be at least 1, not {args.mutants}")
    if args.steps is not None and args.steps < 1:
        raise TrtrlError(f"--steps: must be at least 1, not {args.steps}")
    if args.formal_timeout <= 0:
        raise TrtrlError(f"--formal-timeout: must be positive, not {args.formal_timeout:g}")
    if args.rtl is None:
        if args.manifest is not None or args.top is not None:
            raise TrtrlError("--manifest and --top go with --rtl FILE.v")
        from trtrl.testbenches.dut import cached_rtl

        tb = FAULT_CFG
        verilog, manifest = cached_rtl(tb)
    else:
        verilog = Path(args.rtl)
        if not verilog.is_file():
            raise TrtrlError(f"--rtl {verilog}: no such file")
        manifest = Path(args.manifest) if args.manifest else verilog.with_suffix(".json")
        if not manifest.is_file():
            raise TrtrlError(f"--manifest {manifest}: no such file (give --manifest)")
        tb = TbConfig.from_manifest(Manifest.read(manifest), "mutate", FAULT_CFG.steps,
                                    task=FAULT_CFG.task, lr_shift=FAULT_CFG.lr_shift,
                                    sims=("icarus",))
    if args.steps is not None:
        tb = replace(tb, steps=args.steps)
    # the same stimulus with a new learning-rate shift every step: every bit of the shift
    # that the first run's shift of 1 leaves at 0 is 1 here, and each shift's rounding
    # constant (a different bit of the gradient sum's start) is used; and a reset in the
    # middle of a step halfway through, after which the core is loaded again
    more = (replace(tb, name=f"{tb.name}_every_lr", lr_steps=every_shift(tb.steps),
                    reset_at=tb.steps // 2),)
    camp = Campaign(verilog=Path(verilog), manifest=Path(manifest), tb=tb, more=more,
                    mutants=args.mutants, seed=args.seed, jobs=jobs,
                    formal=not args.no_formal, formal_timeout=args.formal_timeout,
                    boundary=not args.no_boundary,
                    properties=not args.no_properties
                    and Manifest.read(Path(manifest)).interface != AXI_TOP,
                    top=args.top)
    bar = tqdm(total=args.mutants, desc="mutants", unit="mutant", file=sys.stderr,
               disable=not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    summary = run_campaign(camp, Path(args.out), progress)
    bar.close()
    print(f"mutation score {percent(summary['score'])}: {summary['killed']} killed "
          f"({summary['killed_by_properties']} by the core's properties), "
          f"{summary['survived']} survived, "
          f"{summary['equivalent']} equivalent (proven for every state), {summary['bounded']} "
          f"equal for {summary['bounded_depth']} cycles after reset, of {summary['mutants']} "
          f"mutants in {summary['seconds']['total']:.0f} s")
    print(f"wrote {Path(args.out) / 'mutation.md'} and mutation.json")
    return 0
