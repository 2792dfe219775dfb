"""Tests of the testbench itself: scoreboard messages, the harness, waveforms, the CLI.

The end-to-end ones run on the playback stand-in DUT (:mod:`testbenches.playback`)
in Icarus (about a second each), so they do not depend on the MyHDL generator.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from trtrl.testbenches.configs import CONFIGS
from trtrl.testbenches.dut import REQUIRED_PORTS, check_ports
from trtrl.testbenches.playback import write_playback_dut
from trtrl.testbenches.runner import PORTS_VLT, _runner, ports_control_file, run_case
from trtrl.testbenches.scoreboard import (
    MISMATCH_TAG,
    Fmt,
    Scoreboard,
    ScoreboardMismatch,
    StepTiming,
)
from trtrl.testbenches.waves import read_vcd, rising_edges

TINY = CONFIGS["tiny"]


def test_mismatch_message_names_step_quantity_values_and_window() -> None:
    sb = Scoreboard(clock_ns=10.0, waves_hint="dump x.vcd")
    sb.note_timing(6, StepTiming(900.0, 1000.0, 90, 100))
    sb.note_timing(7, StepTiming(1010.0, 1110.0, 101, 111))
    sb.check_outputs(6, [1, 2], [1, 2], [3], [3], Fmt(16, 14))
    with pytest.raises(ScoreboardMismatch) as info:
        sb.check_outputs(7, [16384, 2], [16384, -8192], [3], [3], Fmt(16, 14))
    msg = str(info.value)
    assert msg.startswith(f"{MISMATCH_TAG}: first divergence at step 7")
    assert "r_y[1]: expected 2 (+0.000122 in 16.14), got -8192 (-0.500000 in 16.14)" in msg
    assert "cycle 111" in msg and "t=1110 ns" in msg
    assert "waveform window 900 ns .. 1150 ns" in msg
    assert "dump x.vcd" in msg


def test_state_mismatch_lists_several_elements() -> None:
    sb = Scoreboard()
    exp = np.zeros((2, 3), dtype=np.int64)
    got = exp.copy()
    got[0, 2], got[1, 0] = 5, -4
    with pytest.raises(ScoreboardMismatch, match=r"w\[0,2\]: expected 0 .* got 5 .*\n.*2 elements"):
        sb.check_state(3, {"w": exp}, {"w": got}, {"w": Fmt(16, 12)})


def test_counters_are_compared() -> None:
    """``step_count`` and ``sat_count`` are 0-d arrays: a difference must still fail (it
    once passed, since ``np.argwhere`` of a 0-d array has no rows to report)."""
    sb = Scoreboard()
    sb.check_state(0, {"sat_count": np.array(3)}, {"sat_count": np.array(3)}, {})
    with pytest.raises(ScoreboardMismatch, match=r"sat_count: expected 3, got 4$"):
        sb.check_state(0, {"sat_count": np.array(3)}, {"sat_count": np.array(4)}, {})


def test_output_batch_fails_at_the_first_differing_step() -> None:
    """A batch is one comparison; a difference gives the per-step message of its step."""
    rng = np.random.default_rng(0)
    y, e = rng.integers(-9, 9, (5, 3)), rng.integers(-9, 9, (5, 1))
    sb = Scoreboard()
    sb.check_output_batch(10, y, y.copy(), e, e.copy(), Fmt(16, 14))
    assert (sb.checked_steps, sb.checked_values) == (5, 20)
    for quantity, got_y, got_e in (("r_e[0]", y.copy(), e + (np.arange(5) == 3)[:, None]),
                                   ("r_y[2]", y + (np.arange(15) == 11).reshape(5, 3), e)):
        with pytest.raises(ScoreboardMismatch) as info:
            Scoreboard().check_output_batch(10, y, got_y, e, got_e, Fmt(16, 14))
        assert f"first divergence at step 13: {quantity}" in str(info.value)
    with pytest.raises(ScoreboardMismatch, match="shape"):
        Scoreboard().check_output_batch(0, y, y[:, :2], e, e, Fmt(16, 14))


@pytest.fixture(scope="module")
def playback(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_playback_dut(TINY, tmp_path_factory.mktemp("playback"))


def test_playback_passes_on_icarus(playback: tuple[Path, Path], tmp_path: Path) -> None:
    verilog, manifest = playback
    res = run_case(TINY, "icarus", verilog=verilog, manifest=manifest, build_root=tmp_path,
                   waves=False)
    assert res.passed, res.message
    assert res.steps == TINY.steps
    assert res.cycles_per_step == 7.0  # the stand-in's busy phase: handshake -> r_valid
    assert res.extra["checkpoints"] == TINY.steps + 1
    saved = json.loads((tmp_path / "tiny-icarus" / "result.json").read_text())
    assert saved["passed"] and saved["sim_cycles_per_s"] > 0


def test_wrong_value_fails_at_that_step_and_leaves_waves(
    playback: tuple[Path, Path], tmp_path: Path
) -> None:
    verilog, manifest = playback

    def corrupt(text: str) -> str:  # flip one bit of r_y at step 5
        m = re.search(r"rom_y\[5\] = 32'h([0-9a-f]+);", text)
        assert m is not None
        bad = int(m.group(1), 16) ^ (1 << 20)
        return text.replace(m.group(0), f"rom_y[5] = 32'h{bad:x};")

    res = run_case(TINY, "icarus", verilog=verilog, manifest=manifest, build_root=tmp_path,
                   waves=False, mutate=corrupt)
    assert not res.passed
    assert f"{MISMATCH_TAG}: first divergence at step 5" in res.message
    assert "r_y[1]: expected" in res.message
    assert res.steps == 5 or res.extra["steps"] == 5
    # the harness reran the failing case with waves on
    assert res.waves is not None and Path(res.waves).is_file()
    gtkw = Path(res.gtkw).read_text()  # opens on the first steps, with step markers
    assert "-Interface" in gtkw and "-Results r_y, r_e" in gtkw
    assert "[markername] Astep 0 done" in gtkw and "[markername] Fstep 5 done" in gtkw
    vcd = read_vcd(Path(res.waves), ["r_valid", "r_y"])
    assert len(rising_edges(vcd.find("r_valid"))) == 6  # steps 0..5 ended, then the stop


def test_check_ports_refuses_a_module_without_the_interface(tmp_path: Path) -> None:
    bad = tmp_path / "bad.v"
    bad.write_text("module trtrl_array(input clk, input rst, output reg busy);\nendmodule\n")
    with pytest.raises(Exception, match="lacks port.*s_valid"):
        check_ports(bad, "trtrl_array")
    with pytest.raises(Exception, match="no module 'other'"):
        check_ports(bad, "other")


# -- the CLI ---------------------------------------------------------------------------------
def _cli(argv: list[str]) -> int:
    from trtrl.cli import main

    return main(argv)


def test_regress_rtl_runs_the_scoreboard_on_a_user_design(
    playback: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verilog, _ = playback
    rc = _cli(["regress", "--rtl", str(verilog), "--sim", "icarus", "--steps", str(TINY.steps),
               "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"]["passed"] == 1
    assert (tmp_path / "junit.xml").is_file()
    assert "rtl-trtrl_array" in out and "passed" in out


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["--rtl", "/nonexistent/x.v"], "no such file"),
        (["--rtl", "{bad}"], "lacks port"),
        (["--rtl", "{good}", "--sim", "modelsim"], "unknown simulator 'modelsim'"),
        (["--rtl", "{good}", "--manifest", "/nonexistent.json"], "manifest /nonexistent.json"),
        (["--rtl", "{good}", "--batched"], "not an AXI top"),
    ],
)
def test_regress_user_errors_are_one_line(
    argv: list[str], expect: str, playback: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.v"
    bad.write_text("module trtrl_array(input clk);\nendmodule\n")
    (tmp_path / "trtrl_array.json").write_text(playback[1].read_text())
    argv = [a.format(bad=bad, good=playback[0]) for a in argv]
    rc = _cli(["regress", *argv, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert expect in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_waves_command_draws_a_png(
    playback: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verilog, manifest = playback
    res = run_case(TINY, "icarus", verilog=verilog, manifest=manifest, build_root=tmp_path,
                   waves=True)
    assert res.passed and res.waves
    png = tmp_path / "w.png"
    rc = _cli(["waves", res.waves, "--signals", "s_valid,s_ready,r_valid,r_y,r_e[0],step_count",
               "--from", "3", "--to", "5", "-o", str(png)])
    assert rc == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "steps 3..5" in capsys.readouterr().out
    # the marks agree with the title: the ends of steps 3..5, not of step 2 at the left edge
    from trtrl.cmd_waves import plot_window

    facts = plot_window(Path(res.waves), "r_valid,r_y[0]", 3, 5, None, png)
    ends = rising_edges(read_vcd(Path(res.waves), ["r_valid"]).find("r_valid"))
    assert facts["marked_steps"] == [3, 4, 5] and (facts["first"], facts["last"]) == (3, 5)
    assert facts["t0_ns"] == ends[2] / 1000 and ends[5] / 1000 < facts["t1_ns"] < ends[6] / 1000
    # a step beyond the dump is a one-line error
    assert _cli(["waves", res.waves, "--from", "999"]) == 2
    assert "the dump has 40 steps" in capsys.readouterr().err


def test_waves_command_refuses_fst(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fst = tmp_path / "dump.fst"
    fst.write_bytes(b"\x00\x01binary")
    assert _cli(["waves", str(fst)]) == 2
    err = capsys.readouterr().err
    assert "not a VCD file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("sim", "fmt"), [("verilator", "vcd"), ("verilator", "fst"),
                                          ("icarus", "fst")])
def test_waves_in_every_format(
    sim: str, fmt: str, playback: tuple[Path, Path], tmp_path: Path
) -> None:
    """Both simulators dump the asked-for format beside a GTKWave save file."""
    verilog, manifest = playback
    res = run_case(TINY, sim, verilog=verilog, manifest=manifest, build_root=tmp_path,
                   waves=True, wave_format=fmt)
    assert res.passed, res.message
    dump = Path(res.waves)
    assert dump.suffix == f".{fmt}" and dump.stat().st_size > 0
    head = dump.read_bytes()[:64]
    assert head.lstrip().startswith(b"$") == (fmt == "vcd")
    gtkw = Path(res.gtkw).read_text()
    assert "-Interface" in gtkw and "-Counters" in gtkw
    if fmt == "vcd":
        assert len(rising_edges(read_vcd(dump, ["r_valid"]).find("r_valid"))) == TINY.steps


def _verilator_build_command(tmp_path: Path, public: bool, sources: list[Path]) -> list[str]:
    """The verilator command line the harness's runner would run (nothing is built)."""
    runner = _runner("verilator", "vcd", public)
    seen: list[list[str]] = []
    runner._execute = lambda cmds, cwd: seen.extend(cmds)  # capture instead of running
    runner.build(sources=[str(s) for s in sources], hdl_toplevel="trtrl_array",
                 build_dir=str(tmp_path / "b"), always=True)
    return [str(a) for a in seen[0]]


