"""The activation look-up table of ``pymodel/FIXED_POINT.md``.

``2**lut_bits`` entries cover ``s`` in ``[-2**lut_range, 2**lut_range)``; entry ``i``
is ``q_A(f(centre of bin i))``. The index is a plain (flooring) shift of the exact
forward sum plus an offset, clamped to the table: no multiplier, no rounding, so the
RTL reproduces it with wires and one comparator pair.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from trtrl.pymodel.activations import activate
from trtrl.pymodel.fixed.arith import quantize
from trtrl.pymodel.fixed.formats import FixedConfig


@lru_cache(maxsize=64)
def _lut_readonly(cfg: FixedConfig) -> np.ndarray:
    half = 1 << (cfg.lut_bits - 1)
    i = np.arange(1 << cfg.lut_bits, dtype=np.float64)
    # Bin centres; exact in float64 (small integers times a power of two).
    centres = (i - half + 0.5) * 2.0 ** (cfg.lut_range + 1 - cfg.lut_bits)
    table = quantize(activate(cfg.activation, centres), cfg.act)
    table.setflags(write=False)
    return table


def build_lut(cfg: FixedConfig) -> np.ndarray:
    """The table ``LUT[i] = q_A(f((i - 2**(lut_bits-1) + 0.5) * 2**(lut_range+1-lut_bits)))``.

    Returns a fresh writable int64 array (the cached one is read-only).
    """
    return _lut_readonly(cfg).copy()


def lut_index(s: np.ndarray | int, cfg: FixedConfig) -> np.ndarray:
    """``clamp((s >> lut_shift) + 2**(lut_bits-1), 0, 2**lut_bits - 1)``.

    Clamping the index is not a saturation event (the page says so).
    """
    a = np.asarray(s, dtype=np.int64)
    idx = (a >> np.int64(cfg.lut_shift)) + np.int64(1 << (cfg.lut_bits - 1))
    return np.clip(idx, 0, (1 << cfg.lut_bits) - 1)


def lut_lookup(s: np.ndarray | int, cfg: FixedConfig, lut: np.ndarray | None = None) -> np.ndarray:
    """``y = LUT[idx(s)]`` for a forward sum ``s`` (format ``S``); ``lut`` avoids a rebuild."""
    table = _lut_readonly(cfg) if lut is None else lut
    return table[lut_index(s, cfg)]
