"""Bit-accurate fixed-point TRTRL (``pymodel/FIXED_POINT.md``): formats, primitives, model."""

from trtrl.pymodel.fixed.arith import quantize, rshift_round, saturate
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat, default_config
from trtrl.pymodel.fixed.lut import build_lut, lut_lookup
from trtrl.pymodel.fixed.model import FixedTRTRL, fixed_trace, lr_shift_from_lr, quantize_case

__all__ = [
    "FixedConfig",
    "FixedFormat",
    "FixedTRTRL",
    "build_lut",
    "default_config",
    "fixed_trace",
    "lr_shift_from_lr",
    "lut_lookup",
    "quantize",
    "quantize_case",
    "rshift_round",
    "saturate",
]
