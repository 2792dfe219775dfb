"""Waveform helpers: a small VCD reader and the GTKWave save file written beside a dump.

The reader keeps only the signals asked for, so a long dump of a big array reads in
one pass with little memory. FST is not parsed here (no FST reader is installed);
``trtrl regress --waves`` writes VCD unless FST is asked for.

:func:`write_gtkw` writes the save file (``dump.gtkw``, plus ``dump.states.txt``, the
names of the controller's states, of the folded core or of the old one by the signals
in the dump): a view that opens on the first learning steps with
markers at step ends and every fixed-point quantity in decimal. The GTKWave facts it
relies on are cited from GTKWave 3.3's sources (``gtkwave3/src/``) where they are used;
:mod:`testbenches.gtkwave` loads a save file in GTKWave to check it.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import DEFAULT_ACT, DEFAULT_SENS, DEFAULT_WEIGHT
from trtrl.rtl.config import AXI_TOP, PORTS, TOP, ArrayConfig
from trtrl.rtl.manifest import Manifest

COUNTERS = ("step_count", "sat_count")
INTERFACE = tuple(p for p in PORTS if p not in COUNTERS)  # the counters get their own group
A_VECTORS = ("s_x", "s_d", "r_y", "r_e")  # packed vectors of format A, element e at [e*A +: A]


@dataclass
class VcdVar:
    """One variable of the dump: full dotted path, width and its value changes."""

    path: str
    width: int
    code: str
    times: list[int] = field(default_factory=list)
    values: list[int | None] = field(default_factory=list)  # None: X or Z

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def value_at(self, t: int) -> int | None:
        """Value at time ``t`` (the last change at or before it)."""
        i = bisect.bisect_right(self.times, t) - 1
        return self.values[i] if i >= 0 else None


@dataclass
class Vcd:
    """A parsed dump: timescale in seconds, variables by full path, the end time."""

    timescale_s: float
    vars: dict[str, VcdVar]
    end_time: int

    def find(self, name: str) -> VcdVar:
        """The variable named ``name`` (a full path, or a name under the top module)."""
        if name in self.vars:
            return self.vars[name]
        hits = [v for p, v in self.vars.items() if p.endswith("." + name)]
        if not hits:
            raise TrtrlError(f"signal {name!r} is not in the dump")
        return min(hits, key=lambda v: v.path.count("."))  # the shallowest: the top's port


_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}


def _parse_timescale(text: str) -> float:
    m = re.match(r"\s*(\d+)\s*([munpf]?s)", text)
    if not m:
        return 1e-9
    return int(m.group(1)) * _SCALE[m.group(2)]


def read_header(path: Path) -> tuple[float, list[tuple[str, int, str]]]:
    """Timescale and ``(path, width, code)`` of every variable, without the changes."""
    timescale, out = 1e-9, []
    scope: list[str] = []
    with open(path, errors="replace") as f:
        buf = ""
        for line in f:
            buf += line
            if "$end" not in line:
                continue
            tokens, buf = buf.split(), ""
            if not tokens:
                continue
            kind = tokens[0]
            if kind == "$timescale":
                timescale = _parse_timescale(" ".join(tokens[1:-1]))
            elif kind == "$scope":
                scope.append(tokens[2])
            elif kind == "$upscope":
                scope.pop()
            elif kind == "$var":
                width, code, name = int(tokens[2]), tokens[3], tokens[4]
                out.append((".".join(scope + [name]), width, code))
            elif kind == "$enddefinitions":
                break
    return timescale, out


def read_vcd(path: Path, names: list[str] | None = None) -> Vcd:
    """Parse ``path``; keep the changes of ``names`` only (``None``: every variable)."""
    path = Path(path)
    if not path.is_file():
        raise TrtrlError(f"{path}: no such file")
    if path.suffix == ".fst" or path.read_bytes()[:1] not in (b"$", b" ", b"\n", b"\t"):
        raise TrtrlError(f"{path}: not a VCD file (FST is not readable here: "
                         "rerun with TRTRL_WAVES_FORMAT=vcd, or convert with fst2vcd)")
    timescale, decl = read_header(path)
    all_vars = {p: VcdVar(p, w, c) for p, w, c in decl}
    vcd = Vcd(timescale, all_vars, 0)
    keep: dict[str, list[VcdVar]] = {}
    wanted = list(all_vars.values()) if names is None else [vcd.find(n) for n in names]
    for var in wanted:
        keep.setdefault(var.code, []).append(var)
    t = 0
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("$enddefinitions"):
                break
        for line in f:
            if not line:
                continue
            c = line[0]
            if c == "#":
                t = int(line[1:])
                continue
            if c in "01xzXZ":
                code, raw = line[1:].strip(), c
            elif c in "bB":
                raw, _, code = line[1:].partition(" ")
                code = code.strip()
            else:
                continue  # $dumpvars, real values, comments
            targets = keep.get(code)
            if not targets:
                continue
            value = None if any(ch in raw for ch in "xzXZ") else int(raw, 2)
            for var in targets:
                if var.times and var.times[-1] == t:
                    var.values[-1] = value
                else:
                    var.times.append(t)
                    var.values.append(value)
    vcd.end_time = t
    return vcd


def rising_edges(var: VcdVar) -> list[int]:
    """Times at which a 1-bit variable goes to 1."""
    out, prev = [], 0
    for t, v in zip(var.times, var.values, strict=True):
        if v == 1 and prev != 1:
            out.append(t)
        prev = v
    return out


# -- GTKWave save file --------------------------------------------------------------------
# Trace flags: the bit numbers of GTKWave's enum TraceEntFlagBits (gtkwave3/src/analyzer.h,
# the same in 3.3 and 3.4); a save file holds them in hex after "@" (savefile.c, PRIx64).
# A flags line and "[fpshift_count] F" stay in force for the traces that follow.
TR_HEX, TR_DEC, TR_BIN = 1 << 1, 1 << 2, 1 << 3
TR_RJUSTIFY, TR_BLANK, TR_SIGNED = 1 << 5, 1 << 9, 1 << 10
TR_COLLAPSED = 1 << 12  # hidden: the end row of a closed group
TR_FTRANSLATED = 1 << 13  # values through a translate file ("^1 FILE" before the trace)
TR_CLOSED, TR_GRP_BEGIN, TR_GRP_END = 1 << 22, 1 << 23, 1 << 24
TR_FPDECSHIFT = 1 << 30  # show value / 2**fpshift_count (with TR_SIGNED: signed)
NAMED_MARKERS = 26  # A..Z: WAVE_NUM_NAMED_MARKERS of a default build (markerbox.h)
WINDOW_STEPS = 3  # steps the save file opens on
WINDOW_SIZE = (1600, 1000)  # [size] of the main window, pixels
SST_WIDTH = 150  # the hierarchy pane on the left, collapsed ([sst_expanded] 0)
SIGNALS_WIDTH = 400  # the signal pane: "name=value" at the primary marker, in full
# GTKWave aligns every value after the longest name (comments and group titles too), so
# names stay short (at most NAME_CHARS) for the values to fit in that pane.
NAME_CHARS = 22
WAVE_MARGIN_PX = 26  # window width that is neither pane nor waves (GTKWave 3.3.118, GTK3)

# Format kinds: "bit", "uint", "sint", or signed fixed point: a fraction-bit count, or
# format letters whose fractions add up ("A", "W", "P"; "WA" for a product of W and A).
Kind = str | int


@dataclass(frozen=True)
class _Formats:
    """What the save file needs from the manifest: sizes and fraction bits."""

    n: int
    m: int
    k: int
    a: tuple[int, int] = DEFAULT_ACT  # (total, frac) of activations
    w: tuple[int, int] = DEFAULT_WEIGHT  # weights
    p: tuple[int, int] = DEFAULT_SENS  # sensitivities


def _read_manifest(manifest: Path | None) -> Manifest | None:
    """The manifest (through its schema), or None where there is none to read."""
    if manifest is None or not Path(manifest).is_file():
        return None
    return Manifest.read(manifest)


def _formats(man: Manifest | None, widths: dict[str, int]) -> _Formats:
    """Sizes and formats from the manifest, else the default formats and sizes guessed from
    the port widths."""
    if man is not None:
        f = man.fixed
        return _Formats(man.n, man.m, man.k, (f.act.total, f.act.frac),
                        (f.weight.total, f.weight.frac), (f.sens.total, f.sens.frac))
    a = _Formats.a
    return _Formats(max(1, widths.get("r_y", a[0]) // a[0]),
                    max(1, widths.get("s_x", a[0]) // a[0]),
                    max(1, widths.get("r_e", a[0]) // a[0]))


def _port_widths(man: Manifest | None, f: _Formats) -> dict[str, int]:
    """Port widths from the manifest, else those of the guessed sizes in default formats."""
    if man is not None:
        return dict(man.ports)
    return ArrayConfig(n=f.n, m=f.m, k=f.k).ports()


# Internal signals shown, by name under the top module: (name, label, kind); "a|b" names
# alternatives, the first one in the dump taken (MyHDL names a register after the block
# that drives it when it has no name of its own). MyHDL flattens the hierarchy, so lane
# p's signals are "lane<p>_<name>"; a name missing from the dump
# is left out. Kinds "A", "W", "P": that format's fraction bits, "WA": their sum.
Sig = tuple[str, str, str]

# The folded core (rtl/folded.py). Labels: r the row group, j the column of the slot (or
# of the forward MAC), i = P r + p the lane's row, m the neuron of a recurrent column,
# k an output, u the cycle of the slot (one kept quantity a cycle: outputs, ingress, egress).
FOLDED_STATES = ("IDLE", "CLEAR", "FWD", "PRE", "UPD", "DRAIN", "DONE")  # F_* = 0..6
FOLDED_CONTROL: tuple[Sig, ...] = (
    ("st", "state", "uint"),
    ("fr", "fwd r (group)", "uint"),
    ("fj", "fwd j (column)", "uint"),
    ("Er", "r: group (slot)", "uint"),
    ("Eaddr", "slot word r*L+j", "uint"),
    ("u", "u: cycle of slot", "uint"),
    ("learn_r", "learn (this step)", "bit"),
    ("lr_r", "lr_shift (this step)", "uint"),
)
FOLDED_BROADCAST: tuple[Sig, ...] = (  # the column's values, the same for every lane
    ("g_zfwd|lane0_g_zfwd", "z_j (FWD)", "A"),
    ("g_zslot", "z_j (slot)", "A"),
    ("g_fpb", "f'_m (slot)", "A"),
    ("g_fpk", "f'_k (slot)", "A"),
    ("g_e7", "e_k (to E7)", "A"),
)
FOLDED_ACT: tuple[Sig, ...] = (  # one neuron a cycle; A7 the results written
    ("aq0", "s_i (table in)", "WA"),
    ("a7_v", "A7 valid", "bit"),
    ("a7_i", "A7 i: neuron", "uint"),
    ("a7_y", "y_i(t+1)", "A"),
    ("a7_fp", "f'_i", "A"),
    ("a7_e", "e_i (i < K)", "A"),
)
# A lane: the slot's operands (E0: p = f' (a b + c d + z)), the pipeline's results
# (E4 inner, E7 the new sensitivity, E8 e_k p, the gradient, W3 the new weight) and the
# forward sum. Labels at most NAME_CHARS - len("lane10 ").
LANE: tuple[Sig, ...] = (
    ("wd", "W[i,j]", "W"),
    ("pid|pidr", "p_ing[i,j]", "P"),
    ("ped|pedr", "p_egr[i,j]", "P"),
    ("e0_a|mul_a_a_r", "E0 a (W)", "W"),
    ("e0_b|mul_a_b_r", "E0 b (p; z)", "P"),  # z (format A) in the forward pass
    ("e0_c|mul_c_a_r", "E0 c (W)", "W"),
    ("e0_d|mul_c_b_r", "E0 d (p)", "P"),
    ("e4_in|mul_f_b_r", "E4 inner", "P"),
    ("e7_p", "E7 p new", "P"),
    ("e8_g|mul_g_p", "E8 e_k p", "AP"),
    ("g_acc", "g (sum e p)", "AP"),
    ("w3_w", "W3 W[i,j] new", "W"),
    ("w_we", "W write", "bit"),
    ("s_acc", "s_i (FWD sum)", "WA"),
)

@dataclass(frozen=True)
class CoreView:
    """What the save file shows of one kind of core: found by its ``anchors`` (internal
    names it has), its states by code, its groups of internals. One core is in the tree;
    another core with the same ports adds its own view to ``VIEWS``."""

    kind: str
    anchors: tuple[str, ...]
    states: tuple[str, ...]
    control: tuple[Sig, ...]
    broadcast: tuple[Sig, ...]  # values sent to every lane
    act: tuple[Sig, ...]  # the activation unit
    unit: str  # "lane": the prefix of the per-unit signals
    unit_sigs: tuple[Sig, ...]


FOLDED = CoreView("folded", ("st", "Eaddr"), FOLDED_STATES, FOLDED_CONTROL, FOLDED_BROADCAST,
                  FOLDED_ACT, "lane", LANE)
VIEWS = (FOLDED,)
STATES = FOLDED_STATES


def _pick(widths: dict[str, int] | set[str], prefix: str, names: str) -> str | None:
    """The first of ``names`` ("a|b") that is in the dump under ``prefix``."""
    return next((prefix + n for n in names.split("|") if prefix + n in widths), None)


def units(widths: dict[str, int] | set[str], internal: str, view: CoreView) -> list[int]:
    """The lanes (PEs) the dump has signals of, in numerical order."""
    pat = re.compile(re.escape(internal + view.unit) + r"(\d+)_")
    return sorted({int(m.group(1)) for n in widths if (m := pat.match(n))})


def signal_kind(name: str, view: CoreView) -> str | None:
    """The kind of an internal signal by its name below the core (``lane3_wd``: ``"W"``),
    ``"state"`` for the controller's state, None for a name the view does not know."""
    if name == "st":
        return "state"
    for table in (view.control, view.broadcast, view.act):
        for names, _, k in table:
            if name in names.split("|"):
                return k
    m = re.fullmatch(re.escape(view.unit) + r"\d+_(.+)", name)
    if m:
        for names, _, k in view.unit_sigs:
            if m.group(1) in names.split("|"):
                return k
    return None


