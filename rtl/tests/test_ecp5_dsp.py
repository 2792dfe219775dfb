"""The ECP5 multiplier variant of the RTL (`TRTRL_ECP5_DSP`) and the project's model of it.

`trtrl rtl synth --target ecp5` builds its netlist from the RTL with ``TRTRL_ECP5_DSP``
defined: every product of operands up to 18 bits is a MULT18X18D with its input and output
registers instead of the two written-out register stages. Yosys has only a black box of
that primitive, so ``rtl/cells/ecp5_mult18x18d.v`` models it. Here:

* the model alone against Python's products, for each register configuration the
  netlists use (both, none) and both signednesses, with its latency;
* the model stops a simulation of a configuration it does not cover;
* the variant through the AXI testbench with `trtrl regress --rtl ... --define
  TRTRL_ECP5_DSP --extra-sources <model>`, the command a user types: bit for bit, and a
  variant whose output register is switched off fails the scoreboard (the define took
  effect, and the check sees the primitive's latency).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from trtrl.rtl.config import AXI_TOP, ArrayConfig
from trtrl.rtl.generate import generate
from trtrl.rtl.toolchain import ECP5_DSP_DEFINE, ECP5_DSP_MODEL

needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None,
                                    reason="iverilog not installed (make setup)")

_BITS = 18


def _model_bench(path: Path, params: str, vectors: int) -> None:
    """A bench that clocks ``vectors`` operand pairs from ops.hex through one MULT18X18D
    and prints P after every rising edge."""
    a = ", ".join(f".A{i}(a[{i}]), .B{i}(b[{i}])" for i in range(_BITS))
    p = ", ".join(f".P{i}(p[{i}])" for i in range(36))
    path.write_text(f"""`timescale 1ns/1ps
module tb;
    reg clk = 0, rst = 1, sa = 0, sb = 0;
    reg [17:0] a = 0, b = 0;
    reg [37:0] ops [0:{vectors - 1}];
    wire [35:0] p;
    integer i;
    MULT18X18D #({params}) dut ({a}, .SIGNEDA(sa), .SIGNEDB(sb), .SOURCEA(1'b0),
        .SOURCEB(1'b0), .CLK0(clk), .CE0(1'b1), .RST0(rst), {p});
    initial begin
        $readmemh("ops.hex", ops);
        #1 clk = 1; #1 clk = 0; rst = 0;
        for (i = 0; i < {vectors}; i = i + 1) begin
            {{sa, sb, a, b}} = {{ops[i][37:36], ops[i][35:18], ops[i][17:0]}};
            #1 $display("%h", p);
            clk = 1; #1 clk = 0;
        end
        #1 $display("%h", p);
        $finish;
    end
endmodule
""")


def _simulate(tmp_path: Path, params: str, ops: list[tuple[int, int, int, int]]) -> str:
    """The bench's output for ``ops`` (sign pins and operands) through one MULT18X18D."""
    (tmp_path / "ops.hex").write_text("".join(
        f"{(sa << 37) | (sb << 36) | (a << 18) | b:010x}\n" for sa, sb, a, b in ops))
    _model_bench(tmp_path / "tb.v", params, len(ops))
    subprocess.run(["iverilog", "-g2012", "-o", "tb.vvp", "tb.v", str(ECP5_DSP_MODEL)],
                   cwd=tmp_path, check=True, capture_output=True)
    return subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, capture_output=True,
                          text=True).stdout


def _run_model(tmp_path: Path, params: str, ops: list[tuple[int, int, int, int]]) -> list[int]:
    """P as displayed before each edge (combinational view) and once after the last."""
    out = _simulate(tmp_path, params, ops)
    return [int(x, 16) for x in out.split() if re.fullmatch(r"[0-9a-f]{9}", x)]


def _product(sa: int, sb: int, a: int, b: int) -> int:
    def val(x: int, signed: int) -> int:
        return x - (1 << _BITS) if signed and x >> (_BITS - 1) else x
    return (val(a, sa) * val(b, sb)) % (1 << 36)


def _ops(seed: int, n: int, sa: int, sb: int) -> list[tuple[int, int, int, int]]:
    """Edge operands then random ones, the sign pins held (the netlists tie them)."""
    rng = random.Random(seed)
    edge = [0, 1, (1 << 17) - 1, 1 << 17, (1 << 18) - 1]  # 0, 1, max, min, -1
    ops = [(sa, sb, a, b) for a in edge for b in edge]
    return ops + [(sa, sb, rng.getrandbits(18), rng.getrandbits(18)) for _ in range(n)]


SIGNS = [(0, 0), (0, 1), (1, 0), (1, 1)]


@needs_iverilog
@pytest.mark.parametrize("sa, sb", SIGNS)
def test_model_registered_is_two_edges_late(tmp_path: Path, sa: int, sb: int) -> None:
    """Input and output registers on CLK0: P is the product of the operands applied two
    rising edges earlier, signed or unsigned per pin; zero after the reset."""
    regs = ", ".join(f'.REG_{r}_CLK("CLK0")' for r in ("INPUTA", "INPUTB", "OUTPUT"))
    ops = _ops(1, 100, sa, sb)
    seen = _run_model(tmp_path, regs, ops)
    assert len(seen) == len(ops) + 1
    want = [0, 0] + [_product(*op) for op in ops]
    assert seen == want[:len(seen)]


@needs_iverilog
@pytest.mark.parametrize("sa, sb", SIGNS)
def test_model_without_registers_is_combinational(tmp_path: Path, sa: int, sb: int) -> None:
    """The configuration synth_ecp5 infers for wide products: P = A x B at once."""
    ops = _ops(2, 100, sa, sb)
    seen = _run_model(tmp_path, '.REG_INPUTA_CLK("NONE")', ops)
    assert seen[:len(ops)] == [_product(*op) for op in ops]


@needs_iverilog
def test_model_refuses_what_it_does_not_cover(tmp_path: Path) -> None:
    """A pipeline register is not modelled: the simulation stops at time 0 saying so."""
    out = _simulate(tmp_path, '.REG_PIPELINE_CLK("CLK0")', [(0, 0, 0, 0)])
    assert "configuration this model does not cover" in out
    assert not re.search(r"^[0-9a-f]{9}$", out, flags=re.M), "it simulated on"


# -- the RTL variant through the AXI testbench ----------------------------------------------
@pytest.fixture(scope="module")
def lanes2_rtl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """N=5, K=2 on P=2 lanes (three groups, the last padded), default formats: every
    product but the wide forward ones is a MULT18X18D under the define."""
    out = tmp_path_factory.mktemp("dsp") / "rtl"
    generate(ArrayConfig(5, 1, 2, lanes=2), out, AXI_TOP)
    return out


def _regress(trtrl_cmd: list[str], folder: Path, out: str, *extra: str
             ) -> subprocess.CompletedProcess[str]:
    """The user's command, from the folder above with relative paths."""
    return subprocess.run([*trtrl_cmd, "regress", "--rtl", f"{folder.name}/trtrl_axi.v",
                           "--define", ECP5_DSP_DEFINE, "--extra-sources",
                           str(ECP5_DSP_MODEL), "--sim", "icarus", "--steps", "8",
                           "--checkpoint-every", "4", "-o", out, *extra],
                          cwd=folder.parent, capture_output=True, text=True, timeout=900)


@needs_iverilog
def test_dsp_variant_passes_scoreboard(lanes2_rtl: Path, trtrl_cmd: list[str]) -> None:
    text = (lanes2_rtl / "trtrl_axi.v").read_text()
    assert len(re.findall(r"^MULT18X18D #", text, flags=re.M)) >= 4 * 2, \
        "each lane's four products should have a MULT18X18D variant"
    proc = _regress(trtrl_cmd, lanes2_rtl, "reg_dsp")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed, 0 failed" in proc.stdout


@needs_iverilog
def test_dsp_variant_with_wrong_latency_fails(lanes2_rtl: Path, trtrl_cmd: list[str]) -> None:
    """Each MULT18X18D without its output register: one cycle early, a mismatch."""
    bad = lanes2_rtl.parent / "rtl_bad"
    bad.mkdir(exist_ok=True)
    text = (lanes2_rtl / "trtrl_axi.v").read_text()
    mutated = text.replace('.REG_OUTPUT_CLK("CLK0")', '.REG_OUTPUT_CLK("NONE")')
    assert mutated != text
    (bad / "trtrl_axi.v").write_text(mutated)
    shutil.copy(lanes2_rtl / "trtrl_axi.json", bad / "trtrl_axi.json")
    proc = _regress(trtrl_cmd, bad, "reg_bad")
    assert proc.returncode != 0
    assert "SCOREBOARD MISMATCH" in proc.stdout + proc.stderr


def test_bad_define_is_one_line(tmp_path: Path, trtrl_cmd: list[str]) -> None:
    (tmp_path / "x.v").write_text("module x; endmodule\n")
    proc = subprocess.run([*trtrl_cmd, "regress", "--rtl", "x.v", "--define", "1BAD",
                           "-o", "out"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "1BAD" in proc.stderr
    assert not (tmp_path / "out").exists()
