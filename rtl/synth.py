"""Logic synthesis of the neuron array with Yosys (and, for iCE40, nextpnr timing).

:func:`synthesize` runs Yosys on a generated ``trtrl_array.v`` in up to three stages:

1. **word level** (``proc; flatten; opt; wreduce; memory_collect``): the design as
   operators. Here the multipliers are still ``$mul`` cells and the memories
   ``$mem_v2`` cells, so this stage gives the architecture's multiplier count, memory
   bits and register bits. It is fast (seconds) even for large arrays.
2. **gate level** (optional, ``full=True``): ``synth -flatten`` (generic gates; every
   multiplier and memory becomes gates and flip-flops) or ``synth_ice40`` (LUT4,
   carry, DFF, block RAM and, with ``-dsp``, SB_MAC16). It gives the cell and
   flip-flop counts and writes the netlist ``synth.v`` (``write_verilog -noattr``),
   which simulates with Icarus without any Yosys cell library (``trtrl regress --rtl``).
3. **bit level without ABC** (optional, ``noabc=True``): from the word-level design,
   ``memory -nomap; memory_map; opt -fast; techmap; opt -fast``. Every RAM and ROM bit
   becomes a flip-flop (or a constant) plus its read multiplexers, every operator Yosys's
   generic gates, but no ABC logic optimization runs, so it reaches larger arrays than
   stage 2 (which takes over 10 minutes from N = 8). At the default formats, K = 1 it
   takes about 25 s of Yosys CPU time at N = 2, 1 min at N = 4, 2 min at N = 8 and
   5.3 min (2.6 GB) at N = 16. Its counts (``cells_noabc``, ``flip_flops_noabc``) are a
   bit-level cost measure that includes the storage; they are not an optimized netlist.

For iCE40, nextpnr-ice40 places and routes the netlist when Yosys's LUT count fits
the device and reports its maximum clock estimate; when it does not fit, the
result says so (``fits = False``) instead of inventing a clock.

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
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pymodel.errors import TrtrlError
from rtl.config import MANIFEST_FILE, TOP, VERILOG_FILE
from rtl.toolchain import require

__all__ = [
    "DEVICES",
    "SYNTH_FILE",
    "TARGETS",
    "SynthResult",
    "synthesize",
    "synthesize_folder",
    "update_manifest",
]

TARGETS = ("generic", "ice40")
SYNTH_FILE = "synth.v"
DEFAULT_TIMEOUT = 3600.0  # seconds per tool run
# iCE40 parts nextpnr knows: logic cells, DSPs, 4 kbit block RAMs, package for --package.
DEVICES: dict[str, dict[str, Any]] = {
    "up5k": {"lcs": 5280, "dsps": 8, "brams": 30, "package": "sg48", "dsp_flag": True},
    "hx8k": {"lcs": 7680, "dsps": 0, "brams": 32, "package": "ct256", "dsp_flag": False},
}
_FF_RE = re.compile(r"^(\$_(S|A|)?DFF|\$_DFFE|\$_SDFF|\$_ALDFF|\$_DLATCH|\$_SR|SB_DFF)")


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
    multipliers_note: str = ""
    netlist: str | None = None
    # bit level without ABC (None unless noabc=True): memory_map + techmap + opt -fast
    cells_noabc: int | None = None
    flip_flops_noabc: int | None = None
    cells_by_type_noabc: dict[str, int] | None = None
    # place and route (iCE40)
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

    ``shown`` is where the log will be kept (named in the error message).
    """
    # A session of its own, so a timeout also ends Yosys's ABC child processes.
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise TrtrlError(f"{what}: timed out after {timeout:.0f} s (raise --timeout)") from exc
    out = out or ""
    log.write_text(out)
    if proc.returncode != 0:
        errors = [ln.strip() for ln in out.splitlines() if "ERROR" in ln or "rror:" in ln]
        first = errors[0] if errors else (out.strip().splitlines() or ["no output"])[-1]
        raise TrtrlError(f"{what} failed (exit {proc.returncode}): {first[:300]} "
                         f"[log {shown or log}]")
    return out


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


def _gate_level_script(target: str, device: str, top: str) -> str:
    if target == "generic":
        # Continue from the word-level design (already flattened, memories collected).
        synth = f"synth -top {top} -flatten -run coarse:"
        extra: list[str] = []
    else:
        dsp = " -dsp" if DEVICES[device]["dsp_flag"] else ""
        synth = f"synth_ice40 -top {top}{dsp}"
        extra = ["write_json ice40.json"]
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
def _nextpnr(work: Path, device: str, freq_mhz: float, timeout: float) -> tuple[float | None, str]:
    exe = require("nextpnr-ice40", "nextpnr-ice40")
    dev = DEVICES[device]
    cmd = [exe, f"--{device}", "--package", dev["package"], "--json", "ice40.json",
           "--pcf-allow-unconstrained", "--freq", f"{freq_mhz:g}", "--timing-allow-fail",
           "--report", "pnr_report.json", "--seed", "1"]
    try:
        out = _run(cmd, work, timeout, "nextpnr-ice40", work / "nextpnr.log",
                   work.parent / "synth_logs" / "nextpnr.log")
    except TrtrlError as exc:
        return None, f"nextpnr-ice40 could not place and route it: {exc}"
    found = re.findall(r"Max frequency for clock\s+'([^']*)':\s*([0-9.]+)\s*MHz", out)
    if not found:
        return None, "nextpnr-ice40 reported no clock frequency"
    fmax = float(found[-1][1])  # the last report is after routing
    return fmax, f"nextpnr-ice40 0.4 post-route estimate on {device} ({dev['package']})"


