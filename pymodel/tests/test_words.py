"""Packing signed values into port words: element 0 lowest, two's complement."""

from __future__ import annotations

from trtrl.pymodel.fixed.words import pack, to_signed, unpack


def test_pack_unpack() -> None:
    assert pack([1, -1, -32768], 16) == 0x8000_FFFF_0001
    assert unpack(0x8000_FFFF_0001, 3, 16) == [1, -1, -32768]
    assert unpack(pack([5, -6, 7, -8], 4), 4, 4) == [5, -6, 7, -8]
    assert pack([], 8) == 0 and unpack(0, 0, 8) == []
    assert unpack(pack([40], 5), 1, 5) == [8]  # wrapped to 5 bits, not clamped
    assert to_signed(0x1FF, 9) == -1 and to_signed(0xFF, 9) == 255 and to_signed(0x3FF, 9) == -1
