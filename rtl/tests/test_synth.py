"""Yosys synthesis (`rtl/synth.py`, `trtrl rtl synth`) and post-synthesis co-simulation.

The fast tests synthesize a tiny array with narrow formats and a small activation table
(N=2, M=1, K=1; about 20 s of Yosys). The co-simulation tests run the scoreboard
(`testbenches/`) on the flattened gate-level netlist in Icarus: it must pass bit for
bit, and a netlist with one stored bit inverted must fail with a mismatch (slow).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.rtl.config import MANIFEST_FILE, VERILOG_FILE, ArrayConfig
from trtrl.rtl.generate import generate
from trtrl.rtl.synth import SYNTH_FILE, synthesize, synthesize_folder

if TYPE_CHECKING:  # imported where used: the runner needs cocotb
    from trtrl.testbenches.runner import RunResult

REPO = Path(__file__).resolve().parents[2]
HAVE_YOSYS = shutil.which("yosys") is not None
needs_yosys = pytest.mark.skipif(not HAVE_YOSYS, reason="yosys not installed (make setup)")

# Narrow formats and a 64-entry table: the same architecture, a quarter of the gates.
SMALL_FIXED = FixedConfig(act=FixedFormat(8, 6), weight=FixedFormat(10, 6),
                          sens=FixedFormat(10, 6), acc_bits=20, lut_bits=6, activation="tanh")


@pytest.fixture(scope="module")
def small_rtl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated Verilog + manifest of N=2, M=1, K=1 with the narrow formats."""
    folder = tmp_path_factory.mktemp("rtl_small")
    generate(ArrayConfig(2, 1, 1, SMALL_FIXED), folder)
    return folder


