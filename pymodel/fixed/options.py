"""The fixed-point format options, shared by every command that takes them.

One place defines ``--act-format``, ``--weight-format``, ``--sens-format``,
``--acc-bits``, ``--lut-bits`` and ``--lut-range`` so that `trtrl model run --fixed`,
`trtrl rtl gen|synth` and `trtrl experiment hardware` mean the same thing by them
(hls4ml-style: a format per quantity).
"""

from __future__ import annotations

import argparse

from trtrl.pymodel.fixed.formats import DEFAULT_ACC_BITS, FixedConfig, FixedFormat


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    dflt = FixedConfig()
    group = parser.add_argument_group("fixed-point formats (TOTAL.FRAC, two's complement)")
    group.add_argument("--act-format", default=str(dflt.act), metavar="T.F",
                       help=f"x, d, y, f', e (default {dflt.act})")
    group.add_argument("--weight-format", default=str(dflt.weight), metavar="T.F",
                       help=f"weights (default {dflt.weight})")
    group.add_argument("--sens-format", default=str(dflt.sens), metavar="T.F",
                       help=f"sensitivities (default {dflt.sens})")
    group.add_argument("--acc-bits", type=int, default=None, metavar="B",
                       help=f"forward accumulator width (default {DEFAULT_ACC_BITS}, or the "
                            "exact width of the forward sum where the network needs more)")
    group.add_argument("--lut-bits", type=int, default=dflt.lut_bits, metavar="B",
                       help=f"log2 of the activation table size (default {dflt.lut_bits})")
    group.add_argument("--lut-range", type=int, default=None, metavar="R",
                       help="table covers s in [-2**R, 2**R) (default: 3 tanh, 4 sigmoid)")


def config_from_args(args: argparse.Namespace, activation: str) -> FixedConfig:
    """The :class:`FixedConfig` the options describe, for ``activation``."""
    return FixedConfig(
        act=FixedFormat.parse(args.act_format, "--act-format"),
        weight=FixedFormat.parse(args.weight_format, "--weight-format"),
        sens=FixedFormat.parse(args.sens_format, "--sens-format"),
        acc_bits=args.acc_bits,
        lut_bits=args.lut_bits,
        lut_range=args.lut_range,
        activation=activation,
    )
