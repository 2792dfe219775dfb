"""`trtrl data TASK -o CASE.npz`: write a golden-vector case of one of the two tasks of the
paper (Budik & Elhanany, 2006)."""

from __future__ import annotations

import argparse

from trtrl.help_format import DefaultsFormatter
from trtrl.pymodel.cases import ACTIVATIONS, ALGORITHMS, Case, save_case
from trtrl.pymodel.paths import user_path
from trtrl.pymodel.tasks import (
    DEFAULT_DX,
    DEFAULT_HORIZON,
    FREQ_DOUBLER_LR,
    FREQ_DOUBLER_WEIGHT_SCALE,
    MACKEY_GLASS_LR,
    MACKEY_GLASS_WEIGHT_SCALE,
    freq_doubler_case,
    mackey_glass_case,
)


def _lr_help(defaults: dict[str, float]) -> str:
    per_act = ", ".join(f"{act}: {lr}" for act, lr in defaults.items())
    return f"learning rate (default: by activation, {per_act})"


def _add_common(parser: argparse.ArgumentParser, neurons: int, lr_defaults: dict[str, float],
                steps: int, weight_scale: float) -> None:
    parser.add_argument("-o", "--output", required=True, type=user_path, metavar="FILE.npz",
                        help="case file to write (parent folders are created)")
    parser.add_argument("--steps", type=int, default=steps, help="number of time steps T")
    parser.add_argument("--neurons", type=int, default=neurons, help="number of neurons N")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    parser.add_argument("--lr", type=float, default=None, help=_lr_help(lr_defaults))
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="trtrl",
                        help="learning algorithm")
    parser.add_argument("--activation", choices=ACTIVATIONS, default="tanh",
                        help="activation function")
    parser.add_argument("--weight-scale", type=float, default=weight_scale,
                        help="initial weights are uniform in [-S, S]")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="write a task's case file (stimulus)",
                            description=__doc__)
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    fmt = DefaultsFormatter

    fd = tasks.add_parser(
        "freq-doubler", formatter_class=fmt,
        help="input sin(x_t), target sin(2 x_t), x_t = t*dx (15 neurons)",
        description=freq_doubler_case.__doc__,
    )
    _add_common(fd, neurons=15, lr_defaults=FREQ_DOUBLER_LR, steps=10000,
                weight_scale=FREQ_DOUBLER_WEIGHT_SCALE)
    fd.add_argument("--dx", type=float, default=DEFAULT_DX, help="phase step per time step")
    fd.set_defaults(handler=run_freq_doubler)

    mg = tasks.add_parser(
        "mackey-glass", formatter_class=fmt,
        help="input y(t), target y(t+h) of the Mackey-Glass series (25 neurons)",
        description=mackey_glass_case.__doc__,
    )
    _add_common(mg, neurons=25, lr_defaults=MACKEY_GLASS_LR, steps=10000,
                weight_scale=MACKEY_GLASS_WEIGHT_SCALE)
    mg.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                    help="predict the value h time units ahead")
    mg.add_argument("--tau", type=float, default=17.0, help="delay of the Mackey-Glass equation")
    mg.set_defaults(handler=run_mackey_glass)


def _write(case: Case, args: argparse.Namespace, task: str) -> int:
    save_case(args.output, case)
    print(f"wrote {args.output}: {task}, T={case.steps}, N={case.n}, M={case.m}, K={case.k}, "
          f"{case.algorithm}/{case.activation}, lr={case.lr:g}")
    return 0


def run_freq_doubler(args: argparse.Namespace) -> int:
    case = freq_doubler_case(
        args.steps, neurons=args.neurons, seed=args.seed, lr=args.lr,
        algorithm=args.algorithm, activation=args.activation, dx=args.dx,
        weight_scale=args.weight_scale,
    )
    return _write(case, args, "freq-doubler")


def run_mackey_glass(args: argparse.Namespace) -> int:
    case = mackey_glass_case(
        args.steps, horizon=args.horizon, neurons=args.neurons, seed=args.seed, lr=args.lr,
        algorithm=args.algorithm, activation=args.activation, tau=args.tau,
        weight_scale=args.weight_scale,
    )
    return _write(case, args, f"mackey-glass (tau={args.tau:g}, horizon={args.horizon})")
