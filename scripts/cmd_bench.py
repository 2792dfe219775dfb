"""`trtrl bench model`: per-step time of RTRL, TRTRL, SnAp-1 and the fixed-point model,
and the speed targets.

Best-of-R timing after warm-up (see :mod:`pymodel.bench`). The table times every model
at each of ``--sizes`` with K = ``--outputs``; RTRL's step grows as N^4: above
``--rtrl-full-max`` it is timed on a single step, above ``--rtrl-max`` it is skipped
(with an N^4 estimate). Then each target is measured at its own size (float RTRL/matmul
at N = 100, K = 1; float TRTRL over RTRL at N = 100 with K = 1 and K = 10; fixed-point
steps/s at N = 15, K = 1 and N = 100, K = 10; smaller with ``--target-n``,
``--target-small-n``, ``--target-k``) and printed beside its goal, PASS or FAIL; with
them, with no goal, the fixed-point model at the smaller target's N with an observer (as
the cocotb scoreboards run it), on each kernel. This is a benchmark, not a test: it
always exits 0 unless ``--strict`` is given, in which case a failed target exits 1.

`trtrl bench sim`: simulation speed of the generated array (:mod:`testbenches.bench_sim`).
"""

from __future__ import annotations

import argparse
import sys

from trtrl.pymodel.bench import (
    DEFAULT_SIZES,
    K_MANY,
    N_REF,
    N_SMALL,
    Timing,
    format_ms,
    format_result,
    parse_sizes,
    run_bench,
)
from trtrl.pymodel.jit import KERNELS
from trtrl.pymodel.paths import user_path
from trtrl.pymodel.report import write_json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="time the learning models and check speed targets",
                            description=__doc__)
    actions = parser.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    model = actions.add_parser("model", help="per-step time of each algorithm vs N",
                               description=__doc__,
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    model.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                       metavar="N,N,...", help="neuron counts to time")
    model.add_argument("--repeats", type=int, default=5, metavar="R",
                       help="best-of repeats per measurement")
    model.add_argument("--outputs", type=int, default=1, metavar="K",
                       help="output neurons K of the per-size table (the tasks of the paper, "
                            "Budik & Elhanany 2006, have 1)")
    model.add_argument("--inputs", type=int, default=1, metavar="M", help="external inputs M")
    model.add_argument("--rtrl-full-max", type=int, default=100, metavar="N",
                       help="above this N, RTRL is timed on one step only")
    model.add_argument("--rtrl-max", type=int, default=200, metavar="N",
                       help="above this N, RTRL is skipped (N^4 estimate shown)")
    model.add_argument("--blas-threads", type=int, default=0, metavar="T",
                       help="limit OpenBLAS to T threads for the run (0: as configured); "
                            "1 gives per-core timings that survive a busy machine")
    model.add_argument("--kernel", choices=KERNELS, default=KERNELS[0],
                       help="step kernel of the models that have a choice (float TRTRL, "
                            "fixed point); numpy is the reference")
    model.add_argument("--target-n", type=int, default=N_REF, metavar="N",
                       help="N of the float targets and of the larger fixed-point target")
    model.add_argument("--target-small-n", type=int, default=N_SMALL, metavar="N",
                       help="N of the smaller fixed-point target")
    model.add_argument("--target-k", type=int, default=K_MANY, metavar="K",
                       help="K of the many-output targets")
    model.add_argument("--json", default=None, type=user_path, metavar="FILE",
                       help="also write the results as JSON")
    model.add_argument("--strict", action="store_true", help="exit 1 if a target fails")
    model.set_defaults(handler=cmd_model)

    from trtrl.testbenches import bench_sim

    sim = actions.add_parser(
        "sim", help="Icarus/Verilator steps/s of the array before and after two speed-ups",
        description=bench_sim.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("-n", "--neurons", type=int, default=15, help="N (default 15)")
    sim.add_argument("-m", "--inputs", type=int, default=1, help="M (default 1)")
    sim.add_argument("-k", "--outputs", type=int, default=1, help="K (default 1)")
    sim.add_argument("--sim", choices=("icarus", "verilator", "both"), default="both",
                     help="which comparisons to run (default both)")
    sim.add_argument("--icarus-steps", type=int, default=40, metavar="S",
                     help="samples streamed per Icarus run (default 40)")
    sim.add_argument("--verilator-steps", type=int, default=1000, metavar="S",
                     help="samples streamed per Verilator run (default 1000)")
    sim.add_argument("--build-dir", default=None, type=user_path, metavar="DIR",
                     help="build folders (default build/tb/bench-sim)")
    sim.add_argument("--json", default=None, type=user_path, metavar="FILE",
                     help="also write the rows as JSON")
    sim.set_defaults(handler=cmd_sim)

    from trtrl.testbenches import bench_axi

    axi = actions.add_parser(
        "axi", help="the AXI top: scoreboarded steps/s beside the plain-testbench rate",
        description=bench_axi.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    axi.add_argument("-n", "--neurons", type=int, default=15, help="N (default 15)")
    axi.add_argument("--sim", choices=("icarus", "verilator", "both"), default="both",
                     help="simulators (default both)")
    axi.add_argument("--icarus-steps", type=int, default=200, metavar="S",
                     help="samples of the Icarus runs (default 200)")
    axi.add_argument("--verilator-steps", type=int, default=3000, metavar="S",
                     help="samples of the Verilator runs (default 3000)")
    axi.add_argument("--per-cycle-steps", type=int, default=40, metavar="S",
                     help="samples of the per-cycle cocotbext-axi runs (default 40)")
    axi.add_argument("--json", default=None, type=user_path, metavar="FILE",
                     help="also write the rows as JSON")
    axi.set_defaults(handler=cmd_axi)


def cmd_model(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table and the targets."""
    sizes = parse_sizes(args.sizes)

    def report(t: Timing) -> None:
        print(f"  {t.algorithm:>6} N={t.n:<5} K={t.k:<3} {format_ms(t.seconds):>12}"
              + (f"  ({t.note})" if t.note else ""), file=sys.stderr, flush=True)

    print(f"Timing sizes {sizes} (best of {args.repeats}), then the targets ...",
          file=sys.stderr, flush=True)
    result = run_bench(sizes, repeats=args.repeats, m=args.inputs, k=args.outputs,
                       rtrl_full_max=args.rtrl_full_max, rtrl_max=args.rtrl_max,
                       on_timing=report, threads=args.blas_threads or None,
                       kernel=args.kernel, n_ref=args.target_n, n_small=args.target_small_n,
                       k_many=args.target_k)
    print(format_result(result))
    if args.json:
        write_json(args.json, result.to_dict())
    failed = any(t.passed is False for t in result.targets)
    return 1 if (args.strict and failed) else 0



def cmd_sim(args: argparse.Namespace) -> int:
    """Run the four builds, print the table; exit 1 if a run fails the scoreboard."""
    from pathlib import Path

    from trtrl.pymodel.errors import TrtrlError
    from trtrl.testbenches import bench_sim

    for name in ("icarus_steps", "verilator_steps", "neurons", "outputs"):
        if getattr(args, name) < 1:
            raise TrtrlError(f"--{name.replace('_', '-')}: must be at least 1")
    sims = ("icarus", "verilator") if args.sim == "both" else (args.sim,)
    rows = bench_sim.run_bench(args.neurons, args.inputs, args.outputs, sims=sims,
                               icarus_steps=args.icarus_steps,
                               verilator_steps=args.verilator_steps,
                               root=Path(args.build_dir) if args.build_dir else None,
                               progress=bench_sim.print_progress)
    print(bench_sim.format_rows(rows, args.neurons, args.inputs, args.outputs))
    if args.json:
        write_json(args.json, {"neurons": args.neurons, "inputs": args.inputs,
                               "outputs": args.outputs, "rows": [r.to_dict() for r in rows]})
    bench_sim.check_passed(rows)
    return 0


def cmd_axi(args: argparse.Namespace) -> int:
    """Plain, batched and per-cycle rates on each simulator; exit 1 if a run fails."""
    from trtrl.pymodel.errors import TrtrlError
    from trtrl.testbenches import bench_axi
    from trtrl.testbenches.configs import TbConfig

    for name in ("neurons", "icarus_steps", "verilator_steps", "per_cycle_steps"):
        if getattr(args, name) < 1:
            raise TrtrlError(f"--{name.replace('_', '-')}: must be at least 1")
    sims = ("icarus", "verilator") if args.sim == "both" else (args.sim,)
    task = "freq" if args.neurons >= 2 else "random"
    rows = []
    for sim in sims:
        steps = args.icarus_steps if sim == "icarus" else args.verilator_steps
        cfg = TbConfig(f"bench_axi_n{args.neurons}", n=args.neurons, m=1, k=1, steps=steps,
                       task=task)
        rows += bench_axi.bench(cfg, (sim,), min(args.per_cycle_steps, steps))
    print(bench_axi.format_rows(rows))
    v = [r for r in rows if r.sim == "verilator" and r.ratio is not None]
    if v:
        print(f"goal: batched >= {bench_axi.GOAL:.0%} of plain on Verilator: "
              f"{'met' if v[0].ratio >= bench_axi.GOAL else 'MISSED'} ({v[0].ratio:.0%})")
    if args.json:
        write_json(args.json, [r.to_dict() for r in rows])
    return 1 if any(r.message for r in rows) else 0
