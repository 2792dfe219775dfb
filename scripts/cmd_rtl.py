"""`trtrl rtl gen`: convert the MyHDL neuron array to Verilog plus a JSON manifest."""

from __future__ import annotations

import argparse

from pymodel.fixed.formats import FixedConfig, FixedFormat


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
    dflt = FixedConfig()
    gen.add_argument("--act-format", default=str(dflt.act), help="activation format TOTAL.FRAC")
    gen.add_argument("--weight-format", default=str(dflt.weight), help="weight format TOTAL.FRAC")
    gen.add_argument("--sens-format", default=str(dflt.sens), help="sensitivity format TOTAL.FRAC")
    gen.add_argument("--acc-bits", type=int, default=dflt.acc_bits, help="forward accumulator")
    gen.add_argument("--lut-bits", type=int, default=dflt.lut_bits, help="log2 of the table size")
    gen.add_argument(
        "--lut-range", type=int, default=None, help="table covers +-2**R (default by activation)"
    )
    gen.add_argument("--activation", choices=["tanh", "sigmoid"], default="tanh")
    gen.add_argument("-o", "--out", required=True, help="output directory")
    gen.set_defaults(handler=run_gen)


def run_gen(args: argparse.Namespace) -> int:
    from rtl.config import ArrayConfig
    from rtl.generate import generate

    fixed = FixedConfig(
        act=FixedFormat.parse(args.act_format, "act-format"),
        weight=FixedFormat.parse(args.weight_format, "weight-format"),
        sens=FixedFormat.parse(args.sens_format, "sens-format"),
        acc_bits=args.acc_bits,
        lut_bits=args.lut_bits,
        lut_range=args.lut_range,
        activation=args.activation,
    )
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