def _frac(kind: str, f: _Formats) -> int:
    return sum({"A": f.a[1], "W": f.w[1], "P": f.p[1]}[c] for c in kind)


class _SaveFile:
    """Lines of a save file; "@flags" and "[fpshift_count]" are written only on a change.

    Both start unknown (None), so a body built on its own and put in a group states them.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.flags: int | None = None
        self.shift: int | None = None

    def _set(self, flags: int, shift: int | None = None) -> None:
        if flags != self.flags:
            self.lines.append(f"@{flags:x}")
            self.flags = flags
        if shift is not None and shift != self.shift:
            self.lines.append(f"[fpshift_count] {shift}")
            self.shift = shift

    def trace(self, ref: str, kind: Kind, alias: str | None = None,
              translate: str | None = None) -> None:
        """One signal (``ref`` as GTKWave names it, ``name[msb:lsb]`` for a vector).

        ``translate``: a file of "value text" lines (relative to the save file) that
        GTKWave shows instead of the unsigned decimal value.
        """
        if translate:
            self._set(TR_DEC | TR_RJUSTIFY | TR_FTRANSLATED)
            self.lines += [f"^1 {translate}", f"+{{{alias}}} {ref}" if alias else ref, "^0"]
            return
        if kind == "bit":
            self._set(TR_BIN | TR_RJUSTIFY)
        elif kind == "uint":
            self._set(TR_DEC | TR_RJUSTIFY)
        elif kind == "hex":
            self._set(TR_HEX | TR_RJUSTIFY)
        elif kind == "sint":
            self._set(TR_SIGNED | TR_RJUSTIFY)
        else:
            self._set(TR_SIGNED | TR_RJUSTIFY | TR_FPDECSHIFT, int(kind))
        self.lines.append(f"+{{{alias}}} {ref}" if alias else ref)

    def slice(self, alias: str, ref: str, width: int, lo: int, bits: int, frac: int) -> None:
        """Bits ``[lo + bits - 1 : lo]`` of ``ref`` (``[width-1:0]``) as a fixed-point vector.

        ``(b)name[msb:lsb]`` is bit ``msb - b`` of that vector (bitvec.c, ExtractNodeSingleBit),
        listed most significant first.
        """
        self._set(TR_SIGNED | TR_RJUSTIFY | TR_FPDECSHIFT, frac)
        bits_ = " ".join(f"({width - 1 - b}){ref}" for b in range(lo + bits - 1, lo - 1, -1))
        self.lines.append(f"#{{{alias}}} {bits_}")

    def group(self, name: str, body: list[str], closed: bool = False) -> None:
        """A collapsible group around lines built by another :class:`_SaveFile`."""
        if not body:
            return
        self._set(TR_BLANK | TR_GRP_BEGIN | (TR_CLOSED if closed else 0))
        self.lines.append(f"-{name}")
        self.lines += body
        self.flags = self.shift = None  # the body changed the sticky state
        # a closed group's end row is hidden too (analyzer.c, CloseTrace)
        self._set(TR_BLANK | TR_GRP_END | (TR_CLOSED | TR_COLLAPSED if closed else 0))
        self.lines.append(f"-{name}")


def top_scope(paths: dict[str, int]) -> str:
    """The scope of the design: the AXI top if the dump has one, else the array.

    Icarus under cocotb dumps ``trtrl_array.*``; Verilator dumps the ports twice, under
    ``$rootio`` and under ``trtrl_array`` with the internal signals. An AXI top is the
    scope holding ``s_axis_tvalid`` with the most signals of its own (not below it), so
    a harness around it (``trtrl_axi_batch``) is not taken for it.
    """
    axi = [p[: -len("s_axis_tvalid")] for p in paths if p.endswith(".s_axis_tvalid")]
    if axi:
        def own(t: str) -> int:
            return sum(p.startswith(t) and "." not in p[len(t):] for p in paths)

        return max(axi, key=lambda t: (own(t), -t.count(".")))
    tops = [p[: -len("s_valid")] for p in paths if p.endswith(".s_valid")]
    if not tops:
        return ""
    return max(tops, key=lambda t: (sum(p.startswith(t) for p in paths), -t.count(".")))


def is_axi_dump(paths: dict[str, int] | set[str]) -> bool:
    """Whether a dump's design is the AXI top (it has the result stream's ``TLAST``)."""
    return any(p.endswith(".m_axis_tlast") for p in paths)


@dataclass
class StepTimes:
    """Times (dump ticks) of each step's start (``busy`` rises) and end (``r_valid`` rises)."""

    starts: list[int]
    ends: list[int]
    period: int  # clock period in ticks (0: unknown)
    end_time: int


