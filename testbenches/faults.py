"""Deliberate design errors, as text mutations of the generated Verilog.

Each fault is a function ``text -> text`` applied to a copy of the design's Verilog
(``trtrl_array.v``, or ``trtrl_axi.v`` with the core's names prefixed ``trtrl_array0_``);
it raises :class:`FaultNotApplicable` when the pattern it edits is absent (the generator
changed its output), so a fault test can never pass by silently not injecting anything.
The patterns follow the MyHDL output of the folded core (``rtl/folded.py``): pipeline
registers named ``<unit><stage>_<name>`` (``lane0_e3_r``, ``a5_e``, ``w3_w``), rounding
written as ``v_r <= ($signed(v >>> s) + v[s-1])``, clamps as
``if ((v > MAX)) begin dst <= MAX; ... else if ((v < (MIN)))``, the activation table as
``case (a1_idx) i: a2_y <= ...`` and the results shifted into ``r_y``/``r_e`` as
``r_y <= {a7_y[W-1:0], r_y[NW-1:W]}`` (``NW = N * W``). :data:`FAULTS` must fail the scoreboard;
:data:`X_FAULTS` must fail the X/Z check of the outputs (Icarus), before any value is
compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from trtrl.pymodel.errors import TrtrlError


class FaultNotApplicable(TrtrlError):
    """The Verilog has no site for this fault."""


_ROUND = re.compile(r"\(\$signed\((\w+) >>> (\d+)\) \+ \1\[\d+\]\)")
# the sensitivity accumulator of lane 0 (P1 + P2 + z) before its inner rounding
_SENS_ACC = re.compile(r"(\w+_)?lane0_e2_acc")


def rounding_dropped(text: str) -> str:
    """The round-half-up constant removed from one sensitivity ``inner`` rounding (lane 0).

    ``rshift_round(acc, W.frac)`` (``lane0_e3_r`` from ``lane0_e2_acc``) becomes a plain
    flooring shift: off by one LSB about half of the time, in one place of one lane.
    """
    for m in _ROUND.finditer(text):
        if _SENS_ACC.fullmatch(m.group(1)):
            return text[: m.start()] + f"$signed({m.group(1)} >>> {m.group(2)})" + text[m.end():]
    raise FaultNotApplicable("rounding_dropped: no sensitivity rounding site (lane0_e2_acc) found")


def _clamp_sites(text: str, name_pattern: str) -> list[re.Match[str]]:
    pat = re.compile(
        r"if \(\((?P<v>" + name_pattern + r") > (?P<max>-?\d+)\)\) begin\s*\n\s*(?P<dst>\w+) "
        r"<?= (?P=max);"
    )
    return list(pat.finditer(text))


def error_bound_changed(text: str) -> str:
    """The error clamp ``sat_A(d - y)`` saturates at +1.5 instead of A's maximum.

    The site is the activation unit's clamp of ``a4_ed = d - y`` into ``a5_e``.
    """
    sites = _clamp_sites(text, r"(?:\w+_)?a4_ed")
    if not sites:
        raise FaultNotApplicable("error_bound_changed: no clamp of the error (a4_ed) found")
    m = sites[0]
    new_max = int(m.group("max")) * 3 // 4
    repl = m.group(0).replace(f"> {m.group('max')}", f"> {new_max}").replace(
        f"= {m.group('max')};", f"= {new_max};")
    return text[: m.start()] + repl + text[m.end():]


def weight_clamp_dropped(text: str) -> str:
    """Every weight clamp ``sat_W(W + dW)`` removed: an overflowing weight wraps around.

    The sites are each lane's clamp of ``w2_sum`` (``lane0_wu_w2_sum``, W3's value) and
    the branch before it for a gradient too large for the narrow sum (``w2_big``); the
    ``else`` branch, the truncation to W's width, is all that is left.
    """
    pat = re.compile(r"if \(\(((?:\w+_)?lane\d+_wu_w2_sum) (?:>|<) \(?-?\d+\)?\)\) begin")
    out, n = pat.subn("if (1'b0) begin", text)
    big = re.compile(r"if \(((?:\w+_)?lane\d+_wu_w2_big)\) begin")
    out, n_big = big.subn("if (1'b0) begin", out)
    if n == 0 or n_big == 0:
        raise FaultNotApplicable("weight_clamp_dropped: no weight clamp (w2_sum, w2_big) found")
    return out


# r_y <= {a7_y[W-1:0], r_y[NW-1:W]} (NW = N * W): the new y enters at the top
_Y_SHIFT = re.compile(
    r"(?P<reg>\w*r_y) <= \{(?P<val>\w+)\[(?P<w>\d+)-1:0\], (?P=reg)\[(?P<nw>\d+)-1:(?P=w)\]\};")


def outputs_swapped(text: str) -> str:
    """``r_y`` filled from the wrong end (a wrong index in the output packing).

    Each ``y_i`` enters ``r_y`` at the bottom instead of the top, so the words come out in
    reverse order: for N = 2 (the fault configuration) elements 0 and 1 are swapped.
    N = 1 has no shift, hence no site.
    """
    m = _Y_SHIFT.search(text)
    if m is None:
        raise FaultNotApplicable("outputs_swapped: no shift of y into r_y (N >= 2) found")
    reg, val, w = m.group("reg"), m.group("val"), int(m.group("w"))
    n = int(m.group("nw")) // w
    new = f"{reg} <= {{{reg}[{(n - 1) * w}-1:0], {val}[{w}-1:0]}};"
    return text[: m.start()] + new + text[m.end():]


# a1_idx <= {(!ts[B-1]), ts[B-1-1:0]}: the table index, offset binary of ts
_LUT_IDX = re.compile(r"\w*a1_idx <= \{\(!(\w+)\[\d+\]\), \1\[\d+-1:0\]\};")


def lut_index_shifted(text: str) -> str:
    """The activation table indexed with a shift one too large (half the resolution).

    The table ``case (a1_idx)`` is indexed by ``ts = $signed(aq >>> s)`` (clamped to the
    table's range); the fault shifts by ``s + 1``.
    """
    idx = _LUT_IDX.search(text)
    if idx is None:
        raise FaultNotApplicable("lut_index_shifted: no table index (a1_idx) found")
    pat = re.compile(r"assign " + re.escape(idx.group(1)) + r" = \$signed\((\w+) >>> (\d+)\);")
    m = pat.search(text)
    if m is None:
        raise FaultNotApplicable(f"lut_index_shifted: no shift into {idx.group(1)} found")
    return (text[: m.start()] + f"assign {idx.group(1)} = $signed({m.group(1)} >>> "
            f"{int(m.group(2)) + 1});" + text[m.end():])


FAULTS: dict[str, Callable[[str], str]] = {
    "rounding": rounding_dropped,
    "error_bound": error_bound_changed,
    "weight_clamp": weight_clamp_dropped,
    "swapped_outputs": outputs_swapped,
    "lut_index": lut_index_shifted,
}


# -- X faults: an uninitialised read that reaches an output -----------------------------
_E_FILE_WRITE = re.compile(r"if \((\w+)\) begin(\s*\n\s*\w*e_out_mem\[\w+\] <= \w+;)")


def error_file_unwritten(text: str) -> str:
    """The ``e_k`` register file (``e_out_mem``) is never written (its write enable tied low).

    The update then multiplies an uninitialised word: in a 4-state simulator the weight
    gradient and, with learning on, every updated weight become X, which reaches the
    read-back (``m_rdata``) after the first step. A 2-state simulator (Verilator) reads
    some value instead and fails on the values, if at all.
    """
    out, n = _E_FILE_WRITE.subn(r"if (1'b0) begin\2", text, count=1)
    if n == 0:
        raise FaultNotApplicable("error_file_unwritten: no write of the e_k file (e_out_mem) "
                                 "found")
    return out


# r_e <= a7_e[W-1:0] (K = 1) or r_e <= {a7_e[W-1:0], r_e[...]} (K > 1)
_E_SHIFT = re.compile(r"\w*r_e <= \{?(\w+)\[\d+-1:0\]")


def error_register_unwritten(text: str) -> str:
    """The error register that ``r_e`` is shifted in from (``a7_e``, the last stage of
    the activation unit) is never written (neither reset nor loaded).

    ``r_e`` takes it in as each output's error is computed, so the first result already
    carries the power-up X onto an output.
    """
    src = _E_SHIFT.search(text)
    if src is None:
        raise FaultNotApplicable("error_register_unwritten: no shift of an error into r_e found")
    pat = re.compile(r"^[ \t]*" + re.escape(src.group(1)) + r" <= [^;]+;\n", re.M)
    out, n = pat.subn("", text)
    if n == 0:
        raise FaultNotApplicable(f"error_register_unwritten: no assignment to {src.group(1)} "
                                 "found")
    return out


X_FAULTS: dict[str, Callable[[str], str]] = {
    "e_file_unwritten": error_file_unwritten,
    "error_register_unwritten": error_register_unwritten,
}
