"""`trtrl model run CASE.npz -o TRACE.npz`: the trace (expected outputs) of a case.

The float64 reference model of the case's algorithm runs the whole case online and
the trace (``y``, ``e``, ``w``, ``w_step`` and the case's ``algorithm``,
``activation``, ``lr``) is written atomically: on any error nothing is written.

Extension point: a fixed-point run adds its options in :func:`add_run_arguments`
and its runner in :func:`select_runner` (a runner is ``fn(case, args) -> dict``
of trace arrays); loading, checking and writing stay here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np

from trtrl.help_format import DefaultsFormatter
from trtrl.pymodel.cases import Case, load_case, save_npz_atomic
from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.options import add_format_arguments, config_from_args
from trtrl.pymodel.paths import user_path

Runner = Callable[[Case, argparse.Namespace], dict[str, np.ndarray]]

# Runs longer than this show a progress bar (if stderr is a terminal) unless told otherwise.
PROGRESS_MIN_STEPS = 2000


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("model", help="run the reference models on case files",
                            description=__doc__)
    actions = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="write the trace of a case (float64 model, or --fixed: bit-accurate TRTRL)",
        description=__doc__,
        formatter_class=DefaultsFormatter,
    )
    add_run_arguments(run)
    run.set_defaults(handler=cmd_run)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``model run``; a fixed-point mode adds its own here."""
    parser.add_argument("case", type=user_path, metavar="CASE.npz", help="case file to run")
    parser.add_argument("-o", "--output", required=True, type=user_path, metavar="TRACE.npz",
                        help="trace file to write (parent folders are created)")
    parser.add_argument(
        "--weights-every", type=int, default=1, metavar="S",
        help="keep w after steps S-1, 2S-1, ... and the last one (0: last step only)",
    )
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help=f"progress bar on stderr (default: when T > {PROGRESS_MIN_STEPS} "
        "and stderr is a terminal)",
    )
    parser.add_argument(
        "--fixed", action="store_true",
        help="run the bit-accurate fixed-point TRTRL (pymodel/FIXED_POINT.md): integer trace",
    )
    parser.add_argument(
        "--lr-shift", type=int, default=None, metavar="S",
        help="with --fixed: learning rate 2**-S (default: round(-log2(lr)) of the case)",
    )
    add_format_arguments(parser)


def want_progress(case: Case, args: argparse.Namespace) -> bool:
    """The ``--progress`` choice, or automatic: long run and stderr is a terminal."""
    if args.progress is not None:
        return bool(args.progress)
    return case.steps > PROGRESS_MIN_STEPS and sys.stderr.isatty()


def run_float(case: Case, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Run ``case`` with the float64 model of its algorithm; the trace arrays."""
    from trtrl.pymodel.models import make_model  # here, so `trtrl --help` stays fast

    model = make_model(case.algorithm, case.w0, case.m, case.k, case.lr, case.activation)
    result = model.run(case.x, case.d, weights_every=args.weights_every,
                       progress=want_progress(case, args))
    return {
        "y": np.asarray(result["y"], dtype=np.float64),
        "e": np.asarray(result["e"], dtype=np.float64),
        "w": np.asarray(result["w"], dtype=np.float64),
        "w_step": np.asarray(result["w_step"], dtype=np.int64),
    }


def run_fixed(case: Case, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Run ``case`` with the bit-accurate fixed-point TRTRL; integer trace + formats."""
    from trtrl.pymodel.fixed.model import fixed_trace

    cfg = config_from_args(args, case.activation)
    return fixed_trace(case, cfg, lr_shift=args.lr_shift, weights_every=args.weights_every,
                       progress=want_progress(case, args))


def select_runner(args: argparse.Namespace) -> Runner:
    """The dispatch point between model kinds."""
    return run_fixed if args.fixed else run_float


def cmd_run(args: argparse.Namespace) -> int:
    if args.weights_every < 0:
        raise TrtrlError(f"--weights-every: must be >= 0, got {args.weights_every}")
    case = load_case(args.case)
    runner = select_runner(args)
    trace = runner(case, args)
    # The case's identity travels with its trace, so a trace file explains itself.
    trace.setdefault("algorithm", np.array(case.algorithm))
    trace.setdefault("activation", np.array(case.activation))
    trace.setdefault("lr", np.float64(case.lr))
    save_npz_atomic(args.output, **trace)
    kept = len(trace["w_step"]) if "w_step" in trace else len(trace["w"])
    print(f"wrote {args.output}: {case.algorithm}/{case.activation}, T={case.steps}, "
          f"N={case.n}, weights kept for {kept} step(s)")
    return 0
