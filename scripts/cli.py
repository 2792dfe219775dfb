"""The `trtrl` command line: one command, a subcommand per job, `--help` on each.

Each subcommand group lives in its own module under ``scripts/`` and exposes
``register(subparsers)``; handlers take the parsed namespace and return an exit code.
User errors (:class:`pymodel.errors.TrtrlError`) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from trtrl.pymodel.errors import TrtrlError

# Subcommand modules, in --help order.
COMMAND_MODULES = [
    "trtrl.cmd_data",
    "trtrl.cmd_model",
    "trtrl.cmd_experiment",
    "trtrl.cmd_rtl",
    "trtrl.cmd_bench",
    "trtrl.cmd_regress",
    "trtrl.cmd_mutate",
    "trtrl.cmd_waves",
    "trtrl.cmd_demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trtrl",
        description="RTRL/TRTRL reference models, a fixed-point neuron array, its co-verification.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except TrtrlError as exc:
        print(f"trtrl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trtrl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