def test_verilator_build_is_ports_only_unless_asked(playback: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    """Default: no --public-flat-rw, a control file naming exactly the interface's ports."""
    verilog, _ = playback
    vlt = ports_control_file(tmp_path / PORTS_VLT, "trtrl_array", REQUIRED_PORTS)
    names = re.findall(r'public_flat_rw -module "trtrl_array" -var "(\w+)"', vlt.read_text())
    assert names == list(REQUIRED_PORTS)
    ports_only = _verilator_build_command(tmp_path / "p", False, [vlt, verilog])
    assert "--public-flat-rw" not in ports_only and str(vlt) in ports_only
    public = _verilator_build_command(tmp_path / "a", True, [verilog])
    assert "--public-flat-rw" in public


def _vpi_names(build_dir: Path) -> set[str]:
    """Signal names Verilator registered for VPI (its symbol table source)."""
    text = (build_dir / "Vtop__Syms__Slow.cpp").read_text()
    return set(re.findall(r'varInsert\("(\w+)"', text))


@pytest.mark.slow
@pytest.mark.parametrize("public", [False, True], ids=["ports", "public"])
def test_verilator_vpi_sees_what_was_asked(public: bool, playback: tuple[Path, Path],
                                           tmp_path: Path) -> None:
    """Both builds pass; VPI sees the ports only, or every signal with verilator_public."""
    verilog, manifest = playback
    res = run_case(TINY, "verilator", verilog=verilog, manifest=manifest, build_root=tmp_path,
                   waves=False, verilator_public=public)
    assert res.passed, res.message
    assert res.extra["verilator_public"] is public
    assert Path(res.build_dir).name == ("sim-public" if public else "sim")
    names = _vpi_names(Path(res.build_dir))
    if public:
        assert names > set(REQUIRED_PORTS)
    else:
        assert names == set(REQUIRED_PORTS)


def test_random_configs_depend_only_on_their_seed() -> None:
    from trtrl.pymodel.fixed.formats import FixedConfig
    from trtrl.testbenches.configs import random_config, random_configs

    default = random_configs(1234, full=False)
    full = random_configs(1234, full=True)
    assert [c.name for c in default] == ["rand-s1234", "rand-s1235", "rand-s1236"]
    assert all(c.sims == ("icarus",) for c in default)
    assert len(full) == 12 and all(c.sims == ("icarus", "verilator") for c in full)
    # a case drawn as the third of one run is the first of a run started at its seed
    assert random_config(1236) == full[2] and random_configs(1236, True)[0] == full[2]
    for c in full:
        assert 1 <= c.n <= 4 and 0 <= c.m <= 2 and 1 <= c.k <= c.n
        assert 20 <= c.steps <= 30 and c.checkpoint_every == 1
        assert c.learn_steps is not None and len(c.learn_steps) == c.steps
        assert isinstance(c.fixed(), FixedConfig)


def test_tbconfig_defaults_are_the_project_defaults() -> None:
    from trtrl.pymodel.fixed.formats import FixedConfig

    base = FixedConfig()
    for name in ("tiny", "freq15", "mackey25", "freq15_learn"):
        f = CONFIGS[name].fixed()
        assert (f.act, f.weight, f.sens, f.lut_bits) == (base.act, base.weight, base.sens,
                                                         base.lut_bits), name


def test_regress_passes_the_seed_to_pytest(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    import subprocess

    seen: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, **kw: seen.append(cmd) or 0)
    assert _cli(["regress", "--sim", "icarus", "--seed", "77", "-o", str(tmp_path)]) == 0
    cmd = seen[0]
    assert cmd[cmd.index("--tb-seed") + 1] == "77"
