"""Signed integers packed into the bit vectors of the array's ports and memory words.

Element ``e`` of a vector of ``bits``-bit two's-complement values sits at bits
``[e*bits +: bits]`` (element 0 in the low bits), as ``r_y``, ``r_e``, ``s_x`` and
``s_d`` carry them (rtl/README.md). The MyHDL simulation, the cocotb scoreboard and the
waveform tools all pack and unpack through these three functions.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["to_signed", "pack", "unpack"]


def to_signed(value: int, bits: int) -> int:
    """The ``bits``-bit two's-complement value of the raw word ``value``."""
    value = int(value) & ((1 << bits) - 1)
    return value - (1 << bits) if value >> (bits - 1) else value


def pack(values: Iterable[int], bits: int) -> int:
    """One word holding ``values`` (each wrapped to ``bits`` bits), element 0 lowest."""
    mask = (1 << bits) - 1
    out = 0
    for e, v in enumerate(values):
        out |= (int(v) & mask) << (e * bits)
    return out


def unpack(word: int, count: int, bits: int) -> list[int]:
    """The ``count`` signed elements of ``word``; the inverse of :func:`pack`."""
    return [to_signed(int(word) >> (e * bits), bits) for e in range(count)]
