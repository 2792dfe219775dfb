"""`trtrl rtl gen`: convert the MyHDL neuron array to Verilog plus a JSON manifest."""

from __future__ import annotations

import argparse

from scripts.format_options import add_format_arguments, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rtl", help="generate the TRTRL neuron array (Verilog + manifest)")
    cmds = parser.add_subparsers(dest="rtl_command", metavar="CMD", required=True)
    gen = cmds.add_parser(
        "gen",
        help="write trtrl_array.v and trtrl_array.json",
        description="Convert the MyHDL TRTRL neuron array (one PE per neuron) to Verilog and "
        "write its manifest (ports, address map, cycles per step, storage). Both files are "
        "written atomically into the output directory.",
    )
    gen.add_argument("--neurons", "-n", type=int, required=True, help="N, number of neurons")
    gen.add_argument("--inputs", "-m", type=int, required=True, help="M, external inputs")
    gen.add_argument("--outputs", "-k", type=int, required=True, help="K, outputs (<= N)")
    add_format_arguments(gen)
    gen.add_argument("--activation", choices=["tanh", "sigmoid"], default="tanh")
    gen.add_argument("-o", "--out", required=True, help="output directory")
    gen.set_defaults(handler=run_gen)


def run_gen(args: argparse.Namespace) -> int:
    from rtl.config import ArrayConfig
    from rtl.generate import generate

    fixed = config_from_args(args, args.activation)
    cfg = ArrayConfig(args.neurons, args.inputs, args.outputs, fixed)
    vpath, mpath = generate(cfg, args.out)
    st = cfg.storage_words()
    formula = cfg.manifest()["cycles_per_step_formula"]
    print(f"wrote {vpath}")
    print(f"wrote {mpath}")
    print(
        f"N={cfg.n} M={cfg.m} K={cfg.k}: {cfg.cycles_per_step()} cycles/step "
        f"({formula}), {st['per_pe']} words/PE, {st['total']} total"
    )
    return 0