def step_times(dump: Path, top: str = "") -> StepTimes:
    """Step boundaries of a VCD: step ``s`` ends at the ``s``-th ``r_valid`` pulse.

    A dump of the AXI top (:func:`axi_step_times`) has no ``r_valid`` at its top: there a
    step ends when the last beat of its result packet is taken.
    """
    if is_axi_dump(read_vcd_names(dump)):
        return axi_step_times(dump, top)
    names = [top + n for n in ("r_valid", "busy", "clk")]
    vcd = read_vcd(dump, [n for n in names if n in read_vcd_names(dump)])
    ends, rises, clk = (rising_edges(vcd.vars[n]) if n in vcd.vars else [] for n in names)
    period = min((b - a for a, b in zip(clk, clk[1:], strict=False)), default=0)
    starts = []
    for e in ends:
        i = bisect.bisect_right(rises, e) - 1
        # the last rise of busy before the pulse (a clear after reset rises earlier)
        starts.append(rises[i] if i >= 0 else e)
    return StepTimes(starts, ends, period, vcd.end_time)


AXIS_HANDSHAKE = ("tvalid", "tready", "tlast")


def beats(vcd: Vcd, top: str, stream: str, edges: list[int]) -> list[tuple[int, bool]]:
    """``(time, last)`` of every beat taken on ``stream`` (``s_axis`` or ``m_axis``).

    A beat is taken at a rising clock edge with ``TVALID`` and ``TREADY`` high; the
    values that count are those before the edge (a testbench or the design changes them
    at the edge itself, and the dump lists those changes at the edge's time).
    """
    valid, ready, last = (vcd.vars[f"{top}{stream}_{n}"] for n in AXIS_HANDSHAKE)
    return [(t, last.value_at(t - 1) == 1) for t in edges
            if valid.value_at(t - 1) == 1 and ready.value_at(t - 1) == 1]