# -- driver ---------------------------------------------------------------------------------
def synthesize(verilog: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
               target: str = "generic", device: str = "up5k", full: bool = True,
               pnr: bool = True, freq_mhz: float = 12.0, top: str = TOP,
               noabc: bool = False, timeout: float = DEFAULT_TIMEOUT) -> SynthResult:
    """Synthesize ``verilog``; write ``synth.v`` (when ``full``) into ``out_dir``.

    ``target`` is ``generic`` or ``ice40`` (``device`` ``up5k`` or ``hx8k``). With
    ``full=False`` only the word-level statistics are computed (no netlist). ``pnr``
    runs nextpnr-ice40 for the ice40 target when the LUT count fits the device.
    ``noabc`` adds the bit-level count without ABC (``cells_noabc``, ``flip_flops_noabc``;
    memories mapped to flip-flops and multiplexers, then ``techmap``, no netlist written).
    """
    if target not in TARGETS:
        raise TrtrlError(f"target: unknown {target!r} ({' or '.join(TARGETS)})")
    if device not in DEVICES:
        raise TrtrlError(f"device: unknown {device!r} ({' or '.join(DEVICES)})")
    if timeout <= 0:
        raise TrtrlError(f"timeout: must be > 0 s, got {timeout}")
    verilog = Path(verilog).resolve()
    if not verilog.is_file():
        raise TrtrlError(f"{verilog}: no such Verilog file")
    yosys = require("yosys", "yosys")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".trtrl_synth_", dir=out))
    try:
        script = _word_level_script(verilog, top)
        if noabc:
            script += "\n" + ("design -save word\n" if full else "") + _noabc_script()
            if full:
                script += "\ndesign -load word"
        if full:
            script += "\n" + _gate_level_script(target, device, top)
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
            res.device = device
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
            dev = DEVICES[device]
            res.fits = (res.luts <= dev["lcs"] and res.dsps <= dev["dsps"]
                        and res.block_rams <= dev["brams"])
            if not res.fits:
                res.pnr_note = (f"does not fit the iCE40{device.upper()}: {res.luts} LUT4 "
                                f"(device {dev['lcs']} logic cells), {res.dsps} SB_MAC16 "
                                f"(device {dev['dsps']}), {res.block_rams} RAM "
                                f"(device {dev['brams']}); no place and route, no clock")
            elif pnr:
                t1 = time.perf_counter()
                res.fmax_mhz, res.pnr_note = _nextpnr(work, device, freq_mhz, timeout)
                res.seconds["nextpnr"] = round(time.perf_counter() - t1, 2)
                if res.fmax_mhz is None:
                    res.fits = False
            else:
                res.pnr_note = "place and route not run"
        netlist = out / SYNTH_FILE
        os.replace(work / SYNTH_FILE, netlist)
        res.netlist = netlist.name
        return res
    finally:
        keep = out / "synth_logs"
        if keep.exists():
            shutil.rmtree(keep, ignore_errors=True)
        logs = [p for p in work.glob("*.log")] + [work / "synth.ys"]
        if any(p.exists() for p in logs):
            keep.mkdir(exist_ok=True)
            for p in logs:
                if p.exists():
                    os.replace(p, keep / p.name)
        shutil.rmtree(work, ignore_errors=True)


def _yosys_version(yosys: str) -> str:
    try:
        proc = subprocess.run([yosys, "-V"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "yosys"
    return proc.stdout.strip().split(" (")[0] or "yosys"


def update_manifest(manifest: str | os.PathLike[str], result: SynthResult) -> Path:
    """Add (or replace) the ``synthesis`` section of ``manifest``, atomically."""
    from pymodel.experiments.report import write_json

    path = Path(manifest)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TrtrlError(f"{path}: cannot read the manifest ({exc})") from exc
    data["synthesis"] = result.to_dict()
    return write_json(path, data)


def synthesize_folder(folder: str | os.PathLike[str], **kwargs: Any) -> SynthResult:
    """Synthesize ``folder/trtrl_array.v`` into ``folder`` and record it in its manifest."""
    folder = Path(folder)
    verilog, manifest = folder / VERILOG_FILE, folder / MANIFEST_FILE
    for p in (verilog, manifest):
        if not p.is_file():
            raise TrtrlError(f"{folder}: no {p.name} (run `trtrl rtl gen` first)")
    top = json.loads(manifest.read_text()).get("top", TOP)
    res = synthesize(verilog, folder, top=top, **kwargs)
    update_manifest(manifest, res)
    return res
