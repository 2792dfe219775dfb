"""Integer primitives of ``pymodel/FIXED_POINT.md`` on int64 NumPy arrays.

The hardware and this model must agree bit for bit, so every operation here is
the page's definition transcribed once, used by the vectorised model; the loop
reference (``pymodel/tests/fixed_loop_reference.py``) transcribes the page again
independently on Python ints.

int64 is wide enough because :class:`~pymodel.fixed.formats.FixedConfig` refuses
formats whose intermediate values could need more than :data:`INT_BITS` bits
(one bit of head-room below 63 for the rounding constant ``2**(s-1)``).
"""

from __future__ import annotations

import numpy as np

from trtrl.pymodel.errors import CaseError, ConfigError
from trtrl.pymodel.fixed.formats import INT_BITS, FixedFormat

__all__ = ["INT_BITS", "SIDES", "bound_counts", "rshift_round", "saturate", "quantize"]

# Where a value lies against a clamp's bounds: the columns of a step's clamp census
# (FixedTRTRL.observer). The first two are the clamp's saturation events; the last two
# change nothing, but a comparison written one off would count them.
SIDES = ("above max", "below min", "at max", "at min")


def rshift_round(v: np.ndarray | int, s: int) -> np.ndarray:
    """``(v + 2**(s-1)) >> s`` with a flooring shift: round half up (also for negatives).

    ``s = 0`` returns ``v`` unchanged. Half up (not half away from zero) because it is
    one adder and one wire shift in hardware.
    """
    if not 0 <= s <= INT_BITS:
        raise ConfigError(f"shift: {s} outside [0, {INT_BITS}] for the int64 model")
    a = np.asarray(v, dtype=np.int64)
    if s == 0:
        return a.copy()
    return (a + np.int64(1 << (s - 1))) >> np.int64(s)


def saturate(v: np.ndarray | int, fmt: FixedFormat) -> tuple[np.ndarray, int]:
    """Clamp ``v`` into ``fmt``'s range; also return how many elements changed.

    The count is the page's "saturation events": one per clamp that changes its value.
    """
    a = np.asarray(v, dtype=np.int64)
    lo, hi = np.int64(fmt.min), np.int64(fmt.max)
    events = int(np.count_nonzero((a < lo) | (a > hi)))
    return np.clip(a, lo, hi), events


def bound_counts(v: np.ndarray | int, fmt: FixedFormat) -> np.ndarray:
    """How many elements of ``v`` lie on each :data:`SIDES` of ``fmt``'s clamp (int64, 4)."""
    a = np.asarray(v, dtype=np.int64)
    lo, hi = np.int64(fmt.min), np.int64(fmt.max)
    return np.array([np.count_nonzero(a > hi), np.count_nonzero(a < lo),
                     np.count_nonzero(a == hi), np.count_nonzero(a == lo)], dtype=np.int64)


def quantize(x: np.ndarray | float, fmt: FixedFormat) -> np.ndarray:
    """``q_F(x) = sat_F(floor(x * 2**F.frac + 0.5))``, done once when a case is loaded.

    No saturation events are counted (the page says so: quantising the stimulus is not
    part of a step). Non-finite inputs are refused, they have no integer meaning.
    """
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise CaseError("value: non-finite number cannot be quantised")
    # Clamp in float first so that huge values never overflow the int64 conversion;
    # the bounds are exact in float64 because formats are at most INT_BITS wide.
    scaled = np.floor(a * float(1 << fmt.frac) + 0.5)
    scaled = np.clip(scaled, float(fmt.min), float(fmt.max))
    return scaled.astype(np.int64)
