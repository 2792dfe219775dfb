"""The GTKWave save file: what it shows, checked by parsing it (and by GTKWave if installed).

The fast tests write a small VCD themselves, named the way Icarus and Verilator name
the folded core's signals under cocotb (Verilator adds a ``$rootio`` scope with the
ports), with MyHDL's generated names among the real ones; the formats differ per
quantity, so a wrong fixed-point shift shows. The GTKWave tests load save files of real dumps of the
tiny array headless (skipped without ``gtkwave`` and ``Xvfb``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.rtl.config import AXI_TOP, ArrayConfig
from trtrl.rtl.manifest import Manifest
from trtrl.testbenches import gtkwave
from trtrl.testbenches.waves import (
    NAME_CHARS,
    NAMED_MARKERS,
    SIGNALS_WIDTH,
    SST_WIDTH,
    TR_BIN,
    TR_CLOSED,
    TR_COLLAPSED,
    TR_DEC,
    TR_FPDECSHIFT,
    TR_FTRANSLATED,
    TR_GRP_BEGIN,
    TR_GRP_END,
    TR_SIGNED,
    WAVE_MARGIN_PX,
    WINDOW_SIZE,
    WINDOW_STEPS,
    read_vcd,
    rising_edges,
    write_gtkw,
)

# -- a synthetic dump ----------------------------------------------------------------------
N, M, K = 12, 1, 1
LANES = 4  # the folded core's P: lane p serves rows 4 r + p
A, W, P = (16, 14), (18, 12), (18, 13)  # distinct fractions: a wrong shift is caught
PERIOD = 10_000  # ps
STEP_CYCLES = 30
STEPS = 8
PORTS = {"clk": 1, "rst": 1, "s_valid": 1, "s_ready": 1, "s_x": 16, "s_d": 16, "learn": 1,
         "lr_shift": 5, "r_valid": 1, "r_y": N * 16, "r_e": 16, "busy": 1, "clear": 1,
         "m_addr": 9, "m_we": 1, "m_wdata": 18, "m_re": 1, "m_rvalid": 1, "m_rdata": 18,
         "step_count": 32, "sat_count": 32}
# the folded core's names (rtl/folded.py): a lane's p_ing under its sign-extended copy's
# name ("pidr", as MyHDL names it in the default formats), delay lines as MyHDL names them
INTERNAL = {"st": 3, "fj": 4, "Er": 2, "Eaddr": 4, "u": 3, "g_zslot": 16, "aq0": 49,
            "a7_v": 1, "a7_y": 16, "chain_mux0_copy4_dst": 16,
            "lane0_chain_mux4__mux_stage42_dst": 18, "_dec_stage0_hi": 4, "qv_d1_dst": 1,
            **{f"lane{p}_{s}": w for p in range(LANES)
               for s, w in (("wd", 18), ("pidr", 18), ("e7_p", 18), ("g_acc", 49),
                            ("lv_d1_dst", 1))}}


def wd_value(step: int) -> int:
    """Raw lane0_wd (format W) from the end of step ``step``."""
    return -(step + 1) * 77


def y_value(step: int, e: int) -> int:
    """Raw r_y element e after step ``step`` (distinct, some negative)."""
    return ((step + 1) * 1000 + e * 37) * (-1 if (step + e) % 3 == 0 else 1)


@dataclass
class Dump:
    path: Path
    manifest: Path
    starts: list[int] = field(default_factory=list)  # busy rises of each step (ps)
    ends: list[int] = field(default_factory=list)  # r_valid rises
    last_weight_write: int = 0


class SyntheticVcd:
    """A VCD written cycle by cycle, as a simulator would dump it: the tests' stand-in
    dumps. ``scopes`` are (module, signals with widths); a signal in several scopes (the
    Verilator style's ``$rootio`` copy of the ports) shares one code, so one value."""

    def __init__(self, clock: str, scopes: list[tuple[str, dict[str, int]]]) -> None:
        self.clock, self.t = clock, 0
        self.codes: dict[str, str] = {}
        self.widths: dict[str, int] = {}
        self.lines = ["$timescale 1ps $end"]
        for name, sigs in scopes:
            self.lines.append(f"$scope module {name} $end")
            for sig, w in sigs.items():
                code = self.codes.setdefault(sig, f"c{len(self.codes)}")
                self.widths.setdefault(sig, w)
                self.lines.append(f"$var wire {w} {code} {sig}"
                                  f"{f' [{w - 1}:0]' if w > 1 else ''} $end")
            self.lines.append("$upscope $end")
        self.lines.append("$enddefinitions $end")
        self.state = dict.fromkeys(self.widths, 0)
        self.lines += ["#0", "$dumpvars", *(self._val(sig, 0) for sig in self.widths), "$end"]

    def _val(self, sig: str, v: int) -> str:
        w, code = self.widths[sig], self.codes[sig]
        return f"{v & 1}{code}" if w == 1 else f"b{v & ((1 << w) - 1):b} {code}"

    def cycle(self, **changes: int) -> int:
        """One clock: the changes happen at this rising edge (registered outputs), the
        falling edge half a period later; returns the next edge, the one that samples them."""
        out = [f"#{self.t}", self._val(self.clock, 1)]
        for sig, v in changes.items():
            if self.state[sig] != v:
                self.state[sig] = v
                out.append(self._val(sig, v))
        self.lines.extend(out + [f"#{self.t + PERIOD // 2}", self._val(self.clock, 0)])
        self.t += PERIOD
        return self.t

    def write(self, path: Path) -> None:
        path.write_text("\n".join(self.lines) + "\n")


def write_dump(folder: Path, style: str) -> Dump:
    """A VCD of reset, clear, weight load, then ``STEPS`` steps; ``style`` icarus|verilator."""
    folder.mkdir(parents=True, exist_ok=True)
    top = ("trtrl_array", {**PORTS, **INTERNAL})
    vcd = SyntheticVcd("clk", [("$rootio", PORTS), top] if style == "verilator" else [top])
    cycle = vcd.cycle
    dump = Dump(folder / "dump.vcd", folder / "trtrl_array.json")

    for _ in range(3):
        cycle(rst=1)
    cycle(rst=0, busy=1, st=1)  # F_CLEAR
    for _ in range(14):
        cycle()
    cycle(busy=0, st=0, s_ready=1)
    for a in range(20):  # weight load
        dump.last_weight_write = vcd.t
        cycle(m_we=1, m_addr=a, m_wdata=a * 100)
    cycle(m_we=0)
    for step in range(STEPS):
        cycle(s_valid=1, s_x=1000 + step, s_d=2000 + step)
        dump.starts.append(vcd.t)
        cycle(s_valid=0, s_ready=0, busy=1, st=2)
        for c in range(STEP_CYCLES):  # F_FWD .. F_DONE
            cycle(Eaddr=c % 14, st=2 + c * 5 // STEP_CYCLES, g_zslot=c * 50 - 700)
        packed = sum((y_value(step, e) & 0xFFFF) << (16 * e) for e in range(N))
        dump.ends.append(vcd.t)
        cycle(r_valid=1, busy=0, s_ready=1, st=0, r_y=packed, r_e=-(step + 1) * 300,
              step_count=step + 1, lane0_wd=wd_value(step))
        cycle(r_valid=0)
        for _ in range(4 if step % 2 else 9):  # uneven gaps (read-back in some steps)
            cycle()
    vcd.write(dump.path)
    fixed = FixedConfig(act=FixedFormat(*A), weight=FixedFormat(*W), sens=FixedFormat(*P))
    Manifest(n=N, m=M, k=K, fixed=fixed, cycles_per_step=STEP_CYCLES + 1, clear_cycles=1,
             read_latency=2, addr_bits=PORTS["m_addr"], idx_bits=PORTS["m_addr"] - 2,
             ports=PORTS).write(dump.manifest)
    return dump


# -- reading a save file the way GTKWave does ---------------------------------------------
@dataclass
class Row:
    """One row of GTKWave's signal pane as the save file asks for it."""

    name: str  # as displayed: the alias, else the last path component
    kind: str  # "trace", "vector" (#{...} of bits) or "blank" (comment, group begin/end)
    flags: int
    shift: int  # [fpshift_count] in force
    refs: list[str]
    translate: str | None = None


@dataclass
class SaveFile:
    header: dict[str, str]
    markers: dict[str, str]  # letter -> name
    zoom: float
    primary: int
    named: list[int]
    rows: list[Row]


def parse_gtkw(text: str) -> SaveFile:
    """Sticky state as in savefile.c: "@flags", "[fpshift_count]" and "^" apply onward."""
    header: dict[str, str] = {}
    markers: dict[str, str] = {}
    rows: list[Row] = []
    flags, shift, translate = 0x20, 0, None  # GTKWave starts at TR_RJUSTIFY, shift 0
    zoom, primary, named = 0.0, -1, []
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("[fpshift_count]"):
            shift = int(line.split()[1])
        elif line.startswith("[markername]"):
            rest = line.split(" ", 1)[1]
            markers[rest[0]] = rest[1:]
        elif line.startswith("["):
            key, _, value = line[1:].partition("]")
            header.setdefault(key, value.strip())
        elif line.startswith("*"):
            parts = line[1:].split()
            zoom, primary, named = float(parts[0]), int(parts[1]), [int(p) for p in parts[2:]]
        elif line.startswith("@"):
            flags = int(line[1:], 16)
        elif line.startswith("^"):
            translate = line.split(" ", 1)[1] if line[1] != "0" else None
        elif line.startswith("-"):
            rows.append(Row(line[1:], "blank", flags, shift, []))
        elif line.startswith("#{"):
            alias, _, bits = line[2:].partition("} ")
            rows.append(Row(alias, "vector", flags, shift, bits.split(), translate))
        elif line.startswith("+{"):
            alias, _, ref = line[2:].partition("} ")
            rows.append(Row(alias, "trace", flags, shift, [ref], translate))
        else:
            rows.append(Row(line.rsplit(".", 1)[-1], "trace", flags, shift, [line], translate))
    return SaveFile(header, markers, zoom, primary, named, rows)


def groups(sf: SaveFile) -> dict[str, list[Row]]:
    """Rows of each group, by title (groups do not nest here)."""
    out: dict[str, list[Row]] = {}
    current: str | None = None
    for r in sf.rows:
        if r.kind == "blank" and r.flags & TR_GRP_BEGIN:
            current = r.name
            out[current] = []
        elif r.kind == "blank" and r.flags & TR_GRP_END:
            current = None
        elif current is not None:
            out[current].append(r)
    return out


def fixed_shift(row: Row) -> int | None:
    """The fraction bits GTKWave divides by, or None when not shown as signed fixed point."""
    if row.flags & TR_SIGNED and row.flags & TR_FPDECSHIFT:
        return row.shift
    return None


def gtkw_for(tmp_path: Path, style: str) -> tuple[Dump, SaveFile, str]:
    dump = write_dump(tmp_path / style, style)
    out = write_gtkw(dump.path, dump.manifest)
    assert out == dump.path.with_suffix(".gtkw")
    text = out.read_text()
    return dump, parse_gtkw(text), text


STYLES = ["icarus", "verilator"]


@pytest.mark.parametrize("style", STYLES)
def test_save_file_opens_on_the_first_steps_with_markers(tmp_path: Path, style: str) -> None:
    dump, sf, _ = gtkw_for(tmp_path, style)
    # the reader agrees with the dump this test wrote
    vcd = read_vcd(dump.path, ["trtrl_array.r_valid"])
    assert rising_edges(vcd.vars["trtrl_array.r_valid"]) == dump.ends
    t0 = int(sf.header["timestart"])
    assert dump.last_weight_write < t0 <= dump.starts[0], "opens after reset and weight load"
    # the right edge for the pane GTKWave draws: 2**-zoom units per 200 pixels
    wave_px = WINDOW_SIZE[0] - SST_WIDTH - SIGNALS_WIDTH - WAVE_MARGIN_PX
    t1 = t0 + 2.0 ** -sf.zoom / 200.0 * wave_px
    last = WINDOW_STEPS - 1
    assert dump.ends[last] < t1 < dump.ends[last + 1], "zoomed to the first steps"
    assert WINDOW_STEPS >= 2
    # named markers A.. at the ends of steps, primary marker at the end of step 0
    count = min(STEPS, NAMED_MARKERS)
    assert len(sf.named) == NAMED_MARKERS
    assert sf.named[:count] == dump.ends[:count] and set(sf.named[count:]) == {-1}
    assert sf.markers == {chr(ord("A") + s): f"step {s} done" for s in range(count)}
    assert sf.primary == dump.ends[0]


@pytest.mark.parametrize("style", STYLES)
def test_save_file_shows_fixed_point_values_per_element(tmp_path: Path, style: str) -> None:
    _, sf, text = gtkw_for(tmp_path, style)
    rows = {r.name: r for r in sf.rows if r.kind != "blank"}
    width = N * 16
    for e in range(N):
        r = rows[f"r_y[{e}]"]
        assert r.kind == "vector" and fixed_shift(r) == A[1]
        # (b)name[msb:lsb] is bit msb - b: element e's bits, most significant first
        bits = [width - 1 - int(re.match(r"\((\d+)\)", ref).group(1)) for ref in r.refs]
        assert bits == list(range(16 * e + 15, 16 * e - 1, -1))
        assert {ref.split(")", 1)[1] for ref in r.refs} == {f"trtrl_array.r_y[{width - 1}:0]"}
    assert fixed_shift(rows["r_e[0]"]) == A[1] and fixed_shift(rows["s_x[0]"]) == A[1]
    assert fixed_shift(rows["s_d[0]"]) == A[1]
    # never the packed word
    assert not [r for r in sf.rows if r.kind == "trace" and "r_y" in r.refs[0]]
    # each quantity with its own format (W 18.12, P 18.13, sums of fractions)
    assert fixed_shift(rows["m_wdata (W)"]) == W[1]
    assert fixed_shift(rows["m_rdata (raw)"]) is None  # W and P differ: raw integers
    assert rows["m_rdata (raw)"].flags & TR_SIGNED
    assert fixed_shift(rows["lane0 W[i,j]"]) == W[1] and fixed_shift(rows["lane3 W[i,j]"]) == W[1]
    assert rows["lane3 W[i,j]"].refs == ["trtrl_array.lane3_wd[17:0]"]
    assert fixed_shift(rows["lane2 p_ing[i,j]"]) == P[1]
    assert rows["lane2 p_ing[i,j]"].refs == ["trtrl_array.lane2_pidr[17:0]"]
    assert fixed_shift(rows["lane1 E7 p new"]) == P[1]
    assert fixed_shift(rows["lane0 g (sum e p)"]) == A[1] + P[1]
    assert fixed_shift(rows["y_i(t+1)"]) == A[1]
    assert fixed_shift(rows["z_j (slot)"]) == A[1]
    assert fixed_shift(rows["s_i (table in)"]) == W[1] + A[1]
    # plain integers and bits
    assert rows["step_count"].flags & TR_DEC and fixed_shift(rows["step_count"]) is None
    assert rows["slot word r*L+j"].flags & TR_DEC and not rows["slot word r*L+j"].flags & (
        TR_SIGNED | TR_FTRANSLATED)
    assert rows["clk"].flags & TR_BIN and rows["A7 valid"].flags & TR_BIN
    # the state by name, through the translate file beside the save file
    st = rows["state"]
    assert st.flags & TR_FTRANSLATED and st.translate == "dump.states.txt"
    states = (tmp_path / style / "dump.states.txt").read_text().splitlines()
    assert states == ["0 IDLE", "1 CLEAR", "2 FWD", "3 PRE", "4 UPD", "5 DRAIN", "6 DONE"]
    assert not [r for r in sf.rows if r.name != "state" and r.translate]
    assert text.count("[fpshift_count]") < len([r for r in rows.values() if fixed_shift(r)])


@pytest.mark.parametrize("style", STYLES)
def test_save_file_names_and_orders_signals(tmp_path: Path, style: str) -> None:
    _, sf, text = gtkw_for(tmp_path, style)
    g = groups(sf)
    titles = [r.name for r in sf.rows if r.kind == "blank" and r.flags & TR_GRP_BEGIN]
    lanes = [f"Lane {p}: rows {LANES}r+{p}" for p in range(LANES)]
    assert titles == ["Interface", "Results r_y, r_e", "Counters", "Controller",
                      "Broadcast to lanes", "Activation unit", *lanes, "Memory port"]
    closed = {r.name for r in sf.rows if r.flags & TR_GRP_BEGIN and r.flags & TR_CLOSED}
    assert closed == set(lanes[1:]), "lane 0 open, the others closed"
    for p in range(LANES):
        assert [r.name for r in g[lanes[p]]] == [
            f"lane{p} W[i,j]", f"lane{p} p_ing[i,j]", f"lane{p} E7 p new",
            f"lane{p} g (sum e p)"]
    assert [r.name for r in g["Controller"]] == [
        "state", "fwd j (column)", "r: group (slot)", "slot word r*L+j", "u: cycle of slot"]
    assert [r.name for r in g["Activation unit"]] == ["s_i (table in)", "A7 valid", "y_i(t+1)"]
    assert [r.name for r in g["Counters"]] == ["step_count", "sat_count"]
    assert [r.name for r in g["Results r_y, r_e"]] == [f"r_y[{e}]" for e in range(N)] + ["r_e[0]"]
    # no generated names; every internal signal under an alias
    for generated in ("chain_mux", "mux_stage", "_dst", "_dec_stage", "lv_d1", "$rootio"):
        assert generated not in text, generated
    for r in sf.rows:
        if r.kind == "trace" and r.refs[0].rsplit(".", 1)[-1].split("[")[0] not in PORTS:
            assert f"+{{{r.name}}}" in text, r.name
        assert r.refs == [] or all(ref.lstrip("(0123456789)").startswith("trtrl_array.")
                                   for ref in r.refs)
    # short names: GTKWave aligns every value after the longest one, in a pane this wide
    assert max(len(r.name) for r in sf.rows) <= NAME_CHARS
    assert int(sf.header["signals_width"]) >= 300
    x, y = (int(v) for v in sf.header["size"].split())
    assert x >= 1200 and y >= 800


@pytest.mark.parametrize("style", STYLES)
def test_save_file_paths_are_relative_and_reproducible(tmp_path: Path, style: str) -> None:
    dump, _, text = gtkw_for(tmp_path, style)
    assert '[dumpfile] "dump.vcd"' in text and '[savefile] "dump.gtkw"' in text
    assert str(tmp_path) not in text and "/" not in "".join(re.findall(r'"[^"]*"', text))
    again = write_gtkw(dump.path, dump.manifest).read_text()
    assert again == text


def test_save_file_without_steps_or_internals(tmp_path: Path) -> None:
    """A dump with the ports only and no finished step: the whole dump, no markers."""
    vcd = tmp_path / "dump.vcd"
    vcd.write_text("$timescale 1ns $end\n$scope module trtrl_array $end\n"
                   "$var wire 1 ! clk $end\n$var wire 1 \" s_valid $end\n"
                   "$var wire 1 # r_valid $end\n$var wire 32 $ r_y [31:0] $end\n"
                   "$upscope $end\n$enddefinitions $end\n#0\n0!\n0\"\n0#\nb0 $\n#500\n1!\n")
    sf = parse_gtkw(write_gtkw(vcd).read_text())
    assert sf.header["timestart"] == "0" and sf.primary == -1 and set(sf.named) == {-1}
    assert sf.zoom == pytest.approx(-math.log2(200 * 500 / (
        WINDOW_SIZE[0] - SST_WIDTH - SIGNALS_WIDTH - WAVE_MARGIN_PX)))
    names = [r.name for r in sf.rows if r.kind != "blank"]
    assert names == ["clk", "s_valid", "r_valid", "r_y[0]", "r_y[1]"]  # N from the width
    assert not (tmp_path / "dump.states.txt").exists()


# -- GTKWave itself ------------------------------------------------------------------------
needs_gtkwave = pytest.mark.skipif(not gtkwave.available(),
                                   reason="gtkwave and Xvfb are not installed")


def check_in_gtkwave(gtkw: Path, dump: Path) -> gtkwave.Probe:
    """GTKWave loads ``gtkw`` without a complaint and shows every row it asks for."""
    sf = parse_gtkw(gtkw.read_text())
    p = gtkwave.probe(gtkw)
    assert p.returncode == 0, p.log
    assert not re.search(r"error|could not|warning|unknown", p.log, re.I), p.log
    assert Path(p.dump).resolve() == dump.resolve()
    # GTKWave silently drops a signal it cannot find: compare row by row
    assert [t.name for t in p.traces] == [r.name for r in sf.rows]
    for r, t in zip(sf.rows, p.traces, strict=True):
        assert t.flags == r.flags, (r.name, hex(t.flags), hex(r.flags))
    assert p.window[0] == int(sf.header["timestart"])
    assert p.marker == sf.primary
    assert [p.named.get(chr(ord("A") + i), -1) for i in range(NAMED_MARKERS)] == sf.named
    return p


@needs_gtkwave
@pytest.mark.parametrize("style", STYLES)
def test_gtkwave_loads_the_synthetic_save_file(tmp_path: Path, style: str) -> None:
    dump, sf, _ = gtkw_for(tmp_path, style)
    p = check_in_gtkwave(dump.path.with_suffix(".gtkw"), dump.path)
    # values as GTKWave prints them at the primary marker (end of step 0)
    for e in range(N):
        assert float(p.trace(f"r_y[{e}]").value) == y_value(0, e) / 2 ** A[1], e
    assert float(p.trace("r_e[0]").value) == -300 / 2 ** A[1]
    assert p.trace("state").value == "IDLE"
    assert float(p.trace("lane0 W[i,j]").value) == wd_value(0) / 2 ** W[1]
    assert p.trace("step_count").value == "1"
    # the visible window (GTKWave sizes the pane) covers the first steps, not more
    assert dump.ends[WINDOW_STEPS - 1] < p.window[1] < dump.ends[WINDOW_STEPS], p.wave_width


def _real_dump(tmp_path: Path, sim: str) -> tuple[Path, Path]:
    from trtrl.testbenches.configs import CONFIGS
    from trtrl.testbenches.runner import run_case

    cfg = replace(CONFIGS["tiny"], steps=4)
    res = run_case(cfg, sim, waves=True, wave_format="vcd", build_root=tmp_path,
                   rerun_with_waves=False)
    assert res.passed and res.waves and res.gtkw, res.message
    return Path(res.waves), Path(res.gtkw)


@needs_gtkwave
@pytest.mark.parametrize("sim", ["icarus", pytest.param("verilator", marks=pytest.mark.slow)])
def test_gtkwave_loads_the_save_file_of_a_real_dump(tmp_path: Path, sim: str) -> None:
    """The tiny array's own dump: its generated signal names and the simulator's naming."""
    dump, gtkw = _real_dump(tmp_path, sim)
    p = check_in_gtkwave(gtkw, dump)
    vcd = read_vcd(dump, ["trtrl_array.r_valid", "trtrl_array.r_y"])
    ends = rising_edges(vcd.vars["trtrl_array.r_valid"])
    t_end0 = ends[0]
    assert p.marker == t_end0
    assert ends[WINDOW_STEPS - 1] < p.window[1] < ends[WINDOW_STEPS]
    y = vcd.vars["trtrl_array.r_y"].value_at(t_end0)
    assert y is not None
    for e in range(2):
        raw = (y >> (16 * e)) & 0xFFFF
        raw -= (raw >> 15) << 16
        assert float(p.trace(f"r_y[{e}]").value) == raw / 2**14
    names = {t.name for t in p.traces}
    assert {"state", "slot word r*L+j", "u: cycle of slot", "y_i(t+1)", "f'_i",
            "lane0 W[i,j]", "lane0 p_ing[i,j]", "lane0 E0 a (W)", "lane0 E7 p new",
            "lane0 W3 W[i,j] new", "lane1 W[i,j]", "m_rdata (W, P)"} <= names
    assert p.trace("state").value in {"IDLE", "DONE"}
    # the values GTKWave shows are the dump's, in the core's formats (tiny: W 18.14)
    wd = read_vcd(dump, ["trtrl_array.lane0_wd"]).vars["trtrl_array.lane0_wd"].value_at(t_end0)
    assert wd is not None
    assert float(p.trace("lane0 W[i,j]").value) == (wd - ((wd >> 17) << 18)) / 2**14


def test_shift_is_stated_in_every_group(tmp_path: Path) -> None:
    """A format with no fraction bits after a group that left another shift in force."""
    dump = write_dump(tmp_path, "icarus")
    man = json.loads(dump.manifest.read_text())
    # W.frac + P.frac >= A.frac is a rule of the formats: P takes A's 14 fraction bits
    man["fixed"].update(weight="18.0", sens="18.14")
    dump.manifest.write_text(json.dumps(man))
    sf = parse_gtkw(write_gtkw(dump.path, dump.manifest).read_text())
    rows = {r.name: r for r in sf.rows}
    assert fixed_shift(rows["r_y[0]"]) == A[1]
    assert fixed_shift(rows["lane0 W[i,j]"]) == 0 and fixed_shift(rows["m_wdata (W)"]) == 0
    assert fixed_shift(rows["lane0 g (sum e p)"]) == A[1] + 14


def test_fst_gets_the_ports_of_the_manifest(tmp_path: Path) -> None:
    """FST is not readable here: the ports follow from the manifest (sizes, formats)."""
    fst = tmp_path / "dump.fst"
    fst.write_bytes(b"\x00fst")
    fixed = FixedConfig(act=FixedFormat(12, 10), weight=FixedFormat(14, 9),
                        sens=FixedFormat(16, 11))
    manifest = replace(Manifest.of(ArrayConfig(3, 2, 2, fixed)), top="my_array")
    man = manifest.write(tmp_path / "m.json")
    addr = manifest.ports["m_addr"]
    sf = parse_gtkw(write_gtkw(fst, man).read_text())
    rows = {r.name: r for r in sf.rows if r.kind != "blank"}
    assert [n for n in rows if n.startswith(("s_x", "s_d", "r_y", "r_e"))] == [
        "s_x[0]", "s_x[1]", "s_d[0]", "s_d[1]", "r_y[0]", "r_y[1]", "r_y[2]", "r_e[0]", "r_e[1]"]
    assert rows["r_y[2]"].refs[0] == "(0)my_array.r_y[35:0]" and fixed_shift(rows["r_y[2]"]) == 10
    assert rows["m_addr"].refs == [f"my_array.m_addr[{addr - 1}:0]"]
    assert rows["m_wdata (W)"].refs == ["my_array.m_wdata[15:0]"]  # max(W, P) bits
    assert fixed_shift(rows["m_wdata (W)"]) == 9 and fixed_shift(rows["m_rdata (raw)"]) is None
    assert [r.name for r in groups(sf)["Counters"]] == ["step_count", "sat_count"]
    assert sf.header["timestart"] == "0" and set(sf.named) == {-1}


# -- the AXI top (trtrl_axi) ---------------------------------------------------------------
AXI_N, AXI_M, AXI_K = 3, 1, 1
AXI_LANES = 2
AXI_A = (16, 13)  # not the default 14: a shift taken from the defaults shows
AXI_CORE_CYCLES = 9  # core handshake edge to core r_valid edge, per step
AXI_STEPS = 4
AXI_GROUPS = ["Clock, reset", "Sample stream s_axis", "Result stream m_axis",
              "AXI4-Lite write", "AXI4-Lite read", "Core interface", "Core results r_y, r_e",
              "Core counters", "Controller", "Broadcast to lanes", "Activation unit",
              *[f"Lane {p}: rows {AXI_LANES}r+{p}" for p in range(AXI_LANES)],
              "Core memory port"]


@dataclass
class AxiDump:
    path: Path
    manifest: Path
    man: Manifest
    ends: list[int] = field(default_factory=list)  # edges taking each packet's last result
    stalled_last: list[int] = field(default_factory=list)  # last beat offered, not taken
    sample_starts: list[int] = field(default_factory=list)  # first sample beat taken
    weights_done: int = 0


def write_axi_dump(folder: Path, style: str = "icarus") -> AxiDump:
    """A VCD of the AXI top named as MyHDL flattens it: its ports, the core's ports as the
    shell's ``core_*`` wires, the core's internals as ``trtrl_array0_*``. Reset, one
    AXI4-Lite write, then ``AXI_STEPS`` steps; the last result beat of every step is
    offered a cycle before it is taken (TREADY low), so a marker there would be wrong."""
    folder.mkdir(parents=True, exist_ok=True)
    fixed = FixedConfig(act=FixedFormat(*AXI_A), weight=FixedFormat(18, 12),
                        sens=FixedFormat(18, 13))
    man = Manifest.of(ArrayConfig(AXI_N, AXI_M, AXI_K, fixed), top=AXI_TOP)
    a = AXI_A[0]
    core = {"core_rst": 1, "core_s_valid": 1, "core_s_ready": 1, "core_s_x": a,
            "core_s_d": a, "core_r_valid": 1, "core_r_y": AXI_N * a, "core_r_e": AXI_K * a,
            "core_learn": 1, "core_busy": 1, "core_m_addr": man.addr_bits,
            "core_step_count": 32, "core_sat_count": 32}
    internal = {"trtrl_array0_st": 3, "trtrl_array0_Eaddr": 3, "trtrl_array0_g_zslot": a,
                "trtrl_array0_a7_y": a, "out_full": 1,
                **{f"trtrl_array0_lane{p}_wd": 18 for p in range(AXI_LANES)}}
    widths = {**man.ports, **core, **internal}
    top = ("trtrl_axi", widths)
    vcd = SyntheticVcd("aclk", [("$rootio", dict(man.ports)), top] if style == "verilator"
                       else [top])
    cycle = vcd.cycle
    dump = AxiDump(folder / "dump.vcd", man.write(folder / "trtrl_axi.json"), man)

    for _ in range(3):
        cycle(aresetn=0, core_rst=1)
    cycle(aresetn=1, core_rst=0, s_axil_bready=1, s_axil_rready=1)
    control = dump.man.details["registers"]["registers"]
    ctl = next(r["offset"] for r in control if r["name"] == "CONTROL")
    cycle(s_axil_awaddr=ctl, s_axil_awvalid=1, s_axil_wdata=0x402, s_axil_wvalid=1,
          s_axil_wstrb=15, s_axil_awready=1, s_axil_wready=1)
    cycle(s_axil_awvalid=0, s_axil_wvalid=0, s_axil_awready=0, s_axil_wready=0,
          s_axil_bvalid=1, s_axil_bresp=2)
    dump.weights_done = cycle(s_axil_bvalid=0, core_s_ready=1)
    for _ in range(4):
        cycle()
    for step in range(AXI_STEPS):
        # the sample packet: M + K = 2 beats, a stall before the second in odd steps
        taken = cycle(s_axis_tvalid=1, s_axis_tready=1, s_axis_tdata=100 + step)
        dump.sample_starts.append(taken)
        if step % 2:
            cycle(s_axis_tready=0, s_axis_tdata=200 + step, s_axis_tlast=1)
        cycle(s_axis_tready=1, s_axis_tdata=200 + step, s_axis_tlast=1, core_s_valid=1)
        # the core's handshake edge: its valid falls and its busy rises there
        cycle(s_axis_tvalid=0, s_axis_tlast=0, s_axis_tready=0, core_s_valid=0,
              core_s_ready=0, core_busy=1, trtrl_array0_st=2)
        cycle()
        for _ in range(AXI_CORE_CYCLES - 2):
            cycle()
        cycle(core_r_valid=1, core_busy=0, core_s_ready=1, trtrl_array0_st=0,
              core_r_e=-(step + 1) * 300, core_step_count=step + 1)
        cycle(core_r_valid=0)
        # the result packet: N + K = 4 beats, y then e; the last one waits for TREADY
        for beat in range(AXI_N + AXI_K):
            last = beat == AXI_N + AXI_K - 1
            word = -(step * 10 + beat + 1) * 1000
            if last:
                dump.stalled_last.append(cycle(m_axis_tvalid=1, m_axis_tready=0,
                                               m_axis_tlast=1, m_axis_tdata=word))
                dump.ends.append(cycle(m_axis_tready=1))
            else:
                cycle(m_axis_tvalid=1, m_axis_tready=1, m_axis_tlast=0, m_axis_tdata=word)
        cycle(m_axis_tvalid=0, m_axis_tlast=0, m_axis_tready=step % 2)  # ready while idle
        for _ in range(5 + 3 * step):  # uneven gaps
            cycle()
    vcd.write(dump.path)
    return dump


def expected_address_names(man: Manifest) -> dict[int, str]:
    """Address -> name straight from rtl/regmap.py's map of the same configuration."""
    from trtrl.rtl.regmap import register_map

    cfg = ArrayConfig(man.n, man.m, man.k, man.fixed)
    rmap = register_map(cfg)
    names = {r.offset: r.name for r in rmap.registers}
    for w in rmap.windows:
        for i in range(man.n):
            for j in range(man.L):
                names[w.base + 4 * (i * man.L + j)] = f"{w.name}[{i},{j}]"
    return names


def translate_file(path: Path) -> dict[int, str]:
    out = {}
    for line in path.read_text().splitlines():
        value, _, text = line.partition(" ")
        out[int(value)] = text
    return out


@pytest.mark.parametrize("style", STYLES)
def test_axi_save_file_groups_and_formats(tmp_path: Path, style: str) -> None:
    dump = write_axi_dump(tmp_path / style, style)
    sf = parse_gtkw(write_gtkw(dump.path, dump.manifest).read_text())
    titles = [r.name for r in sf.rows if r.kind == "blank" and r.flags & TR_GRP_BEGIN]
    assert titles == AXI_GROUPS
    g = groups(sf)
    assert [r.name for r in g["Sample stream s_axis"]] == [
        "s_axis_tvalid", "s_axis_tready", "s_axis_tlast", "s_axis_tuser", "s_axis_tdata (x, d)"]
    assert [r.name for r in g["Result stream m_axis"]] == [
        "m_axis_tvalid", "m_axis_tready", "m_axis_tlast", "m_axis_tdata (y, e)"]
    for r in (g["Sample stream s_axis"][-1], g["Result stream m_axis"][-1]):
        assert fixed_shift(r) == AXI_A[1], r.name  # signed, format A's fraction bits
    assert [r.name for r in g["AXI4-Lite write"]] == [
        f"s_axil_{n}" for n in ("awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid",
                                "wready", "bresp", "bvalid", "bready")]
    assert [r.name for r in g["AXI4-Lite read"]] == [
        f"s_axil_{n}" for n in ("araddr", "arvalid", "arready", "rdata", "rresp", "rvalid",
                                "rready")]
    rows = {r.name: r for r in sf.rows if r.kind != "blank"}
    for n in ("awaddr", "araddr"):
        assert rows[f"s_axil_{n}"].translate == "dump.regs.txt"
        assert rows[f"s_axil_{n}"].flags & TR_FTRANSLATED and rows[f"s_axil_{n}"].flags & TR_DEC
    for n in ("bresp", "rresp"):
        assert rows[f"s_axil_{n}"].translate == "dump.resp.txt"
    assert {r.name for r in sf.rows if r.translate} == {
        "s_axil_awaddr", "s_axil_araddr", "s_axil_bresp", "s_axil_rresp", "state"}
    # the core below the shell, as for the bare array: ports under their own names
    assert [r.name for r in g["Core interface"]] == [
        "rst", "s_valid", "s_ready", "s_x[0]", "s_d[0]", "r_valid", "learn", "busy"]
    assert rows["busy"].refs == ["trtrl_axi.core_busy"]
    assert [r.name for r in g["Core results r_y, r_e"]] == ["r_y[0]", "r_y[1]", "r_y[2]",
                                                            "r_e[0]"]
    assert fixed_shift(rows["r_y[2]"]) == AXI_A[1]
    assert rows["state"].refs == ["trtrl_axi.trtrl_array0_st[2:0]"]
    assert [r.name for r in g["Controller"]] == ["state", "slot word r*L+j"]
    assert [r.name for r in g["Lane 1: rows 2r+1"]] == ["lane1 W[i,j]"]
    assert rows["lane1 W[i,j]"].refs == ["trtrl_axi.trtrl_array0_lane1_wd[17:0]"]
    assert fixed_shift(rows["y_i(t+1)"]) == AXI_A[1]
    assert "out_full" not in " ".join(ref for r in sf.rows for ref in r.refs)
    assert all(ref.lstrip("(0123456789)").startswith("trtrl_axi.")
               for r in sf.rows for ref in r.refs), "never $rootio"
    assert max(len(r.name) for r in sf.rows) <= NAME_CHARS


def test_axi_translate_files_come_from_the_register_map(tmp_path: Path) -> None:
    dump = write_axi_dump(tmp_path)
    write_gtkw(dump.path, dump.manifest)
    regs = translate_file(tmp_path / "dump.regs.txt")
    want = expected_address_names(dump.man)
    assert regs == want
    assert regs[0] == "ID" and "CONTROL" in regs.values() and "SENS_EGR[2,4]" in regs.values()
    words = dump.man.n * dump.man.L
    assert len(regs) == len(dump.man.details["registers"]["registers"]) + words * (3 + AXI_K)
    assert translate_file(tmp_path / "dump.resp.txt") == {0: "OKAY", 1: "EXOKAY", 2: "SLVERR",
                                                          3: "DECERR"}
    # the map follows the manifest: another size, other names and addresses
    bigger = replace(dump.man, n=5)
    assert address_names_of(bigger) != address_names_of(dump.man)


def address_names_of(man: Manifest) -> dict[int, str]:
    from trtrl.rtl.regmap import register_map
    from trtrl.testbenches.waves import address_names

    cfg = ArrayConfig(man.n, man.m, man.k, man.fixed)
    return address_names(replace(man, details={**man.details,
                                               "registers": register_map(cfg).to_json()}))


@pytest.mark.parametrize("style", STYLES)
def test_axi_markers_at_the_last_result_beat_taken(tmp_path: Path, style: str) -> None:
    dump = write_axi_dump(tmp_path / style, style)
    sf = parse_gtkw(write_gtkw(dump.path, dump.manifest).read_text())
    assert sf.named[:AXI_STEPS] == dump.ends and set(sf.named[AXI_STEPS:]) == {-1}
    assert not set(sf.named) & set(dump.stalled_last), "a beat offered is not a beat taken"
    assert sf.markers == {chr(ord("A") + s): f"step {s} done" for s in range(AXI_STEPS)}
    assert sf.primary == dump.ends[0]
    t0 = int(sf.header["timestart"])
    assert dump.weights_done < t0 <= dump.sample_starts[0], "opens on the first sample"
    wave_px = WINDOW_SIZE[0] - SST_WIDTH - SIGNALS_WIDTH - WAVE_MARGIN_PX
    t1 = t0 + 2.0 ** -sf.zoom / 200.0 * wave_px
    assert dump.ends[WINDOW_STEPS - 1] < t1 < dump.ends[WINDOW_STEPS]


def test_array_save_file_is_not_taken_for_axi(tmp_path: Path) -> None:
    """The bare core keeps its own view: no stream or AXI4-Lite group, no register names."""
    dump = write_dump(tmp_path, "icarus")
    sf = parse_gtkw(write_gtkw(dump.path, dump.manifest).read_text())
    titles = [r.name for r in sf.rows if r.kind == "blank" and r.flags & TR_GRP_BEGIN]
    assert titles[:3] == ["Interface", "Results r_y, r_e", "Counters"]
    assert not [t for t in titles if "AXI" in t or "stream" in t or t.startswith("Core")]
    assert not (tmp_path / "dump.regs.txt").exists()
    assert not (tmp_path / "dump.resp.txt").exists()


def test_waves_command_on_an_axi_dump(tmp_path: Path) -> None:
    """`trtrl waves` finds the AXI top's step ends and draws TDATA as format A."""
    from trtrl.cmd_waves import AXI_DEFAULT_SIGNALS, plot_window

    dump = write_axi_dump(tmp_path)
    facts = plot_window(dump.path, None, 1, 2, None, tmp_path / "w.png")
    assert facts["marked_steps"] == [1, 2]
    assert facts["t0_ns"] == dump.ends[0] / 1000 and facts["t1_ns"] > dump.ends[2] / 1000
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    # every default signal is drawn, the core's state (below the shell) by name
    assert [r["label"].split("\n")[0] for r in facts["rows"]] == AXI_DEFAULT_SIGNALS.split(",")
    st = facts["rows"][AXI_DEFAULT_SIGNALS.split(",").index("st")]
    assert st["yticks"][:3] == ["IDLE", "CLEAR", "FWD"] and "DRAIN" in st["yticks"]


def _axi_real_dump(tmp_path: Path, steps: int = 3) -> tuple[Path, Path, Path]:
    from trtrl.testbenches.dut import cached_rtl
    from trtrl.testbenches.runner import run_case
    from trtrl.testbenches.test_trtrl_axi.test_trtrl_axi import AXI_CONFIGS

    cfg = replace(AXI_CONFIGS["axi_tiny"], steps=steps)
    res = run_case(cfg, "icarus", waves=True, wave_format="vcd", build_root=tmp_path,
                   rerun_with_waves=False, testcase=("learn_through_axi",))
    assert res.passed and res.waves and res.gtkw, res.message
    return Path(res.waves), Path(res.gtkw), cached_rtl(cfg)[1]


def _last_beats(dump: Path) -> list[int]:
    """Rising aclk edges where m_axis_tvalid, tready and tlast were all high just before:
    counted here from the dump's own value changes, not through waves.py's step logic."""
    short = {f"trtrl_axi.{n}": n.removeprefix("m_axis_")
             for n in ("aclk", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast")}
    vcd = read_vcd(dump, list(short))
    changes = sorted((t, short[name], v) for name, var in vcd.vars.items() if name in short
                     for t, v in zip(var.times, var.values, strict=True))
    now: dict[str, int | None] = {}
    out = []
    i = 0
    while i < len(changes):
        t = changes[i][0]
        before = dict(now)
        while i < len(changes) and changes[i][0] == t:
            now[changes[i][1]] = changes[i][2]
            i += 1
        if now.get("aclk") == 1 and before.get("aclk") == 0 and all(
                before.get(s) == 1 for s in ("tvalid", "tready", "tlast")):
            out.append(t)
    return out


def test_axi_save_file_of_a_real_dump(tmp_path: Path) -> None:
    """A short Icarus run of the AXI top (per-cycle testbench): markers, groups, names."""
    dump, gtkw, manifest = _axi_real_dump(tmp_path)
    sf = parse_gtkw(gtkw.read_text())
    ends = _last_beats(dump)
    assert len(ends) == 3
    assert sf.named[:3] == ends and set(sf.named[3:]) == {-1} and sf.primary == ends[0]
    titles = [r.name for r in sf.rows if r.kind == "blank" and r.flags & TR_GRP_BEGIN]
    assert titles[:6] == AXI_GROUPS[:6]
    man = Manifest.read(manifest)
    assert translate_file(dump.with_name("dump.regs.txt")) == expected_address_names(man)
    if gtkwave.available():
        check_in_gtkwave(gtkw, dump)
        # GTKWave gives no values inside a folded group: open the AXI4-Lite ones in a copy
        lines = gtkw.read_text().splitlines()
        for i, line in enumerate(lines[:-1]):
            if line.startswith("@") and lines[i + 1].startswith("-AXI4-Lite"):
                lines[i] = f"@{int(line[1:], 16) & ~(TR_CLOSED | TR_COLLAPSED):x}"
        opened = gtkw.with_name("opened.gtkw")
        opened.write_text("\n".join(lines) + "\n")
        p = gtkwave.probe(opened)
        names = set(expected_address_names(man).values())
        assert p.trace("s_axil_awaddr").value in names  # the last write: a name, not digits
        assert p.trace("s_axil_araddr").value in names
        assert p.trace("s_axil_bresp").value == "OKAY"
        assert p.trace("s_axil_rresp").value == "OKAY"
        assert p.trace("state").value in {"IDLE", "DONE", "FWD"}


# -- the kinds of core, and `trtrl waves` on the core's internals -------------------------
def test_state_names_are_the_controllers() -> None:
    """The names by code are the RTL's own constants (rtl/folded.py F_*)."""
    from trtrl.rtl import folded
    from trtrl.testbenches.waves import FOLDED_STATES, STATES

    def codes(module: object, prefix: str) -> list[str]:
        names = {getattr(module, n): n[len(prefix):] for n in vars(module)
                 if n.startswith(prefix) and isinstance(getattr(module, n), int)}
        return [names[c] for c in range(len(names))]

    assert list(FOLDED_STATES) == codes(folded, "F_")
    assert STATES == FOLDED_STATES


def test_waves_command_draws_the_folded_core(tmp_path: Path) -> None:
    """`trtrl waves` on the core's internals: the state by name, fixed point in its format."""
    from trtrl.cmd_waves import DEFAULT_SIGNALS, plot_window
    from trtrl.testbenches.waves import FOLDED_STATES

    dump = write_dump(tmp_path, "icarus")
    facts = plot_window(dump.path, "st,Eaddr,lane0_wd,lane2_e7_p,lane1_g_acc,g_zslot", 1, 2,
                        dump.manifest, tmp_path / "w.png")
    rows = facts["rows"]
    assert rows[0]["label"] == "st\n(state)" and rows[0]["yticks"] == list(FOLDED_STATES)
    assert rows[1]["label"] == "Eaddr"
    assert rows[2]["label"] == f"lane0_wd\n(W: /2^{W[1]})"
    assert rows[3]["label"] == f"lane2_e7_p\n(P: /2^{P[1]})"
    assert rows[4]["label"] == f"lane1_g_acc\n(AP: /2^{A[1] + P[1]})"
    assert rows[5]["label"] == f"g_zslot\n(A: /2^{A[1]})"
    # the defaults show the controller too, its state by name
    facts = plot_window(dump.path, None, 0, 1, dump.manifest, tmp_path / "d.png")
    labels = [r["label"].split("\n")[0] for r in facts["rows"]]
    assert labels == [n for n in DEFAULT_SIGNALS.split(",")]
    assert facts["rows"][labels.index("st")]["yticks"] == list(FOLDED_STATES)
