"""`trtrl experiment NAME`: reproducible experiments that write plots and a report folder.

Each experiment is a module ``experiments.<name>`` with
``add_arguments(parser)`` and ``main(args) -> int``; its docstring's first line is the help.
"""

from __future__ import annotations

import argparse
import importlib

EXPERIMENTS = {
    "paper": "trtrl.experiments.paper",
    "precision": "trtrl.experiments.precision",
    "hardware": "trtrl.experiments.hardware",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("experiment", help="run an experiment and write its report folder")
    exps = parser.add_subparsers(dest="experiment", metavar="NAME", required=True)
    for name, module_name in EXPERIMENTS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or name).strip().splitlines()[0]
        p = exps.add_parser(name, help=doc, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(handler=module.main)