def axi_step_times(dump: Path, top: str = "") -> StepTimes:
    """Step boundaries of a dump of the AXI top, from its two streams.

    Step ``s`` starts with the first beat of the ``s``-th sample packet taken on
    ``s_axis`` and ends with the last beat (``TLAST``) of the ``s``-th result packet
    taken on ``m_axis``: ``m_axis_tvalid & m_axis_tready & m_axis_tlast`` at a rising
    ``aclk``.
    """
    top = top or top_scope({p: 0 for p in read_vcd_names(dump)})
    names = [top + "aclk"] + [f"{top}{s}_{n}" for s in ("s_axis", "m_axis")
                              for n in AXIS_HANDSHAKE]
    vcd = read_vcd(dump, names)
    edges = rising_edges(vcd.vars[top + "aclk"])
    period = min((b - a for a, b in zip(edges, edges[1:], strict=False)), default=0)
    ends = [t for t, last in beats(vcd, top, "m_axis", edges) if last]
    starts, first_beat = [], True
    for t, last in beats(vcd, top, "s_axis", edges):
        if first_beat:
            starts.append(t)
        first_beat = last
    # a step whose sample packet the dump does not show (none): start at its end
    starts = (starts + ends[len(starts):])[: len(ends)]
    return StepTimes(starts, ends, period, vcd.end_time)