@pytest.fixture(scope="module")
def small_synth(small_rtl: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small array synthesized to generic gates (netlist + manifest section)."""
    folder = tmp_path_factory.mktemp("synth_small")
    for name in (VERILOG_FILE, MANIFEST_FILE):
        shutil.copyfile(small_rtl / name, folder / name)
    synthesize_folder(folder, target="generic", timeout=600)
    return folder


@needs_yosys
def test_generic_netlist_and_stats(small_synth: Path) -> None:
    """Yosys writes a flattened netlist; multipliers, flip-flops and memory are plausible."""
    netlist = (small_synth / SYNTH_FILE).read_text()
    assert re.search(r"^module trtrl_array\(", netlist, flags=re.M)
    assert len(re.findall(r"^module ", netlist, flags=re.M)) == 1, "the netlist must be flat"
    syn = json.loads((small_synth / MANIFEST_FILE).read_text())["synthesis"]
    assert syn["target"] == "generic" and syn["netlist"] == SYNTH_FILE
    # One forward MAC, two sensitivity units of three and two gradient products per PE,
    # plus the shared f' * e product: 9 per PE + 1.
    assert syn["multipliers"] == 19
    assert syn["flip_flops"] > syn["register_bits"] > 0  # memories become flip-flops
    cfg = ArrayConfig(2, 1, 1, SMALL_FIXED)
    # Every stored word is a RAM bit (the one-word memories are kept two deep: >=).
    assert syn["memory_bits"] >= cfg.storage_words()["total"] * SMALL_FIXED.act.total
    assert syn["rom_bits"] == (1 << SMALL_FIXED.lut_bits) * SMALL_FIXED.act.total
    assert syn["cells"] > 1000
    assert "yosys" in syn["tool"].lower()


@needs_yosys
def test_word_level_only(small_rtl: Path, tmp_path: Path) -> None:
    """The fast word-level pass gives the same architecture figures and no netlist."""
    res = synthesize(small_rtl / VERILOG_FILE, tmp_path, full=False, timeout=300)
    assert res.multipliers == 19 and res.cells is None and res.netlist is None
    assert not (tmp_path / SYNTH_FILE).exists()
    assert all(a > 0 and b > 0 for a, b in res.multiplier_bits)


@needs_yosys
def test_word_level_same_for_both_sign_extensions(small_rtl: Path, tmp_path: Path) -> None:
    """``$signed`` assigns and bit replications synthesise to the same word-level design."""
    from dataclasses import replace

    concat_dir = tmp_path / "concat"
    generate(replace(ArrayConfig(2, 1, 1, SMALL_FIXED), sign_extension="concat"), concat_dir)
    figures = []
    for folder in (small_rtl, concat_dir):
        res = synthesize(folder / VERILOG_FILE, tmp_path / folder.name / "out", full=False,
                         timeout=300)
        figures.append((res.multipliers, sorted(map(tuple, res.multiplier_bits)),
                        res.memory_bits, res.rom_bits, res.memories, res.register_bits))
    assert figures[0] == figures[1]


@needs_yosys
def test_bit_level_noabc(small_rtl: Path, tmp_path: Path) -> None:
    """memory_map + techmap without ABC: every RAM bit is a flip-flop, no netlist written."""
    res = synthesize(small_rtl / VERILOG_FILE, tmp_path, full=False, noabc=True, timeout=600)
    assert res.cells is None and res.netlist is None
    assert res.cells_noabc and res.flip_flops_noabc and res.cells_by_type_noabc
    assert res.flip_flops_noabc >= res.memory_bits > 0
    assert res.cells_noabc > res.flip_flops_noabc + res.multipliers * 100
    assert not any(k.startswith("$mem") or k == "$mul" for k in res.cells_by_type_noabc)
    assert not (tmp_path / SYNTH_FILE).exists()


def _no_yosys_path(tmp_path: Path) -> str:
    """A PATH with the Python interpreter's folder but no yosys."""
    empty = tmp_path / "bin"
    empty.mkdir()
    return os.pathsep.join([str(empty), str(Path(sys.executable).parent)])


def test_missing_yosys_is_one_line(small_rtl: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without yosys on PATH: a TrtrlError naming the package, before any output."""
    monkeypatch.setenv("PATH", _no_yosys_path(tmp_path))
    with pytest.raises(TrtrlError, match=r"yosys not found.*apt-get install yosys") as info:
        synthesize(small_rtl / VERILOG_FILE, tmp_path / "out")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out" / SYNTH_FILE).exists()


def test_cli_missing_yosys(small_rtl: Path, tmp_path: Path) -> None:
    """`trtrl rtl synth` without yosys exits 2 with one line on stderr."""
    env = dict(os.environ, PATH=_no_yosys_path(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "trtrl.cli", "rtl", "synth", "--rtl",
                           str(small_rtl), "-o", str(tmp_path / "o")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "yosys not found" in lines[0]


def test_bad_arguments(small_rtl: Path, tmp_path: Path) -> None:
    """Unknown target/device and a missing file are one-line errors."""
    with pytest.raises(TrtrlError, match="target"):
        synthesize(small_rtl / VERILOG_FILE, tmp_path, target="asic")
    with pytest.raises(TrtrlError, match="device"):
        synthesize(small_rtl / VERILOG_FILE, tmp_path, target="ice40", device="ecp5")
    with pytest.raises(TrtrlError, match="no such Verilog"):
        synthesize(tmp_path / "none.v", tmp_path)
    with pytest.raises(TrtrlError, match="rtl gen"):
        synthesize_folder(tmp_path)


@needs_yosys
def test_yosys_failure_is_one_line(tmp_path: Path) -> None:
    """A Verilog file Yosys rejects: one line naming yosys and its log."""
    bad = tmp_path / "bad.v"
    bad.write_text("module trtrl_array(input a); assign = ; endmodule\n")
    with pytest.raises(TrtrlError, match=r"yosys failed") as info:
        synthesize(bad, tmp_path / "o", timeout=60)
    assert "\n" not in str(info.value)


@needs_yosys
@pytest.mark.slow
def test_ice40_small(small_rtl: Path, tmp_path: Path) -> None:
    """synth_ice40 of the small array: LUTs, DSPs and a fit verdict with a reason."""
    res = synthesize(small_rtl / VERILOG_FILE, tmp_path, target="ice40", device="up5k",
                     timeout=1800)
    assert res.luts and res.luts > 0 and res.flip_flops and res.flip_flops > 0
    assert res.fits is not None
    if res.fits and shutil.which("nextpnr-ice40"):
        assert res.fmax_mhz is not None and res.fmax_mhz > 1
    else:
        assert res.pnr_note


# -- post-synthesis co-simulation ----------------------------------------------------------
# MyHDL suffixes instance names with counters that depend on what else the process has
# elaborated (pe0_ram6_mem or pe0_0_ram6_0_mem): take the first element memory bit found.
_MEM_BIT = re.compile(r"(\\pe\w*_mem\[0\] \[0\] <= )([\w\\.]+(?:\[\d+\])?);")


def invert_stored_bit(text: str) -> str:
    """Netlist fault: one element stores bit 0 of its first memory word inverted."""
    match = _MEM_BIT.search(text)
    if match is None:
        raise AssertionError("no element memory flip-flop found in the netlist")
    return text[: match.start()] + f"{match.group(1)}~{match.group(2)};" + text[match.end():]


def _run_netlist(folder: Path, build: Path, mutate=None) -> RunResult:
    from trtrl.rtl.manifest import Manifest
    from trtrl.testbenches.configs import TbConfig
    from trtrl.testbenches.runner import run_case

    man = Manifest.read(folder / MANIFEST_FILE)
    cfg = TbConfig.from_manifest(man, "synth", 4, checkpoint_every=1, sims=("icarus",))
    return run_case(cfg, "icarus", waves=False, build_root=build,
                    verilog=folder / SYNTH_FILE, manifest=folder / MANIFEST_FILE,
                    mutate=mutate, rerun_with_waves=False, tag="-mut" if mutate else "")


@needs_yosys
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_netlist_passes_scoreboard(small_synth: Path, tmp_path: Path) -> None:
    """The Yosys netlist computes FIXED_POINT.md bit for bit (Icarus, 4 learning steps)."""
    res = _run_netlist(small_synth, tmp_path)
    assert res.passed, res.message


@needs_yosys
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_mutated_netlist_fails_scoreboard(small_synth: Path, tmp_path: Path) -> None:
    """One inverted stored bit in the netlist is caught as a scoreboard mismatch."""
    from trtrl.testbenches.scoreboard import MISMATCH_TAG

    res = _run_netlist(small_synth, tmp_path, mutate=invert_stored_bit)
    assert not res.passed, "the mutated netlist passed the scoreboard"
    assert MISMATCH_TAG in res.message, res.message


@needs_yosys
def test_yosys_timeout_is_one_line(small_rtl: Path, tmp_path: Path) -> None:
    """A run past its time limit is stopped and reported in one line."""
    with pytest.raises(TrtrlError, match=r"timed out after 1 s") as info:
        synthesize(small_rtl / VERILOG_FILE, tmp_path, full=True, timeout=1)
    assert "\n" not in str(info.value)
