"""Waveform helpers: a small VCD reader and the GTKWave save file written beside a dump.

The reader keeps only the signals asked for, so a long dump of a big array reads in
one pass with little memory. FST is not parsed here (no FST reader is installed);
``trtrl regress --waves`` writes VCD unless FST is asked for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pymodel.errors import TrtrlError

INTERFACE = (
    "clk", "rst", "s_valid", "s_ready", "s_x", "s_d", "learn", "lr_shift", "r_valid", "r_y",
    "r_e", "busy", "clear", "m_addr", "m_we", "m_wdata", "m_re", "m_rvalid", "m_rdata",
)
COUNTERS = ("step_count", "sat_count")


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
        import bisect

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
_HEX, _BIN, _SDEC, _UDEC = "22", "28", "424", "24"  # GTKWave trace flags


def _group(name: str, lines: list[str]) -> list[str]:
    return ["@800200", f"-{name}"] + lines + ["@1000200", f"-{name}"]


def write_gtkw(dump: Path, manifest: Path | None = None) -> Path:
    """Write ``<dump>.gtkw`` grouping the interface, one processing element and the counters.

    Signal paths come from the dump's header (VCD); for FST the top scope is guessed.
    The processing element is the top-level signals named ``pe0_*`` (MyHDL flattens the
    hierarchy), else the first scope below the top whose name mentions ``pe``.
    """
    dump = Path(dump)
    if dump.suffix == ".vcd":
        _, decl = read_header(dump)
        paths = {p: w for p, w, _ in decl}
    else:
        paths = {}
    top_prefix = ""
    for p in paths:
        if p.endswith(".s_valid") and (not top_prefix or p.count(".") < top_prefix.count(".")):
            top_prefix = p[: -len("s_valid")]
    if not top_prefix:
        top_prefix = "TOP.trtrl_array." if "verilator" in str(dump) else "trtrl_array."

    def line(name: str) -> list[str]:
        full = top_prefix + name
        width = paths.get(full, 1 if name in ("clk", "rst") else 2)
        flag = _BIN if width == 1 else (_UDEC if name in COUNTERS or name == "m_addr" else _HEX)
        ref = full if width == 1 else f"{full}[{width - 1}:0]"
        return [f"@{flag}", ref]

    iface = [x for n in INTERFACE for x in line(n)]
    counters = [x for n in COUNTERS for x in line(n)]
    pe: list[str] = []
    below = [p for p in paths if p.startswith(top_prefix) and p.count(".") > top_prefix.count(".")]
    pe_scopes = sorted({p[len(top_prefix):].split(".")[0] for p in below
                        if re.search(r"pe", p[len(top_prefix):].split(".")[0], re.I)})
    # MyHDL flattens the hierarchy: PE 0's signals are top-level names "pe0_*"
    chosen = [p for p in paths if p.startswith(top_prefix)
              and p.count(".") == top_prefix.count(".")
              and re.match(r"(pe_?0_|u_pe0)", p[len(top_prefix):], re.I)]
    if not chosen and pe_scopes:
        scope = top_prefix + pe_scopes[0] + "."
        chosen = [p for p in below if p.startswith(scope) and p.count(".") == scope.count(".")]
    for p in chosen[:40]:
        w = paths[p]
        pe += [f"@{_BIN if w == 1 else _SDEC}", p if w == 1 else f"{p}[{w - 1}:0]"]
    extra = [x for p in paths if p.startswith(top_prefix) and p.count(".") == top_prefix.count(".")
             and re.search(r"(state|phase|cnt|count)", p.rsplit(".", 1)[-1], re.I)
             and p.rsplit(".", 1)[-1] not in COUNTERS
             for x in (f"@{_UDEC}", p if paths[p] == 1 else f"{p}[{paths[p] - 1}:0]")]
    lines = [
        "[*] GTKWave save file written by trtrl (testbenches/waves.py)",
        f'[dumpfile] "{dump.resolve()}"',
        f'[savefile] "{dump.with_suffix(".gtkw").resolve()}"',
        "[timestart] 0",
        "[sst_width] 260",
        "[signals_width] 260",
        f"[treeopen] {top_prefix}",
    ]
    if manifest is not None and Path(manifest).is_file():
        try:
            fx = json.loads(Path(manifest).read_text()).get("fixed", {})
            lines.append(f"[*] formats: A {fx.get('act')} W {fx.get('weight')} P {fx.get('sens')}")
        except json.JSONDecodeError:
            pass
    lines += _group("Interface", iface)
    lines += _group("Processing element 0", pe or ["@200", "-(no PE signals found in the dump)"])
    lines += _group("Counters", counters + extra)
    out = dump.with_suffix(".gtkw")
    out.write_text("\n".join(lines) + "\n")
    return out