def read_vcd_names(dump: Path) -> set[str]:
    """Full paths of every variable of a VCD (header only)."""
    return {p for p, _, _ in read_header(Path(dump))[1]}


def _time_unit_multiplier(timescale_s: float) -> int:
    """GTKWave's time units per dump tick: it counts in the timescale's unit ("10ps": 10)."""
    exp3 = math.floor(round(math.log10(timescale_s), 6) / 3) * 3
    return max(1, round(timescale_s / 10.0**exp3))


@dataclass
class GtkwView:
    """Where a save file opens: steps ``first``..``last``, times in GTKWave's units."""

    first: int | None  # None: the dump has no step
    last: int | None
    t0: int  # [timestart]
    t1: int  # the right edge the zoom is chosen for
    primary: int  # primary marker: the end of step ``first``
    markers: list[tuple[str, int]]  # named markers A..: ("step s done", time)
    unit_s: float  # seconds per unit

    def ns(self, t: int) -> float:
        return round(t * self.unit_s * 1e9, 3)


def gtkw_view(dump: Path, first_step: int = 0, steps: int = WINDOW_STEPS) -> GtkwView:
    """The window of :func:`write_gtkw`: steps ``first_step``.. with a margin either side."""
    timescale, decl = read_header(Path(dump))
    top = top_scope({p: w for p, w, _ in decl})
    st = step_times(Path(dump), top)
    mult = _time_unit_multiplier(timescale)
    unit = timescale / mult
    if not st.ends:
        return GtkwView(None, None, 0, st.end_time * mult, -1, [], unit)
    first = min(max(0, first_step), len(st.ends) - 1)
    last = min(first + max(1, steps) - 1, len(st.ends) - 1)
    # a little before the first step's start and after the last one's end
    pad = max(2 * st.period, (st.ends[last] - st.starts[first]) // 12)
    t0 = max(0, st.starts[first] - 2 * st.period) * mult
    markers = [(f"step {s} done", st.ends[s] * mult)
               for s in range(first, min(len(st.ends), first + NAMED_MARKERS))]
    return GtkwView(first, last, t0, (st.ends[last] + pad) * mult, st.ends[first] * mult,
                    markers, unit)


def _core_prefixes(widths: dict[str, int] | set[str]) -> tuple[str, str, CoreView]:
    """Name prefixes of the core's ports and of its internal signals in a flat dump, and
    the kind of core (:data:`VIEWS`, by the internal names it has; the folded one when
    none is found).

    The bare core dumps ``s_valid``, ``st``, ``lane0_wd``; MyHDL flattens the AXI top, so
    there the core's ports are the shell's wires (``core_s_valid``) and its internals
    carry the instance name (``trtrl_array0_st``). Found by name, not assumed.
    """
    def prefix(anchors: tuple[str, ...]) -> str | None:
        found = [n[: -len(anchors[0])] for n in widths if n.endswith(anchors[0])]
        found = [f for f in found if all(f + a in widths for a in anchors)]
        return min(found, key=len, default=None)

    ports = prefix(("r_valid", "s_ready", "busy")) or ""
    for view in VIEWS:
        internal = prefix(view.anchors)
        if internal is not None:
            return ports, internal, view
    return ports, "", FOLDED


def core_signal(names: dict[str, int] | set[str], name: str) -> tuple[str, str | None]:
    """The dump's path of a signal of the core named ``name`` as in the bare core (a port
    ``busy``, an internal ``st`` or ``lane0_wd``), and its kind (:func:`signal_kind`).

    ``names`` are the dump's full paths; in a dump of the AXI top the core's ports are
    its ``core_*`` wires and its internals carry the instance's prefix. A name not found
    there is returned as it is (for :meth:`Vcd.find`), kind None.
    """
    top = top_scope(dict.fromkeys(names, 0))
    local = {p[len(top):] for p in names if p.startswith(top) and "." not in p[len(top):]}
    ports, internal, view = _core_prefixes(local)
    for full in (name, ports + name, internal + name):
        if full in local:
            kind = signal_kind(full[len(internal):], view) if full.startswith(internal) \
                else None
            return top + full, kind
    return name, None


def state_names(names: dict[str, int] | set[str]) -> tuple[str, ...]:
    """The controller's state names, by code, of the core in a dump (by its signals)."""
    top = top_scope(dict.fromkeys(names, 0))
    return _core_prefixes({p[len(top):] for p in names if p.startswith(top)})[2].states


def _resp_names() -> dict[int, str]:
    """AXI4 response codes by value (the register map's ``RESP``, plus EXOKAY)."""
    from trtrl.rtl.regmap import RESP

    return {1: "EXOKAY", **{v: k for k, v in RESP.items()}}


def address_names(man: Manifest) -> dict[int, str]:
    """AXI4-Lite byte address -> name, from the manifest's register map: each register by
    its name, each memory-window word as ``WINDOW[i,j]`` (word ``i*L + j`` of the window)."""
    from trtrl.rtl.regmap import RegisterMap

    rmap = RegisterMap.from_json(man.details["registers"])
    names = {r.offset: r.name for r in rmap.registers}
    for w in rmap.windows:
        for word in range(w.words):
            names[w.base + 4 * word] = f"{w.name}[{word // man.L},{word % man.L}]"
    return dict(sorted(names.items()))


def _translate_text(names: dict[int, str]) -> str:
    """A GTKWave translate file: "value text" per line, the value as the trace shows it
    (decimal here; translate.c matches the formatted value as a string)."""
    return "".join(f"{v} {n}\n" for v, n in sorted(names.items()))


def write_gtkw(dump: Path, manifest: Path | None = None, *, first_step: int = 0,
               steps: int = WINDOW_STEPS) -> Path:
    """Write ``<dump>.gtkw`` (and its translate files): a GTKWave view of the dump.

    The array (``trtrl_array``): groups, in this order, the stream ports (packed vectors
    split per element), the results ``r_y[i]`` and ``r_e[k]``, the counters, the
    controller (state by name, ``<dump>.states.txt``), the values broadcast to the lanes,
    the activation unit, lane 0 (open) and lanes 1..P-1 (closed), the memory port.
    Fixed-point quantities show in decimal with their formats from the manifest; internal
    signals found by name (the folded core's :data:`FOLDED_CONTROL`,
    :data:`FOLDED_BROADCAST`, :data:`FOLDED_ACT`, :data:`LANE`) get aliases that say
    what they are, and those missing are left out.

    The AXI top (``trtrl_axi``, a dump with ``m_axis_tlast``): clock and reset, the sample
    stream, the result stream (``TDATA`` as format A), AXI4-Lite writes (address, data,
    response) and reads, then the core below the shell as above. Addresses show as
    register names (``<dump>.regs.txt``, made from the manifest's register map) and
    responses by name (``<dump>.resp.txt``).

    The view opens on ``steps`` steps from ``first_step`` (:func:`gtkw_view`; by default
    the first learning steps, after reset and weight load), with named markers at the
    ends of steps and the primary marker at the end of the first, so the signal pane
    lists the values there. Paths in the file are relative to it. An FST dump
    (unreadable here) gets the ports of the manifest under a guessed scope and opens at
    time 0.
    """
    dump = Path(dump)
    out = dump.with_suffix(".gtkw")
    vcd = dump.suffix == ".vcd"
    decl = read_header(dump)[1] if vcd else []
    paths = {p: w for p, w, _ in decl}
    data = _read_manifest(manifest)
    top = top_scope(paths)
    if not vcd or not top:  # FST: the manifest's top module, the ports it implies
        top = f"{data.top if data else TOP}."
    widths = {p[len(top):]: w for p, w in paths.items() if p.startswith(top)
              and "." not in p[len(top):]}
    axi = "m_axis_tlast" in widths if vcd else bool(data and data.interface == AXI_TOP)
    core_ports, internal, view = _core_prefixes(widths)
    if not axi:
        core_ports = ""
    fmts = _formats(data, {n: widths[core_ports + n] for n in A_VECTORS
                           if core_ports + n in widths})
    if not vcd:
        widths = _port_widths(data, fmts)

    def ref(name: str) -> str:
        w = widths[name]
        return top + name if w == 1 else f"{top}{name}[{w - 1}:0]"

    stem = out.with_suffix("")
    files = {"states": stem.with_name(stem.name + ".states.txt"),
             "regs": stem.with_name(stem.name + ".regs.txt"),
             "resp": stem.with_name(stem.name + ".resp.txt")}
    texts: dict[str, str] = {}
    body = _SaveFile()
    if axi:
        texts.update(_axi_groups(body, widths, ref, fmts, files, data))
    core_title = "Core " if axi else ""
    texts.update(_core_groups(body, widths, ref, fmts, files, core_ports, internal, view,
                              core_title))

    # -- time window and markers ------------------------------------------------------------
    anchor = top + ("m_axis_tlast" if axi else "r_valid")
    view = gtkw_view(dump, first_step, steps) if vcd and anchor in paths else None
    t0, span, markers, primary = 0, 0, [], -1
    if view is not None:
        t0, span, markers, primary = view.t0, view.t1 - view.t0, view.markers, view.primary
    wave_px = WINDOW_SIZE[0] - SST_WIDTH - SIGNALS_WIDTH - WAVE_MARGIN_PX
    # GTKWave shows 2**-zoom time units per 200 pixels (wavewindow.c, calczoom)
    zoom = -math.log2(200.0 * span / wave_px) if span > 0 else 0.0
    named = [str(t) for _, t in markers] + ["-1"] * (NAMED_MARKERS - len(markers))
    rel = Path(os.path.relpath(dump.resolve(), out.resolve().parent)).as_posix()
    head = [
        "[*] GTKWave save file written by trtrl (testbenches/waves.py)",
        f"[*] {'AXI top' if axi else 'array'}; formats: A {fmts.a[0]}.{fmts.a[1]} "
        f"W {fmts.w[0]}.{fmts.w[1]} P {fmts.p[0]}.{fmts.p[1]}; N {fmts.n} M {fmts.m} "
        f"K {fmts.k}",
        f'[dumpfile] "{rel}"',
        f'[savefile] "{out.name}"',
        f"[timestart] {t0}",
        f"[size] {WINDOW_SIZE[0]} {WINDOW_SIZE[1]}",
        "[pos] -1 -1",
        f"*{zoom:.6f} {primary} " + " ".join(named),
    ]
    head += [f"[markername] {chr(ord('A') + i)}{name}" for i, (name, _) in enumerate(markers)]
    head += [
        f"[treeopen] {top}",
        f"[sst_width] {SST_WIDTH}",
        f"[signals_width] {SIGNALS_WIDTH}",
        "[sst_expanded] 0",
    ]
    writes = [(files[k], t) for k, t in texts.items()]
    writes.append((out, "\n".join(head + body.lines) + "\n"))
    for path, text in writes:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return out


Ref = Callable[[str], str]


def _core_groups(body: _SaveFile, widths: dict[str, int], ref: Ref, fmts: _Formats,
                 files: dict[str, Path], ports: str, internal: str, view: CoreView,
                 title: str) -> dict[str, str]:
    """The core's groups (ports named ``ports + port``, internals ``internal + name``
    shown as ``view`` says; a ``title`` marks them as the core below a shell); returns
    the translate files they use, by key of ``files``."""
    def kind(k: Kind) -> Kind:
        return _frac(k, fmts) if isinstance(k, str) and k.isupper() else k

    def alias(name: str) -> str | None:
        return name if ports else None  # the shell's wire names: show the port's

    iface, memory, results = _SaveFile(), _SaveFile(), _SaveFile()
    fixed_words = fmts.w[1] == fmts.p[1]  # m_rdata carries W or P: one shift fits both
    for name in INTERFACE:
        full = ports + name
        if full not in widths:
            continue
        w = widths[full]
        group = memory if name.startswith("m_") else results if name in ("r_y", "r_e") \
            else iface
        if name in A_VECTORS:  # packed: one fixed-point trace per element
            count = {"s_x": fmts.m, "s_d": fmts.k, "r_y": fmts.n, "r_e": fmts.k}[name]
            for e in range(count):
                if (e + 1) * fmts.a[0] <= w:
                    group.slice(f"{name}[{e}]", ref(full), w, e * fmts.a[0], fmts.a[0],
                                fmts.a[1])
        elif w == 1:
            group.trace(ref(full), "bit", alias(name))
        elif name == "m_wdata":
            group.trace(ref(full), fmts.w[1], "m_wdata (W)")
        elif name == "m_rdata":
            group.trace(ref(full), fmts.w[1] if fixed_words else "sint",
                        "m_rdata (W, P)" if fixed_words else "m_rdata (raw)")
        else:
            group.trace(ref(full), "uint", name)

    # -- internals (VCD only) -------------------------------------------------------------
    used: dict[str, str] = {}

    def table(sigs: tuple[Sig, ...], prefix: str = "", label: Callable[[str], str] = str
              ) -> _SaveFile:
        g = _SaveFile()
        for names, text, k in sigs:
            full = _pick(widths, internal + prefix, names)
            if full is None:
                continue
            translate = None
            if names == "st":
                translate = files["states"].name
                used["states"] = "".join(f"{i} {s}\n" for i, s in enumerate(view.states))
            g.trace(ref(full), kind(k), label(text), translate)
        return g

    control = table(view.control)
    broadcast = table(view.broadcast)
    act = table(view.act)
    unit_groups = []
    found = units(widths, internal, view)
    lanes = max(found, default=0) + 1
    for u in found:
        # lane u serves rows i = P r + u: i and j are the row and column of now
        group = f"Lane {u}: rows {lanes}r+{u}" if lanes > 1 else f"Lane {u}: all rows"
        g = table(view.unit_sigs, f"{view.unit}{u}_", lambda t, u=u: f"{view.unit}{u} {t}")
        unit_groups.append((group, g))
    counters = _SaveFile()
    for name in COUNTERS:
        if ports + name in widths:
            counters.trace(ref(ports + name), "uint", name)

    core = bool(title)
    body.group("Core interface" if core else "Interface", iface.lines)
    body.group(f"{'Core results' if core else 'Results'} r_y, r_e", results.lines)
    body.group("Core counters" if core else "Counters", counters.lines)
    body.group("Controller", control.lines)
    body.group("Broadcast to lanes", broadcast.lines)
    body.group("Activation unit", act.lines)
    for i, (group, g) in enumerate(unit_groups):
        body.group(group, g.lines, closed=i > 0)
    body.group("Core memory port" if core else "Memory port", memory.lines)
    return used


AXIL_WRITE = ("awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready",
              "bresp", "bvalid", "bready")
AXIL_READ = ("araddr", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready")


def _axi_groups(body: _SaveFile, widths: dict[str, int], ref: Ref, fmts: _Formats,
                files: dict[str, Path], man: Manifest | None) -> dict[str, str]:
    """The AXI top's own groups: clock and reset, both streams, AXI4-Lite; returns the
    translate files they use (addresses need the manifest's register map)."""
    used = {"resp": _translate_text(_resp_names())}
    if man is not None and "registers" in man.details:
        used["regs"] = _translate_text(address_names(man))
    clock = _SaveFile()
    for name in ("aclk", "aresetn"):
        if name in widths:
            clock.trace(ref(name), "bit")
    body.group("Clock, reset", clock.lines)
    for prefix, title, what in (("s_axis", "Sample stream s_axis", "x, d"),
                                ("m_axis", "Result stream m_axis", "y, e")):
        g = _SaveFile()
        for n in ("tvalid", "tready", "tlast", "tuser"):
            if f"{prefix}_{n}" in widths:
                g.trace(ref(f"{prefix}_{n}"), "bit")
        if f"{prefix}_tdata" in widths:  # format-A words, sign-extended to TDATA
            g.trace(ref(f"{prefix}_tdata"), fmts.a[1], f"{prefix}_tdata ({what})")
        body.group(title, g.lines)
    for names, title in ((AXIL_WRITE, "AXI4-Lite write"), (AXIL_READ, "AXI4-Lite read")):
        g = _SaveFile()
        for n in names:
            full = f"s_axil_{n}"
            if full not in widths:
                continue
            if n.endswith("addr"):
                g.trace(ref(full), "uint", full, files["regs"].name if "regs" in used else None)
            elif n.endswith("resp"):
                g.trace(ref(full), "uint", full, files["resp"].name)
            elif widths[full] == 1:
                g.trace(ref(full), "bit")
            else:
                g.trace(ref(full), "hex", full)
        # folded: the bus is idle while samples stream, and the steps are what the view
        # opens on; one click shows register names and responses
        body.group(title, g.lines, closed=True)
    return used
