"""Deliberate design errors, as text mutations of the generated Verilog.

Each fault is a function ``text -> text`` applied to a copy of ``trtrl_array.v``; it
raises :class:`FaultNotApplicable` when the pattern it edits is absent (the generator
changed its output), so a fault test can never pass by silently not injecting anything.
The patterns follow the MyHDL generator's output (``rtl/array.py``): rounding written
as ``($signed(v >>> s) + v[s-1])``, clamps as ``if ((v > MAX)) ... else if ((v < MIN))``.
:data:`FAULTS` must fail the scoreboard; :data:`X_FAULTS` must fail the X/Z check of
the outputs (Icarus), before any value is compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from trtrl.pymodel.errors import TrtrlError


class FaultNotApplicable(TrtrlError):
    """The Verilog has no site for this fault."""


_ROUND = re.compile(r"\(\$signed\((\w+) >>> (\d+)\) \+ \1\[\d+\]\)")


def rounding_dropped(text: str) -> str:
    """The round-half-up constant removed from one sensitivity ``inner`` rounding (PE 0).

    ``rshift_round(acc, W.frac)`` becomes a plain flooring shift: off by one LSB about
    half of the time, in one place of one processing element.
    """
    for m in _ROUND.finditer(text):
        if "sens" in m.group(1):
            return text[: m.start()] + f"$signed({m.group(1)} >>> {m.group(2)})" + text[m.end():]
    raise FaultNotApplicable("rounding_dropped: no sensitivity rounding site found")


def _clamp_sites(text: str, name_pattern: str) -> list[re.Match[str]]:
    pat = re.compile(
        r"if \(\((?P<v>" + name_pattern + r") > (?P<max>-?\d+)\)\) begin\s*\n\s*(?P<dst>\w+) = "
        r"(?P=max);"
    )
    return list(pat.finditer(text))


def error_bound_changed(text: str) -> str:
    """The error clamp ``sat_A(d - y)`` saturates at +1.5 instead of A's maximum."""
    sites = _clamp_sites(text, r"\w*ediff\w*")
    if not sites:
        raise FaultNotApplicable("error_bound_changed: no clamp of the error (ediff) found")
    m = sites[0]
    new_max = int(m.group("max")) * 3 // 4
    repl = m.group(0).replace(f"> {m.group('max')}", f"> {new_max}").replace(
        f"= {m.group('max')};", f"= {new_max};")
    return text[: m.start()] + repl + text[m.end():]


def weight_clamp_dropped(text: str) -> str:
    """Every weight clamp ``sat_W(W + dW)`` removed: an overflowing weight wraps around."""
    pat = re.compile(r"if \(\((\w*wsum\w*) (?:>|<) \(?-?\d+\)?\)\) begin")
    out, n = pat.subn("if (1'b0) begin", text)
    if n == 0:
        raise FaultNotApplicable("weight_clamp_dropped: no weight clamp (wsum) found")
    return out


def outputs_swapped(text: str) -> str:
    """Elements 0 and 1 of ``r_y`` swapped (a wrong index in the output packing)."""
    pat = re.compile(r"assign (\w*y_cat\w*)\[([^\]]+)\] = ([^;]+);")
    sites = list(pat.finditer(text))
    if len(sites) < 2:
        raise FaultNotApplicable("outputs_swapped: fewer than two slices of the y vector")
    a, b = sites[0], sites[1]
    new_a = f"assign {a.group(1)}[{a.group(2)}] = {b.group(3)};"
    new_b = f"assign {b.group(1)}[{b.group(2)}] = {a.group(3)};"
    return text[: a.start()] + new_a + text[a.end(): b.start()] + new_b + text[b.end():]


def lut_index_shifted(text: str) -> str:
    """The activation table indexed with a shift one too large (half the resolution)."""
    pat = re.compile(r"assign (\w+) = \$signed\((\w+) >>> (\d+)\);")
    for m in pat.finditer(text):
        # ts: the table index; in the AXI top it carries the core instance's prefix
        if "lut" in text[m.end(): m.end() + 200] or re.fullmatch(r"(\w+_)?ts", m.group(1)):
            return (text[: m.start()] + f"assign {m.group(1)} = $signed({m.group(2)} >>> "
                    f"{int(m.group(3)) + 1});" + text[m.end():])
    raise FaultNotApplicable("lut_index_shifted: no table index shift found")


FAULTS: dict[str, Callable[[str], str]] = {
    "rounding": rounding_dropped,
    "error_bound": error_bound_changed,
    "weight_clamp": weight_clamp_dropped,
    "swapped_outputs": outputs_swapped,
    "lut_index": lut_index_shifted,
}


# -- X faults: an uninitialised read that reaches an output -----------------------------
_E_FILE_WRITE = re.compile(r"if \((\w+)\) begin(\s*\n\s*\w+_mem\[\w+\] <= \w*e_wd;)")


def error_file_unwritten(text: str) -> str:
    """The ``e_k`` register file is never written (its write enable tied low).

    The update then multiplies an uninitialised word: in a 4-state simulator the weight
    gradient and, with learning on, every updated weight become X, which reaches the
    read-back (``m_rdata``) after the first step and ``r_y`` one step later. A 2-state
    simulator (Verilator) reads some value instead and fails on the values, if at all.
    """
    out, n = _E_FILE_WRITE.subn(r"if (1'b0) begin\2", text, count=1)
    if n == 0:
        raise FaultNotApplicable("error_file_unwritten: no write of the e_k file (e_wd) found")
    return out


_ESH_WRITE = re.compile(r"^[ \t]*esh <= [^;]+;\n", re.M)


def error_register_unwritten(text: str) -> str:
    """The error register ``esh`` is never written (neither reset nor loaded).

    ``r_e`` copies it at the end of every step, so the first result already carries the
    power-up X onto an output.
    """
    out, n = _ESH_WRITE.subn("", text)
    if n == 0:
        raise FaultNotApplicable("error_register_unwritten: no assignment to esh found")
    return out


X_FAULTS: dict[str, Callable[[str], str]] = {
    "e_file_unwritten": error_file_unwritten,
    "error_register_unwritten": error_register_unwritten,
}
